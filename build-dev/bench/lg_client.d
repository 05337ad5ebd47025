build-dev/bench/lg_client.o: bench/lg_client.c bench/lg.h
bench/lg.h:
