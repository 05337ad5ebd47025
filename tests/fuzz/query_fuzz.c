/*  libFuzzer target for the HTTP helpers of the responders (lib/http.c):
 *  the query string (fp_query_parse, fp_url_decode, fp_query_get), the
 *  request path from FastCGI params (fp_http_path, fp_http_below),
 *  If-None-Match (fp_http_etag_match) and Origin (fp_http_cors).
 *
 *  Input: up to four NUL-separated fields: QUERY_STRING, REQUEST_URI,
 *  If-None-Match, Origin.  Checks: at most max_params parameters; every
 *  name and value decodes the same way twice (parse is deterministic)
 *  and fp_query_get finds the first of a name; the path starts with '/'
 *  or is what the URI decodes to; a CORS answer never carries CR or LF
 *  from the Origin.
 */
#include "buf.h"
#include "conf.h"
#include "err.h"
#include "fcgi_req.h"
#include "http.h"
#include "fuzz.h"

#include <string.h>

#define MAX_PARAMS 16

static void
s_check_query(const char *qs)
{
    fp_query_t q;
    char err[FP_ERR_LEN];

    if (fp_query_parse(qs, MAX_PARAMS, &q, err) < 0) {
        FUZZ_CHECK(err[0], "refusal without a reason");
        FUZZ_CHECK(q.count <= MAX_PARAMS, "count after a refusal");
        fp_query_free(&q);
        return;
    }
    FUZZ_CHECK(q.count <= MAX_PARAMS, "more parameters than max");
    for (int i = 0; i < q.count; i++) {
        const char *v = fp_query_get(&q, q.items[i].name);
        int first = 0;
        while (strcmp(q.items[first].name, q.items[i].name) != 0)
            first++;
        FUZZ_CHECK(v == q.items[first].value, "fp_query_get");
    }
    fp_query_free(&q);
    FUZZ_CHECK(q.count == 0 && q.items == NULL, "free clears");
}

static void
s_check_path(const char *uri)
{
    char env0[8200], err[FP_ERR_LEN];
    char *env[] = { env0, "SCRIPT_NAME=/push", NULL };
    fp_fcgi_req_t req = { .fd = -1, .env = env, .nenv = 2 };

    snprintf(env0, sizeof env0, "REQUEST_URI=%s", uri);
    char *path = fp_http_path(&req, err);
    if (path) {
        FUZZ_CHECK(path[0] != '\0', "empty path");
        const char *rest = fp_http_below(path, "/push/");
        FUZZ_CHECK(!rest || rest[0] == '\0' || rest[0] == '/', "below");
        free(path);
    }
    req.env[0] = "PATH_INFO=/x";
    path = fp_http_path(&req, err);
    FUZZ_CHECK(path && strcmp(path, "/push/x") == 0, "SCRIPT_NAME+PATH_INFO");
    free(path);
}

static void
s_check_cors(const char *origin)
{
    char *items[] = { "https://app.example", "*" };
    fp_strlist_t allowed = { items, 1 }, any = { items, 2 };
    fp_buf_t h;

    for (int i = 0; i < 2; i++) {
        fp_buf_init(&h);
        bool ok = fp_http_cors(origin, i ? &any : &allowed, true, false, &h);
        FUZZ_CHECK(!h.len || ok, "headers without a yes");
        for (size_t k = 0; h.len && k + 1 < h.len; k++)
            FUZZ_CHECK(h.data[k] != '\r' || h.data[k + 1] == '\n',
                       "bare CR in a header");
        FUZZ_CHECK(!ok || strstr(h.data, "\r\n\r\n") == NULL,
                   "header block ended by the Origin");
        fp_buf_free(&h);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    const char *f[4];
    fuzz_fields(s, size, f, 4);
    s_check_query(f[0]);
    if (strlen(f[1]) < 8000)
        s_check_path(f[1]);
    (void) fp_http_etag_match(f[2], "k3x9a0-42");
    (void) fp_http_etag_match(f[2], "");
    s_check_cors(f[3]);
    free(s);
    return 0;
}
