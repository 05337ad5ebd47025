build-dev/test/runtime/sig.o: runtime/sig.c runtime/sig.h
runtime/sig.h:
