build-dev/runtime/responder_opts.o: runtime/responder_opts.c \
 runtime/responder.h lib/err.h runtime/fcgi_accept.h lib/fcgi_req.h \
 runtime/fcgi_conn.h runtime/loop.h runtime/sendq.h lib/blob.h \
 runtime/hub.h lib/cursor.h lib/event.h lib/jscan.h lib/buf.h lib/err.h \
 runtime/sockauth.h lib/conf.h lib/mem.h
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
lib/mem.h:
