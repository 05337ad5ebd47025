build-dev/runtime/fcgi_conn.o: runtime/fcgi_conn.c runtime/fcgi_conn.h \
 runtime/fcgi_accept.h lib/err.h lib/fcgi_req.h runtime/loop.h \
 runtime/sendq.h lib/blob.h lib/buf.h lib/clock.h lib/fcgi_record.h \
 lib/buf.h runtime/log.h lib/mem.h
runtime/fcgi_conn.h:
runtime/fcgi_accept.h:
lib/err.h:
lib/fcgi_req.h:
runtime/loop.h:
runtime/sendq.h:
lib/blob.h:
lib/buf.h:
lib/clock.h:
lib/fcgi_record.h:
lib/buf.h:
runtime/log.h:
lib/mem.h:
