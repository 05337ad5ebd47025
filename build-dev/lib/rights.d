build-dev/lib/rights.o: lib/rights.c lib/rights.h lib/conf.h lib/err.h \
 lib/event.h lib/jscan.h lib/buf.h lib/json.h lib/mem.h
lib/rights.h:
lib/conf.h:
lib/err.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/json.h:
lib/mem.h:
