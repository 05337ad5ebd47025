/*  jscan: a strict JSON (RFC 8259) scanner for the hot paths.
 *
 *  jansson builds a tree for every value; the broker only needs to know
 *  that an event's `data` is valid JSON and to copy it compactly.  jscan
 *  walks the text once, checks the grammar (strings, escapes, surrogate
 *  pairs, UTF-8, numbers, literals, nesting up to FP_JSCAN_DEPTH) and
 *  appends the value with insignificant whitespace removed.  Errors say
 *  at which byte and why.
 */
#ifndef FP_JSCAN_H
#define FP_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define FP_JSCAN_DEPTH 64

typedef struct {
    const char *start;          /*  the whole text  */
    const char *p;              /*  current position  */
    const char *end;            /*  one past the last byte  */
    char *err;                  /*  caller's FP_ERR_LEN buffer  */
    int in_key;                 /*  scanning an object key  */
} fp_jscan_t;

/*  Start scanning text[0..len); errors go to err.  */
void fp_jscan_init(fp_jscan_t *s, const char *text, size_t len, char *err);

/*  Skip whitespace.  */
void fp_jscan_ws(fp_jscan_t *s);

/*  After whitespace, true (and consumed) if the next byte is c.  */
bool fp_jscan_accept(fp_jscan_t *s, char c);

/*  Like accept, but -1 with an error naming `c` when it is not there.  */
int fp_jscan_expect(fp_jscan_t *s, char c);

/*  One value: validated, and appended compactly to out (if not NULL).  */
int fp_jscan_value(fp_jscan_t *s, fp_buf_t *out, int depth);

/*  One string: validated; its decoded content (UTF-8, escapes resolved)
 *  appended to out when not NULL.  */
int fp_jscan_string(fp_jscan_t *s, fp_buf_t *out);

/*  0 if only whitespace is left.  */
int fp_jscan_end(fp_jscan_t *s);

/*  Record an error at the current position ("invalid JSON at byte N:
 *  what").  Returns -1.  */
int fp_jscan_fail(fp_jscan_t *s, const char *what);

/*  Validate a whole text as one value and append it compactly.  */
int fp_jscan_compact(const char *text, size_t len, fp_buf_t *out, char *err);

#endif
