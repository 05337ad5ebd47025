build-dev/test/runtime/loop.o: runtime/loop.c runtime/loop.h lib/err.h \
 lib/mem.h lib/test.h
runtime/loop.h:
lib/err.h:
lib/mem.h:
lib/test.h:
