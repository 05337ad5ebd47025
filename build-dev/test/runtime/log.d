build-dev/test/runtime/log.o: runtime/log.c runtime/log.h lib/test.h
runtime/log.h:
lib/test.h:
