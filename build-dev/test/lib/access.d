build-dev/test/lib/access.o: lib/access.c lib/access.h lib/rights.h \
 lib/conf.h lib/err.h lib/fcgi_req.h lib/clock.h lib/event.h lib/jscan.h \
 lib/buf.h lib/http.h lib/mem.h lib/rate.h lib/test.h
lib/access.h:
lib/rights.h:
lib/conf.h:
lib/err.h:
lib/fcgi_req.h:
lib/clock.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/http.h:
lib/mem.h:
lib/rate.h:
lib/test.h:
