build-dev/cli/tail.o: cli/tail.c cli/cli.h lib/event.h lib/jscan.h \
 lib/buf.h lib/err.h runtime/sockauth.h lib/conf.h lib/err.h \
 runtime/hub.h lib/cursor.h runtime/sockauth.h runtime/log.h
cli/cli.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/err.h:
runtime/hub.h:
lib/cursor.h:
runtime/sockauth.h:
runtime/log.h:
