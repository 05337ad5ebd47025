build-dev/test/lib/wal.o: lib/wal.c lib/wal.h lib/buf.h lib/cursor.h \
 lib/conf.h lib/err.h lib/test.h
lib/wal.h:
lib/buf.h:
lib/cursor.h:
lib/conf.h:
lib/err.h:
lib/test.h:
