build-dev/fcgi-poll/route.o: fcgi-poll/route.c fcgi-poll/polld.h \
 runtime/responder.h lib/err.h runtime/fcgi_accept.h lib/fcgi_req.h \
 runtime/fcgi_conn.h runtime/loop.h runtime/sendq.h lib/blob.h \
 runtime/hub.h lib/cursor.h lib/event.h lib/jscan.h lib/buf.h lib/err.h \
 runtime/sockauth.h lib/conf.h lib/access.h lib/rights.h lib/conf.h \
 lib/fcgi_req.h lib/buf.h runtime/fcgi_conn.h lib/http.h lib/json.h \
 lib/mem.h
fcgi-poll/polld.h:
runtime/responder.h:
lib/err.h:
runtime/fcgi_accept.h:
lib/fcgi_req.h:
runtime/fcgi_conn.h:
runtime/loop.h:
runtime/sendq.h:
lib/blob.h:
runtime/hub.h:
lib/cursor.h:
lib/event.h:
lib/jscan.h:
lib/buf.h:
lib/err.h:
runtime/sockauth.h:
lib/conf.h:
lib/access.h:
lib/rights.h:
lib/conf.h:
lib/fcgi_req.h:
lib/buf.h:
runtime/fcgi_conn.h:
lib/http.h:
lib/json.h:
lib/mem.h:
