build-dev/lib/cursor.o: lib/cursor.c lib/cursor.h lib/conf.h lib/err.h
lib/cursor.h:
lib/conf.h:
lib/err.h:
