build-dev/runtime/args.o: runtime/args.c runtime/args.h lib/conf.h \
 lib/err.h lib/err.h runtime/log.h
runtime/args.h:
lib/conf.h:
lib/err.h:
lib/err.h:
runtime/log.h:
