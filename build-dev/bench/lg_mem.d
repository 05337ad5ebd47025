build-dev/bench/lg_mem.o: bench/lg_mem.c bench/lg.h
bench/lg.h:
