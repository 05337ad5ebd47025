build-dev/test/runtime/hub_member.o: runtime/hub_member.c \
 runtime/hub_int.h runtime/hub.h lib/cursor.h lib/err.h lib/event.h \
 lib/jscan.h lib/buf.h lib/err.h runtime/sockauth.h lib/conf.h \
 lib/error.h lib/mem.h
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
lib/mem.h:
