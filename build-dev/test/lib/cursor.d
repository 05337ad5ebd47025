build-dev/test/lib/cursor.o: lib/cursor.c lib/cursor.h lib/conf.h \
 lib/err.h lib/test.h
lib/cursor.h:
lib/conf.h:
lib/err.h:
lib/test.h:
