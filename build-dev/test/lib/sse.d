build-dev/test/lib/sse.o: lib/sse.c lib/sse.h lib/buf.h lib/test.h
lib/sse.h:
lib/buf.h:
lib/test.h:
