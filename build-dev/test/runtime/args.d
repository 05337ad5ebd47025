build-dev/test/runtime/args.o: runtime/args.c runtime/args.h lib/conf.h \
 lib/err.h lib/err.h runtime/log.h lib/test.h
runtime/args.h:
lib/conf.h:
lib/err.h:
lib/err.h:
runtime/log.h:
lib/test.h:
