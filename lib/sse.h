/*  sse: Server-Sent Events encoding (WHATWG HTML, "Server-sent events").
 *
 *  Data is split at every CR, LF or CRLF into several `data:` lines, so a
 *  payload can never start a new field or end the event early; `id` and
 *  `event` values are refused when they contain CR, LF or NUL, so no caller
 *  can inject fields.
 */
#ifndef FP_SSE_H
#define FP_SSE_H

#include <stddef.h>

#include "buf.h"

/*  Append one event: "id: ID\n" (if id), "event: TYPE\n" (if type), one
 *  "data: LINE\n" per line of data, then the blank line.  Returns -1 (and
 *  appends nothing) if id or type contain CR, LF or NUL.  */
int fp_sse_event(fp_buf_t *b, const char *id, const char *type,
                 const char *data, size_t len);

/*  Append a comment (": text\n\n"); each line of text becomes a comment
 *  line.  Used for heartbeats.  */
void fp_sse_comment(fp_buf_t *b, const char *text);

/*  Append "retry: MS\n\n".  */
void fp_sse_retry(fp_buf_t *b, unsigned ms);

#endif
