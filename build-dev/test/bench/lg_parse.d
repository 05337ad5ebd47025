build-dev/test/bench/lg_parse.o: bench/lg_parse.c bench/lg.h lib/test.h
bench/lg.h:
lib/test.h:
