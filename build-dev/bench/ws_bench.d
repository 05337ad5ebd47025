build-dev/bench/ws_bench.o: bench/ws_bench.c runtime/sig.h
runtime/sig.h:
