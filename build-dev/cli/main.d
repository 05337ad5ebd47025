build-dev/cli/main.o: cli/main.c cli/cli.h lib/event.h lib/jscan.h \
 lib/buf.h lib/err.h runtime/sockauth.h lib/conf.h lib/err.h \
 runtime/log.h lib/mem.h
cli/cli.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/err.h:
runtime/log.h:
lib/mem.h:
