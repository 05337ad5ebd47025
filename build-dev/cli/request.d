build-dev/cli/request.o: cli/request.c cli/cli.h lib/event.h lib/jscan.h \
 lib/buf.h lib/err.h runtime/sockauth.h lib/conf.h lib/err.h lib/error.h \
 lib/json.h
cli/cli.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/err.h:
lib/error.h:
lib/json.h:
