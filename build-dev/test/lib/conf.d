build-dev/test/lib/conf.o: lib/conf.c lib/conf.h lib/err.h lib/mem.h \
 lib/test.h
lib/conf.h:
lib/err.h:
lib/mem.h:
lib/test.h:
