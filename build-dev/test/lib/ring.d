build-dev/test/lib/ring.o: lib/ring.c lib/ring.h lib/event.h lib/jscan.h \
 lib/buf.h lib/err.h lib/mem.h lib/test.h
lib/ring.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
lib/mem.h:
lib/test.h:
