build-dev/test/runtime/sendq.o: runtime/sendq.c runtime/sendq.h \
 lib/blob.h lib/mem.h lib/test.h
runtime/sendq.h:
lib/blob.h:
lib/mem.h:
lib/test.h:
