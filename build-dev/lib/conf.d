build-dev/lib/conf.o: lib/conf.c lib/conf.h lib/err.h lib/mem.h
lib/conf.h:
lib/err.h:
lib/mem.h:
