build-dev/test/lib/rate.o: lib/rate.c lib/rate.h lib/test.h
lib/rate.h:
lib/test.h:
