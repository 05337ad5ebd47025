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

/*  Record types (FastCGI specification, section 8).  */
#define FP_FCGI_BEGIN_REQUEST 1
#define FP_FCGI_END_REQUEST 3
#define FP_FCGI_PARAMS 4
#define FP_FCGI_STDIN 5
#define FP_FCGI_STDOUT 6

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

/*  The first whole record of data[0..len): its type, request id and
 *  content (borrowed from data).  Returns the record's length with its
 *  padding, 0 when data holds no whole record yet, -1 when it is not a
 *  version 1 record.  */
long fp_fcgi_record_next(const void *data, size_t len, int *type, int *rid,
                         const char **content, size_t *clen);

#ifdef FP_TEST
/*  The web server's side, for the self-tests of the modules that take
 *  FastCGI connections (fcgi_accept, fcgi_conn, responder).  */

/*  Append a whole responder request: FCGI_BEGIN_REQUEST, the "NAME=value"
 *  strings of env (NULL-terminated) as FCGI_PARAMS and the empty one,
 *  the body as FCGI_STDIN (if len) and the empty one.  */
void fp_fcgi_record_request(fp_buf_t *b, int rid, const char *const *env,
                            const void *body, size_t len);

#endif

#endif
