build-dev/test/lib/mem.o: lib/mem.c lib/mem.h lib/test.h
lib/mem.h:
lib/test.h:
