build-dev/test/lib/error.o: lib/error.c lib/error.h lib/buf.h lib/json.h \
 lib/test.h
lib/error.h:
lib/buf.h:
lib/json.h:
lib/test.h:
