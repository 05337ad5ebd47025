build-dev/test/lib/event.o: lib/event.c lib/event.h lib/jscan.h lib/buf.h \
 lib/err.h lib/conf.h lib/cursor.h lib/json.h lib/mem.h lib/test.h
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
lib/conf.h:
lib/cursor.h:
lib/json.h:
lib/mem.h:
lib/test.h:
