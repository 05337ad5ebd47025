build-dev/lib/buf.o: lib/buf.c lib/buf.h lib/mem.h
lib/buf.h:
lib/mem.h:
