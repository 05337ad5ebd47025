build-dev/lib/mem.o: lib/mem.c lib/mem.h
lib/mem.h:
