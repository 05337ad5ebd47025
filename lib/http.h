/*  http: reading HTTP requests as FastCGI hands them over.
 *
 *  Query strings ("a=1&channel=x&channel=y", percent-decoded, '+' as
 *  space), the request path below a configured prefix, channel lists
 *  ("a,b" in a path segment or in repeated parameters), and CORS
 *  decisions against an allowlist of origins.  Every function checks its
 *  input and says what is wrong; nothing here writes a response.
 */
#ifndef FP_HTTP_H
#define FP_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "conf.h"
#include "fcgi_req.h"

typedef struct {
    char *name;                 /*  decoded, owned  */
    char *value;                /*  decoded, owned  */
} fp_kv_t;

typedef struct {
    fp_kv_t *items;
    int count;
} fp_query_t;

/*  Decode %XX escapes (and '+' as space when `plus`) of in[0..len) into
 *  out.  -1 on a malformed escape or a decoded NUL.  */
int fp_url_decode(const char *in, size_t len, bool plus, fp_buf_t *out);

/*  Append in[0..len) to out with every byte but RFC 3986's unreserved
 *  (A-Z a-z 0-9 - . _ ~) percent-encoded, in upper-case hex (an RFC 6570
 *  simple expansion).  */
void fp_url_encode(const char *in, size_t len, fp_buf_t *out);

/*  Parse a query string into q (release with fp_query_free).  At most
 *  max_params parameters.  -1 with err.  */
int fp_query_parse(const char *qs, int max_params, fp_query_t *q, char *err);

/*  First value of a parameter (borrowed) or NULL.  */
const char *fp_query_get(const fp_query_t *q, const char *name);

/*  Free what q owns.  */
void fp_query_free(fp_query_t *q);

/*  The request path (from REQUEST_URI, else SCRIPT_NAME + PATH_INFO),
 *  percent-decoded, without the query.  Caller frees.  NULL with err.  */
char *fp_http_path(const fp_fcgi_req_t *req, char *err);

/*  If path is `prefix` or starts with `prefix` + "/", the rest after the
 *  prefix (borrowed, "" or "/...").  NULL if it is outside.  */
const char *fp_http_below(const char *path, const char *prefix);

/*  A list of channel names: add every comma-separated name of `list` to
 *  names (owned strings), skipping duplicates.  -1 with err for an
 *  invalid name or more than max in total.  */
int fp_http_channels(const char *list, fp_strlist_t *names, int max,
                     char *err);

/*  CORS.  An origin listed in `allowed` gets Access-Control-Allow-Origin
 *  (that origin), Vary: Origin and, with `credentials`,
 *  Access-Control-Allow-Credentials: true.  One that only "*" admits gets
 *  the same when `star_credentials`, else a bare
 *  Access-Control-Allow-Origin: * (it may read with a token of its own,
 *  never with the user's cookies or login).  Returns true if headers were
 *  added.  */
bool fp_http_cors(const char *origin, const fp_strlist_t *allowed,
                  bool credentials, bool star_credentials, fp_buf_t *headers);

/*  True if an If-None-Match value (a list of entity tags, "*", weak
 *  W/"..." forms) matches the entity tag value `etag` (without quotes).  */
bool fp_http_etag_match(const char *if_none_match, const char *etag);

#endif
