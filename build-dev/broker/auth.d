build-dev/broker/auth.o: broker/auth.c broker/broker.h lib/buf.h \
 lib/cursor.h lib/event.h lib/jscan.h lib/buf.h lib/err.h \
 runtime/sockauth.h lib/conf.h lib/err.h lib/ring.h lib/event.h lib/wal.h \
 lib/cursor.h lib/clock.h lib/mem.h lib/rate.h
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
lib/clock.h:
lib/mem.h:
lib/rate.h:
