build-dev/test/runtime/sockauth.o: runtime/sockauth.c runtime/sockauth.h \
 lib/conf.h lib/err.h lib/err.h lib/mem.h
runtime/sockauth.h:
lib/conf.h:
lib/err.h:
lib/err.h:
lib/mem.h:
