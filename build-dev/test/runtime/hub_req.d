build-dev/test/runtime/hub_req.o: runtime/hub_req.c runtime/hub_int.h \
 runtime/hub.h lib/cursor.h lib/err.h lib/event.h lib/jscan.h lib/buf.h \
 lib/err.h runtime/sockauth.h lib/conf.h lib/error.h lib/json.h \
 runtime/log.h lib/mem.h
runtime/hub_int.h:
runtime/hub.h:
lib/cursor.h:
lib/err.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/error.h:
lib/json.h:
runtime/log.h:
lib/mem.h:
