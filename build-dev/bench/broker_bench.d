build-dev/bench/broker_bench.o: bench/broker_bench.c
