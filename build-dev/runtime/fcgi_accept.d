build-dev/runtime/fcgi_accept.o: runtime/fcgi_accept.c \
 runtime/fcgi_accept.h lib/err.h lib/fcgi_req.h lib/mem.h
runtime/fcgi_accept.h:
lib/err.h:
lib/fcgi_req.h:
lib/mem.h:
