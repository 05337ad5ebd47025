build-dev/test/lib/json.o: lib/json.c lib/json.h lib/buf.h lib/conf.h \
 lib/err.h lib/test.h
lib/json.h:
lib/buf.h:
lib/conf.h:
lib/err.h:
lib/test.h:
