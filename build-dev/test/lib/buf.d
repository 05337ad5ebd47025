build-dev/test/lib/buf.o: lib/buf.c lib/buf.h lib/mem.h lib/test.h
lib/buf.h:
lib/mem.h:
lib/test.h:
