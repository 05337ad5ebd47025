build-dev/lib/http.o: lib/http.c lib/http.h lib/buf.h lib/conf.h \
 lib/err.h lib/fcgi_req.h lib/event.h lib/jscan.h lib/mem.h
lib/http.h:
lib/buf.h:
lib/conf.h:
lib/err.h:
lib/fcgi_req.h:
lib/event.h:
lib/jscan.h:
lib/mem.h:
