build-dev/bench/loadgen.o: bench/loadgen.c bench/lg.h
bench/lg.h:
