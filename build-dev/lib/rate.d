build-dev/lib/rate.o: lib/rate.c lib/rate.h
lib/rate.h:
