build-dev/ws-bridge/main.o: ws-bridge/main.c ws-bridge/wsb.h lib/access.h \
 lib/rights.h lib/conf.h lib/err.h lib/fcgi_req.h lib/buf.h lib/conf.h \
 runtime/hub.h lib/cursor.h lib/err.h lib/event.h lib/jscan.h lib/buf.h \
 runtime/sockauth.h runtime/loop.h runtime/sendq.h lib/blob.h lib/rate.h \
 lib/utf8.h runtime/args.h lib/clock.h runtime/log.h lib/mem.h \
 runtime/sig.h
ws-bridge/wsb.h:
lib/access.h:
lib/rights.h:
lib/conf.h:
lib/err.h:
lib/fcgi_req.h:
lib/buf.h:
lib/conf.h:
runtime/hub.h:
lib/cursor.h:
lib/err.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
runtime/sockauth.h:
runtime/loop.h:
runtime/sendq.h:
lib/blob.h:
lib/rate.h:
lib/utf8.h:
runtime/args.h:
lib/clock.h:
runtime/log.h:
lib/mem.h:
runtime/sig.h:
