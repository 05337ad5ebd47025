/*  fcgi_parse: a whole FastCGI responder request read from memory.
 *
 *  fcgi_gather (runtime) holds every request's bytes before it is handed
 *  on.  When they are one plain responder request (FCGI_BEGIN_REQUEST
 *  with the responder role, the FCGI_PARAMS stream to its empty record,
 *  the FCGI_STDIN stream to its empty record, all of one request id and
 *  nothing after), this reads them into an fp_fcgi_req_t itself: no copy
 *  into a memfd for libfcgi, no hop to an acceptor thread.  Anything
 *  else (management records, another role, a cut-short stream, a
 *  malformed pair, trailing bytes) is left to libfcgi, which answers or
 *  refuses it as before.
 */
#ifndef FP_FCGI_PARSE_H
#define FP_FCGI_PARSE_H

#include <stddef.h>

#include "fcgi_req.h"

/*  Read the request in data[0..len) into r: its rid, env ("NAME=value",
 *  NULL-terminated, FCGI_ROLE=RESPONDER first as libfcgi has it), nenv, body (NUL-terminated, at most max_body bytes:
 *  body_too_large past that) and body_len, all owned by r; r->fd is not
 *  touched.  0, or -1 (r holds nothing) when it is not one plain
 *  responder request.  */
int fp_fcgi_parse(const void *data, size_t len, size_t max_body,
                  fp_fcgi_req_t *r);

#endif
