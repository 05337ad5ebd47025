build-dev/runtime/responder.o: runtime/responder.c runtime/responder.h \
 lib/err.h runtime/fcgi_accept.h lib/fcgi_req.h runtime/fcgi_conn.h \
 runtime/loop.h runtime/sendq.h lib/blob.h runtime/hub.h lib/cursor.h \
 lib/event.h lib/jscan.h lib/buf.h lib/err.h runtime/sockauth.h \
 lib/conf.h lib/clock.h runtime/log.h lib/mem.h runtime/sig.h
runtime/responder.h:
lib/err.h:
runtime/fcgi_accept.h:
lib/fcgi_req.h:
runtime/fcgi_conn.h:
runtime/loop.h:
runtime/sendq.h:
lib/blob.h:
runtime/hub.h:
lib/cursor.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/clock.h:
runtime/log.h:
lib/mem.h:
runtime/sig.h:
