build-dev/bench/lg_pub.o: bench/lg_pub.c bench/lg.h
bench/lg.h:
