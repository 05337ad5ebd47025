build-dev/cli/commands.o: cli/commands.c cli/cli.h lib/event.h \
 lib/jscan.h lib/buf.h lib/err.h runtime/sockauth.h lib/conf.h lib/err.h \
 lib/json.h lib/mem.h
cli/cli.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/err.h:
lib/json.h:
lib/mem.h:
