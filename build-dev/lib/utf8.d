build-dev/lib/utf8.o: lib/utf8.c lib/utf8.h
lib/utf8.h:
