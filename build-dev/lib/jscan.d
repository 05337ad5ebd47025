build-dev/lib/jscan.o: lib/jscan.c lib/jscan.h lib/buf.h lib/err.h \
 lib/utf8.h
lib/jscan.h:
lib/buf.h:
lib/err.h:
lib/utf8.h:
