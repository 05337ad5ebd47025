build-dev/test/lib/blob.o: lib/blob.c lib/blob.h lib/mem.h
lib/blob.h:
lib/mem.h:
