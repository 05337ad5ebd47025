build-dev/runtime/loop.o: runtime/loop.c runtime/loop.h lib/err.h \
 lib/mem.h
runtime/loop.h:
lib/err.h:
lib/mem.h:
