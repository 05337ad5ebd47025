build-dev/test/lib/fcgi_record.o: lib/fcgi_record.c lib/fcgi_record.h \
 lib/buf.h lib/test.h
lib/fcgi_record.h:
lib/buf.h:
lib/test.h:
