build-dev/lib/ring.o: lib/ring.c lib/ring.h lib/event.h lib/jscan.h \
 lib/buf.h lib/err.h lib/mem.h
lib/ring.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
lib/mem.h:
