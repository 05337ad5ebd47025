/*  fcgi_record: FastCGI records written by the responders themselves.
 *
 *  After the hand-over (fcgi_accept.h) a responder owns the connection and writes
 *  whole records: FCGI_STDOUT with the response, then an empty FCGI_STDOUT
 *  and FCGI_END_REQUEST.  Content is split at 65535 bytes and padded to a
 *  multiple of 8, as the FastCGI specification recommends.
 */
#ifndef FP_FCGI_RECORD_H
#define FP_FCGI_RECORD_H

#include <stddef.h>

#include "buf.h"

/*  Append data as FCGI_STDOUT record(s) for request `rid`.  */
void fp_fcgi_record_stdout(fp_buf_t *b, int rid, const void *data, size_t len);

/*  Append the end of a response: empty FCGI_STDOUT, FCGI_END_REQUEST with
 *  protocol status REQUEST_COMPLETE and `app_status`.  */
void fp_fcgi_record_end(fp_buf_t *b, int rid, int app_status);

/*  Append a whole response: "Status: CODE REASON", the header lines
 *  (each "Name: value\r\n", may be NULL), Content-Length, the body, and
 *  the end records.  */
void fp_fcgi_record_response(fp_buf_t *b, int rid, int status, const char *headers,
                      const char *body, size_t len);

/*  The reason phrase of an HTTP status ("Not Found").  */
const char *fp_http_reason(int status);

#endif
