/*  error: the one error shape of every surface.
 *
 *  Whatever refuses a request says so with the same two members, in this
 *  order:
 *
 *      "error":CODE,"message":TEXT
 *
 *  CODE is a short snake_case word for programs (docs/protocol.md, "Error
 *  codes", lists them all); TEXT is one line for people.  The broker's
 *  ERROR META, an HTTP error body, the data of an SSE `error` or
 *  `auth-expired` event and a WebSocket `{"type":"error",...}` message
 *  all carry them, so one reader serves every transport.
 */
#ifndef FP_ERROR_H
#define FP_ERROR_H

#include <jansson.h>

#include "buf.h"

/*  Append the two members `"error":CODE,"message":TEXT` (no braces; msg
 *  NULL = "").  */
void fp_error_append(fp_buf_t *b, const char *code, const char *msg);

/*  Append a whole error object `{"error":CODE,"message":TEXT}`.  */
void fp_error_object(fp_buf_t *b, const char *code, const char *msg);

/*  Set the two members on obj (which the caller keeps owning).  */
void fp_error_set(json_t *obj, const char *code, const char *msg);

/*  An error object's code and message (borrowed from obj), or NULL.  */
const char *fp_error_code(const json_t *obj);
const char *fp_error_message(const json_t *obj);

/*  The HTTP status that answers a request the broker (or the hub on its
 *  way there) refused with `code`: 400 for bad input, 413, 409 for full
 *  tables, 503 when the broker cannot take it now, 502 for anything
 *  else.  */
int fp_error_http_status(const char *code);

#endif
