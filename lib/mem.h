/*  mem: allocation that never returns NULL.
 *
 *  Out of memory is not a condition a push server can recover from in the
 *  middle of a fan-out, so every allocation in fastpush goes through these
 *  wrappers, which abort with a message (lighttpd's ck_malloc).  Callers
 *  never check for NULL.
 */
#ifndef FP_MEM_H
#define FP_MEM_H

#include <stddef.h>

/*  malloc() that aborts on failure.  Caller owns the result (free()).  */
void *fp_malloc(size_t size);

/*  calloc() that aborts on failure.  Caller owns the result (free()).  */
void *fp_calloc(size_t n, size_t size);

/*  realloc() that aborts on failure.  The old pointer is no longer valid;
 *  use the returned one.  */
void *fp_realloc(void *ptr, size_t size);

/*  strdup() that aborts on failure.  Caller owns the result.  */
char *fp_strdup(const char *s);

/*  strndup() that aborts on failure.  Caller owns the result.  */
char *fp_strndup(const char *s, size_t n);

#endif
