/*  fcgi_record: FastCGI record encoding (see fcgi_record.h).  */
#include "fcgi_record.h"

#include <stdint.h>
#include <string.h>

#define FCGI_VERSION_1 1
#define FCGI_REQUEST_COMPLETE 0
#define FCGI_MAX_CONTENT 65535

static void
s_header(fp_buf_t *b, int type, int rid, size_t len, size_t pad)
{
    unsigned char h[8] = {
        FCGI_VERSION_1, (unsigned char) type,
        (unsigned char) ((rid >> 8) & 0xff), (unsigned char) (rid & 0xff),
        (unsigned char) ((len >> 8) & 0xff), (unsigned char) (len & 0xff),
        (unsigned char) pad, 0
    };
    fp_buf_add(b, h, 8);
}

static void
s_record(fp_buf_t *b, int type, int rid, const void *data, size_t len)
{
    static const char zeros[8] = { 0 };
    size_t pad = (8 - len % 8) % 8;
    fp_buf_reserve(b, 8 + len + pad);
    s_header(b, type, rid, len, pad);
    fp_buf_add(b, data, len);
    fp_buf_add(b, zeros, pad);
}

/*  data as records of `type`, split at FCGI_MAX_CONTENT.  */
static void
s_records(fp_buf_t *b, int type, int rid, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        size_t n = len > FCGI_MAX_CONTENT ? FCGI_MAX_CONTENT : len;
        s_record(b, type, rid, p, n);
        p += n;
        len -= n;
    }
}

void
fp_fcgi_record_stdout(fp_buf_t *b, int rid, const void *data, size_t len)
{
    s_records(b, FP_FCGI_STDOUT, rid, data, len);
}

void
fp_fcgi_record_end(fp_buf_t *b, int rid, int app_status)
{
    uint32_t st = (uint32_t) app_status;
    unsigned char body[8] = {
        (unsigned char) (st >> 24), (unsigned char) (st >> 16),
        (unsigned char) (st >> 8), (unsigned char) st,
        FCGI_REQUEST_COMPLETE, 0, 0, 0
    };
    s_record(b, FP_FCGI_STDOUT, rid, "", 0);
    s_record(b, FP_FCGI_END_REQUEST, rid, body, sizeof body);
}

const char *
fp_http_reason(int status)
{
    static const struct { int code; const char *text; } r[] = {
        { 200, "OK" }, { 202, "Accepted" }, { 204, "No Content" },
        { 304, "Not Modified" }, { 400, "Bad Request" },
        { 401, "Unauthorized" }, { 403, "Forbidden" }, { 404, "Not Found" },
        { 405, "Method Not Allowed" }, { 409, "Conflict" },
        { 413, "Content Too Large" }, { 414, "URI Too Long" },
        { 415, "Unsupported Media Type" }, { 422, "Unprocessable Content" },
        { 429, "Too Many Requests" }, { 431, "Request Header Fields Too Large" },
        { 500, "Internal Server Error" }, { 502, "Bad Gateway" },
        { 503, "Service Unavailable" }, { 504, "Gateway Timeout" },
    };
    for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
        if (r[i].code == status)
            return r[i].text;
    return "Unknown";
}

void
fp_fcgi_record_response(fp_buf_t *b, int rid, int status, const char *headers,
                 const char *body, size_t len)
{
    fp_buf_t head;
    fp_buf_init(&head);
    fp_buf_addf(&head, "Status: %d %s\r\n%sContent-Length: %zu\r\n\r\n",
                status, fp_http_reason(status), headers ? headers : "", len);
    fp_fcgi_record_stdout(b, rid, head.data, head.len);
    if (len)
        fp_fcgi_record_stdout(b, rid, body, len);
    fp_fcgi_record_end(b, rid, 0);
    fp_buf_free(&head);
}

long
fp_fcgi_record_next(const void *data, size_t len, int *type, int *rid,
                    const char **content, size_t *clen)
{
    const unsigned char *h = data;
    if (len < 8)
        return 0;
    if (h[0] != FCGI_VERSION_1)
        return -1;
    size_t n = (size_t) h[4] << 8 | h[5], total = 8 + n + h[6];
    if (len < total)
        return 0;
    *type = h[1];
    *rid = h[2] << 8 | h[3];
    *content = (const char *) data + 8;
    *clen = n;
    return (long) total;
}

#ifdef FP_TEST
#include "test.h"

/*  A name-value pair length: one byte below 128, else four with the
 *  high bit set.  */
static void
s_nv_len(fp_buf_t *b, size_t n)
{
    unsigned char l[4] = { (unsigned char) ((n >> 24) | 0x80),
                           (unsigned char) (n >> 16), (unsigned char) (n >> 8),
                           (unsigned char) n };
    if (n < 128)
        fp_buf_addc(b, (char) n);
    else
        fp_buf_add(b, l, 4);
}

void
fp_fcgi_record_request(fp_buf_t *b, int rid, const char *const *env,
                       const void *body, size_t len)
{
    static const unsigned char begin[8] = { 0, 1, 0 };   /*  responder  */
    fp_buf_t p;
    fp_buf_init(&p);
    for (int i = 0; env && env[i]; i++) {
        const char *eq = strchr(env[i], '=');
        size_t nlen = eq ? (size_t) (eq - env[i]) : strlen(env[i]);
        const char *value = eq ? eq + 1 : "";
        s_nv_len(&p, nlen);
        s_nv_len(&p, strlen(value));
        fp_buf_add(&p, env[i], nlen);
        fp_buf_adds(&p, value);
    }
    s_record(b, FP_FCGI_BEGIN_REQUEST, rid, begin, sizeof begin);
    if (p.len)
        s_record(b, FP_FCGI_PARAMS, rid, p.data, p.len);
    s_record(b, FP_FCGI_PARAMS, rid, "", 0);
    s_records(b, FP_FCGI_STDIN, rid, body, len);
    s_record(b, FP_FCGI_STDIN, rid, "", 0);
    fp_buf_free(&p);
}

void
fp_fcgi_record_test(void)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_stdout(&b, 1, "hello", 5);
    const unsigned char want[] = { 1, 6, 0, 1, 0, 5, 3, 0,
                                   'h', 'e', 'l', 'l', 'o', 0, 0, 0 };
    FP_CHECK(b.len == 16 && memcmp(b.data, want, 16) == 0,
             "stdout record with padding");
    fp_buf_reset(&b);
    char big[70000];
    memset(big, 'a', sizeof big);
    fp_fcgi_record_stdout(&b, 258, big, sizeof big);
    const unsigned char *p = (const unsigned char *) b.data;
    FP_CHECK(p[2] == 1 && p[3] == 2 && p[4] == 0xff && p[5] == 0xff &&
             p[6] == 1, "split at 65535, request id big-endian");
    size_t second = 8 + 65535 + 1;
    FP_CHECK(b.len == second + 8 + 4465 + 7 &&
             p[second + 4] * 256 + p[second + 5] == 4465, "second record");
    fp_buf_reset(&b);
    fp_fcgi_record_end(&b, 1, 0);
    FP_CHECK(b.len == 24 &&
             b.data[1] == 6 && b.data[5] == 0 && b.data[9] == 3 &&
             b.data[13] == 8, "end records");
    fp_buf_reset(&b);
    fp_fcgi_record_response(&b, 1, 404, "Content-Type: text/plain\r\n", "nope", 4);
    FP_CHECK(strstr(b.data + 8, "Status: 404 Not Found\r\n"
                    "Content-Type: text/plain\r\nContent-Length: 4\r\n\r\n")
             != NULL, "response head");

    /*  the test client's side: a request parses back record by record  */
    fp_buf_reset(&b);
    const char *env[] = { "REQUEST_METHOD=POST", "QUERY_STRING=", NULL };
    char value[200];
    memset(value, 'v', sizeof value - 1);
    value[sizeof value - 1] = '\0';
    fp_fcgi_record_request(&b, 3, env, "{}", 2);
    int type, rid, types[8], n = 0;
    const char *c;
    size_t clen, off = 0;
    long rec;
    while (n < 8 && (rec = fp_fcgi_record_next(b.data + off, b.len - off,
                                               &type, &rid, &c, &clen)) > 0) {
        FP_CHECK(rid == 3 && rec % 8 == 0, "request records: id, padding");
        if (type == FP_FCGI_PARAMS && clen)
            FP_CHECK(clen == 2 + 14 + 4 + 2 + 12 &&
                     memcmp(c, "\016\004REQUEST_METHODPOST\014\000"
                            "QUERY_STRING", clen) == 0, "params pairs");
        types[n++] = type;
        off += (size_t) rec;
    }
    FP_CHECK(off == b.len && n == 5 && types[0] == FP_FCGI_BEGIN_REQUEST &&
             types[1] == FP_FCGI_PARAMS && types[2] == FP_FCGI_PARAMS &&
             types[3] == FP_FCGI_STDIN && types[4] == FP_FCGI_STDIN,
             "begin, params, end of params, stdin, end of stdin");
    FP_CHECK(fp_fcgi_record_next(b.data, 7, &type, &rid, &c, &clen) == 0 &&
             fp_fcgi_record_next(b.data, 15, &type, &rid, &c, &clen) == 0,
             "a partial record is waited for");
    FP_CHECK(fp_fcgi_record_next("\002\001\000\001\000\000\000\000", 8,
                                 &type, &rid, &c, &clen) == -1,
             "not version 1");
    fp_buf_reset(&b);
    const char *long_env[] = { value, NULL };
    value[3] = '=';                     /*  "vvv=" and a 195-byte value  */
    fp_fcgi_record_request(&b, 1, long_env, NULL, 0);
    FP_CHECK(fp_fcgi_record_next(b.data + 16, b.len - 16, &type, &rid, &c,
                                 &clen) > 0 && type == FP_FCGI_PARAMS &&
             clen == 1 + 4 + 3 + 195 && (unsigned char) c[1] == 0x80 &&
             (unsigned char) c[4] == 195, "a long value's 4-byte length");
    fp_buf_free(&b);
}
#endif
