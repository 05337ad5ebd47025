build-dev/runtime/sendq.o: runtime/sendq.c runtime/sendq.h lib/blob.h \
 lib/mem.h
runtime/sendq.h:
lib/blob.h:
lib/mem.h:
