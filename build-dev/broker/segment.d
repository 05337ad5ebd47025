build-dev/broker/segment.o: broker/segment.c broker/broker.h lib/buf.h \
 lib/cursor.h lib/event.h lib/jscan.h lib/buf.h lib/err.h \
 runtime/sockauth.h lib/conf.h lib/err.h lib/ring.h lib/event.h lib/wal.h \
 lib/cursor.h runtime/log.h
broker/broker.h:
lib/buf.h:
lib/cursor.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/err.h:
lib/ring.h:
lib/event.h:
lib/wal.h:
lib/cursor.h:
runtime/log.h:
