/*  fcgi_parse: a whole FastCGI responder request read from memory (see
 *  fcgi_parse.h).  */
#include "fcgi_parse.h"
#include "fcgi_record.h"
#include "mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ROLE_RESPONDER 1

/*  One name or value length of a pair: 1 byte, or 4 with the top bit.  */
static int
s_len(const uint8_t **p, const uint8_t *end, size_t *out)
{
    const uint8_t *q = *p;
    if (q >= end)
        return -1;
    if (!(q[0] & 0x80)) {
        *out = q[0];
        *p = q + 1;
        return 0;
    }
    if (end - q < 4)
        return -1;
    *out = (size_t) (q[0] & 0x7f) << 24 | (size_t) q[1] << 16 |
           (size_t) q[2] << 8 | q[3];
    *p = q + 4;
    return 0;
}

/*  FCGI_ROLE=RESPONDER (as libfcgi puts first), then the name-value pairs
 *  of the whole PARAMS stream as "NAME=value" strings.  -1 when a pair
 *  runs past the end, holds a NUL or has '=' in its name (its value
 *  would be read as another parameter's).  */
static int
s_pairs(const fp_buf_t *params, fp_fcgi_req_t *r)
{
    const uint8_t *p = (const uint8_t *) params->data;
    const uint8_t *end = p + params->len;
    int cap = 32;
    r->env = fp_malloc((size_t) cap * sizeof *r->env);
    r->env[r->nenv++] = fp_strdup("FCGI_ROLE=RESPONDER");   /*  libfcgi's  */
    r->env[r->nenv] = NULL;
    while (p < end) {
        size_t nl, vl;
        if (s_len(&p, end, &nl) < 0 || s_len(&p, end, &vl) < 0 ||
            nl == 0 || (size_t) (end - p) < nl ||
            (size_t) (end - p) - nl < vl ||
            memchr(p, '\0', nl + vl) != NULL || memchr(p, '=', nl) != NULL)
            return -1;
        if (r->nenv + 1 >= cap) {
            cap *= 2;
            r->env = fp_realloc(r->env, (size_t) cap * sizeof *r->env);
        }
        char *s = fp_malloc(nl + vl + 2);
        memcpy(s, p, nl);
        s[nl] = '=';
        memcpy(s + nl + 1, p + nl, vl);
        s[nl + vl + 1] = '\0';
        r->env[r->nenv++] = s;
        r->env[r->nenv] = NULL;
        p += nl + vl;
    }
    return 0;
}

/*  Append STDIN content to the body, up to max_body.  */
static void
s_body(fp_fcgi_req_t *r, fp_buf_t *body, size_t max_body, const char *c,
       size_t n)
{
    size_t room = max_body > body->len ? max_body - body->len : 0;
    if (n > room)
        r->body_too_large = true;
    fp_buf_add(body, c, n < room ? n : room);
}

/*  Free what a failed parse filled.  */
static int
s_fail(fp_fcgi_req_t *r, fp_buf_t *params, fp_buf_t *body)
{
    for (int i = 0; i < r->nenv; i++)
        free(r->env[i]);
    free(r->env);
    r->env = NULL;
    r->nenv = 0;
    r->body_too_large = false;
    fp_buf_free(params);
    fp_buf_free(body);
    return -1;
}

int
fp_fcgi_parse(const void *data, size_t len, size_t max_body,
              fp_fcgi_req_t *r)
{
    enum { BEGIN, PARAMS, STDIN } at = BEGIN;
    const char *d = data, *c;
    size_t off = 0, n;
    int type, rid, id = -1;
    fp_buf_t params, body;

    fp_buf_init(&params);
    fp_buf_init(&body);
    r->env = NULL;
    r->nenv = 0;
    r->body_too_large = false;
    for (;;) {
        long rec = fp_fcgi_record_next(d + off, len - off, &type, &rid, &c,
                                       &n);
        if (rec <= 0)
            return s_fail(r, &params, &body);   /*  cut short, or not v1  */
        off += (size_t) rec;
        if (at == BEGIN) {
            const uint8_t *b = (const uint8_t *) c;
            if (type != FP_FCGI_BEGIN_REQUEST || rid == 0 || n != 8 ||
                (b[0] << 8 | b[1]) != ROLE_RESPONDER)
                return s_fail(r, &params, &body);
            id = rid;
            at = PARAMS;
        } else if (rid != id) {
            return s_fail(r, &params, &body);   /*  multiplexed: libfcgi  */
        } else if (at == PARAMS && type == FP_FCGI_PARAMS) {
            fp_buf_add(&params, c, n);
            if (n == 0)
                at = STDIN;
        } else if (at == STDIN && type == FP_FCGI_STDIN) {
            if (n == 0)
                break;
            s_body(r, &body, max_body, c, n);
        } else {
            return s_fail(r, &params, &body);
        }
    }
    if (off != len || s_pairs(&params, r) < 0)
        return s_fail(r, &params, &body);
    fp_buf_free(&params);
    r->body_len = body.len;
    r->body = fp_buf_detach(&body, NULL);
    r->rid = id;
    return 0;
}

#ifdef FP_TEST
#include "test.h"

#include <stdio.h>

/*  A record of `type` for rid with content c[0..n).  */
static void
s_t_record(fp_buf_t *b, int type, int rid, const void *c, size_t n)
{
    uint8_t h[8] = { 1, (uint8_t) type, (uint8_t) (rid >> 8), (uint8_t) rid,
                     (uint8_t) (n >> 8), (uint8_t) n, 0, 0 };
    fp_buf_add(b, h, 8);
    fp_buf_add(b, c, n);
}

/*  A whole responder request whose parameters are one PARAMS record of
 *  raw pair bytes p[0..n): begin, params, their end, the end of STDIN.  */
static void
s_t_pairs(fp_buf_t *b, const char *p, size_t n)
{
    const uint8_t begin[8] = { 0, 1, 1, 0, 0, 0, 0, 0 };
    fp_buf_reset(b);
    s_t_record(b, FP_FCGI_BEGIN_REQUEST, 1, begin, 8);
    s_t_record(b, FP_FCGI_PARAMS, 1, p, n);
    s_t_record(b, FP_FCGI_PARAMS, 1, "", 0);
    s_t_record(b, FP_FCGI_STDIN, 1, "", 0);
}

static int
s_t_parse(const fp_buf_t *b, size_t max_body, fp_fcgi_req_t *r)
{
    memset(r, 0, sizeof *r);
    return fp_fcgi_parse(b->data, b->len, max_body, r);
}

static void
s_t_clear(fp_fcgi_req_t *r)
{
    for (int i = 0; i < r->nenv; i++)
        free(r->env[i]);
    free(r->env);
    free(r->body);
    memset(r, 0, sizeof *r);
}

void
fp_fcgi_parse_test(void)
{
    const char *env[] = { "REQUEST_METHOD=POST", "QUERY_STRING=a=1&b",
                          "EMPTY=", NULL };
    fp_fcgi_req_t r;
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_request(&b, 7, env, "{\"k\":1}", 7);
    FP_CHECK(s_t_parse(&b, 1024, &r) == 0 && r.rid == 7 && r.nenv == 4 &&
             strcmp(r.env[0], "FCGI_ROLE=RESPONDER") == 0 &&
             strcmp(r.env[2], "QUERY_STRING=a=1&b") == 0 &&
             strcmp(r.env[3], "EMPTY=") == 0 && !r.env[4] &&
             r.body_len == 7 && strcmp(r.body, "{\"k\":1}") == 0 &&
             !r.body_too_large, "a request: id, parameters, body");
    s_t_clear(&r);
    FP_CHECK(s_t_parse(&b, 3, &r) == 0 && r.body_len == 3 &&
             r.body_too_large && strcmp(r.body, "{\"k") == 0,
             "a body over max_body: its first bytes and too large");
    s_t_clear(&r);
    for (size_t cut = 0; cut < b.len; cut += 5) {
        memset(&r, 0, sizeof r);
        if (fp_fcgi_parse(b.data, cut, 1024, &r) != -1 || r.env) {
            FP_CHECK(false, "a request cut short is refused");
            break;
        }
    }
    FP_CHECK(true, "every cut-short prefix is refused, nothing kept");
    fp_buf_add(&b, "x", 1);
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "bytes after the request");

    /*  long names and values use 4-byte lengths  */
    char value[300];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    memcpy(value, "LONG=", 5);
    const char *long_env[] = { value, NULL };
    fp_buf_reset(&b);
    fp_fcgi_record_request(&b, 1, long_env, NULL, 0);
    FP_CHECK(s_t_parse(&b, 1024, &r) == 0 && r.nenv == 2 &&
             strcmp(r.env[1], value) == 0 && r.body_len == 0 &&
             r.body && r.body[0] == '\0', "a 4-byte value length, no body");
    s_t_clear(&r);

    /*  what is left to libfcgi  */
    const uint8_t begin_auth[8] = { 0, 2, 0, 0, 0, 0, 0, 0 };
    fp_buf_reset(&b);
    s_t_record(&b, FP_FCGI_BEGIN_REQUEST, 1, begin_auth, 8);
    s_t_record(&b, FP_FCGI_PARAMS, 1, "", 0);
    s_t_record(&b, FP_FCGI_STDIN, 1, "", 0);
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "another role (authorizer)");
    const uint8_t begin[8] = { 0, 1, 1, 0, 0, 0, 0, 0 };
    fp_buf_reset(&b);
    s_t_record(&b, 9, 0, "\001\000", 2);        /*  FCGI_GET_VALUES  */
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "a management record");
    fp_buf_reset(&b);
    s_t_record(&b, FP_FCGI_BEGIN_REQUEST, 1, begin, 8);
    s_t_record(&b, FP_FCGI_PARAMS, 2, "", 0);
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "another request id");
    s_t_pairs(&b, "\005\001NAME", 6);     /*  short  */
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1 && !r.env,
             "a pair past the end of the parameters");
    s_t_pairs(&b, "\001\001A\000", 4);
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "a NUL in a value");
    s_t_pairs(&b, "\003\001A=Bx", 6);
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "'=' in a name");
    fp_buf_reset(&b);
    s_t_record(&b, FP_FCGI_BEGIN_REQUEST, 1, begin, 8);
    s_t_record(&b, FP_FCGI_STDIN, 1, "x", 1);
    FP_CHECK(s_t_parse(&b, 1024, &r) == -1, "STDIN before the parameters "
             "ended");
    /*  parameters split over records, the pair across the split  */
    fp_buf_reset(&b);
    s_t_record(&b, FP_FCGI_BEGIN_REQUEST, 1, begin, 8);
    s_t_record(&b, FP_FCGI_PARAMS, 1, "\003\002AB", 4);
    s_t_record(&b, FP_FCGI_PARAMS, 1, "Cxy", 3);
    s_t_record(&b, FP_FCGI_PARAMS, 1, "", 0);
    s_t_record(&b, FP_FCGI_STDIN, 1, "", 0);
    FP_CHECK(s_t_parse(&b, 1024, &r) == 0 && r.nenv == 2 &&
             strcmp(r.env[1], "ABC=xy") == 0,
             "a pair split across two PARAMS records");
    s_t_clear(&r);
    fp_buf_free(&b);
}
#endif
