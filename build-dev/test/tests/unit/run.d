build-dev/test/tests/unit/run.o: tests/unit/run.c lib/test.h
lib/test.h:
