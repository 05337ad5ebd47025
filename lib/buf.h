/*  buf: a growable byte buffer.
 *
 *  Used to build replies, SSE records, WebSocket frames and JSON text.  The
 *  buffer owns its bytes; `data` is always NUL-terminated past `len` so it
 *  can be handed to string functions.
 */
#ifndef FP_BUF_H
#define FP_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct {
    char *data;                 /*  bytes, NUL after the last one  */
    size_t len;                 /*  bytes in use  */
    size_t cap;                 /*  bytes allocated  */
} fp_buf_t;

/*  Initialise an empty buffer (no allocation yet).  */
void fp_buf_init(fp_buf_t *b);

/*  Free the bytes; the buffer is empty and reusable afterwards.  */
void fp_buf_free(fp_buf_t *b);

/*  Forget the content, keep the allocation.  */
void fp_buf_reset(fp_buf_t *b);

/*  Make room for `extra` more bytes (plus the NUL).  */
void fp_buf_reserve(fp_buf_t *b, size_t extra);

/*  Append bytes, a NUL-terminated string, one character, or printf text.  */
void fp_buf_add(fp_buf_t *b, const void *data, size_t len);
void fp_buf_adds(fp_buf_t *b, const char *s);
void fp_buf_addc(fp_buf_t *b, char c);
void fp_buf_addf(fp_buf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*  Remove the first `n` bytes (consumed output).  */
void fp_buf_consume(fp_buf_t *b, size_t n);

/*  Hand the bytes to the caller (who must free() them) and reset the
 *  buffer.  Returns an empty string rather than NULL.  */
char *fp_buf_detach(fp_buf_t *b, size_t *len);

#endif
