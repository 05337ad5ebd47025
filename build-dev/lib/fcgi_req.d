build-dev/lib/fcgi_req.o: lib/fcgi_req.c lib/fcgi_req.h
lib/fcgi_req.h:
