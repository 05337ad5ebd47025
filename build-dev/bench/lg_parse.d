build-dev/bench/lg_parse.o: bench/lg_parse.c bench/lg.h
bench/lg.h:
