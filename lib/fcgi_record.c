/*  fcgi_record: FastCGI record encoding (see fcgi_record.h).  */
#include "fcgi_record.h"

#include <stdint.h>
#include <string.h>

#define FCGI_VERSION_1 1
#define FCGI_END_REQUEST 3
#define FCGI_STDOUT 6
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

void
fp_fcgi_record_stdout(fp_buf_t *b, int rid, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        size_t n = len > FCGI_MAX_CONTENT ? FCGI_MAX_CONTENT : len;
        s_record(b, FCGI_STDOUT, rid, p, n);
        p += n;
        len -= n;
    }
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
    s_record(b, FCGI_STDOUT, rid, "", 0);
    s_record(b, FCGI_END_REQUEST, rid, body, sizeof body);
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

#ifdef FP_TEST
#include "test.h"

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
    fp_buf_free(&b);
}
#endif
