/*  http: reading HTTP requests from FastCGI parameters (see http.h).  */
#include "http.h"
#include "event.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
s_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int
fp_url_decode(const char *in, size_t len, bool plus, fp_buf_t *out)
{
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= len)
                return -1;
            int hi = s_hex(in[i + 1]), lo = s_hex(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return -1;
            fp_buf_addc(out, (char) (hi * 16 + lo));
            i += 2;
        } else if (c == '\0') {
            return -1;
        } else {
            fp_buf_addc(out, plus && c == '+' ? ' ' : c);
        }
    }
    return 0;
}

void
fp_url_encode(const char *in, size_t len, fp_buf_t *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char) in[i];
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
            c == '~') {
            fp_buf_addc(out, (char) c);
        } else {
            fp_buf_addc(out, '%');
            fp_buf_addc(out, hex[c >> 4]);
            fp_buf_addc(out, hex[c & 15]);
        }
    }
}

static char *
s_decode(const char *in, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    if (fp_url_decode(in, len, true, &b) < 0) {
        fp_buf_free(&b);
        return NULL;
    }
    return fp_buf_detach(&b, NULL);
}

int
fp_query_parse(const char *qs, int max_params, fp_query_t *q, char *err)
{
    q->items = NULL;
    q->count = 0;
    for (const char *p = qs ? qs : ""; *p;) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t) (amp - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t nlen = eq ? (size_t) (eq - p) : len;
        if (len > 0) {
            if (q->count >= max_params) {
                snprintf(err, FP_ERR_LEN, "more than %d query parameters",
                         max_params);
                return -1;
            }
            char *name = s_decode(p, nlen);
            char *value = eq ? s_decode(eq + 1, len - nlen - 1)
                             : fp_strdup("");
            if (!name || !value) {
                free(name);
                free(value);
                snprintf(err, FP_ERR_LEN, "malformed percent-encoding in the "
                         "query string");
                return -1;
            }
            q->items = fp_realloc(q->items, (size_t) (q->count + 1) *
                                  sizeof *q->items);
            q->items[q->count++] = (fp_kv_t) { name, value };
        }
        p += len + (amp ? 1 : 0);
    }
    return 0;
}

const char *
fp_query_get(const fp_query_t *q, const char *name)
{
    for (int i = 0; i < q->count; i++)
        if (strcmp(q->items[i].name, name) == 0)
            return q->items[i].value;
    return NULL;
}

void
fp_query_free(fp_query_t *q)
{
    for (int i = 0; i < q->count; i++) {
        free(q->items[i].name);
        free(q->items[i].value);
    }
    free(q->items);
    q->items = NULL;
    q->count = 0;
}

char *
fp_http_path(const fp_fcgi_req_t *req, char *err)
{
    const char *uri = fp_fcgi_req_param(req, "REQUEST_URI");
    fp_buf_t b;
    fp_buf_init(&b);
    if (uri) {
        size_t len = strcspn(uri, "?#");
        if (fp_url_decode(uri, len, false, &b) < 0)
            goto bad;
    } else {
        const char *sn = fp_fcgi_req_param(req, "SCRIPT_NAME");
        const char *pi = fp_fcgi_req_param(req, "PATH_INFO");
        fp_buf_adds(&b, sn ? sn : "");
        fp_buf_adds(&b, pi ? pi : "");
    }
    if (b.len == 0)
        fp_buf_addc(&b, '/');
    return fp_buf_detach(&b, NULL);
bad:
    fp_buf_free(&b);
    snprintf(err, FP_ERR_LEN, "malformed percent-encoding in the path");
    return NULL;
}

const char *
fp_http_below(const char *path, const char *prefix)
{
    size_t n = strlen(prefix);
    while (n > 0 && prefix[n - 1] == '/')
        n--;
    if (strncmp(path, prefix, n) != 0)
        return NULL;
    if (path[n] == '\0' || path[n] == '/')
        return path + n;
    return NULL;
}

int
fp_http_channels(const char *list, fp_strlist_t *names, int max, char *err)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            if (!fp_channel_valid(p, len)) {
                snprintf(err, FP_ERR_LEN, "invalid channel name '%.*s': 1 to "
                         "%d characters of A-Z a-z 0-9 _ . : @ ~ = + -",
                         (int) (len > 64 ? 64 : len), p, FP_CHANNEL_MAX);
                return -1;
            }
            bool dup = false;
            for (int i = 0; i < names->count && !dup; i++)
                dup = strlen(names->items[i]) == len &&
                      memcmp(names->items[i], p, len) == 0;
            if (!dup) {
                if (names->count >= max) {
                    snprintf(err, FP_ERR_LEN, "more than %d channels", max);
                    return -1;
                }
                char *name = fp_strndup(p, len);
                fp_strlist_add(names, name);
                free(name);
            }
        }
        p += len + (p[len] == ',' ? 1 : 0);
    }
    return 0;
}

bool
fp_http_cors(const char *origin, const fp_strlist_t *allowed,
             bool credentials, bool star_credentials, fp_buf_t *headers)
{
    bool star = false;
    if (!origin || !*origin || strpbrk(origin, "\r\n"))
        return false;
    for (int i = 0; i < allowed->count; i++) {
        if (strcmp(allowed->items[i], "*") == 0) {
            star = true;
            continue;
        }
        if (strcmp(allowed->items[i], origin) != 0)
            continue;
        star_credentials = credentials;
        star = true;
        break;
    }
    if (!star)
        return false;
    if (!star_credentials) {
        fp_buf_adds(headers, "Access-Control-Allow-Origin: *\r\n");
        return true;
    }
    fp_buf_addf(headers, "Access-Control-Allow-Origin: %s\r\n"
                "Vary: Origin\r\n", origin);
    fp_buf_adds(headers, "Access-Control-Allow-Credentials: true\r\n");
    return true;
}

bool
fp_http_etag_match(const char *inm, const char *etag)
{
    size_t n = strlen(etag);
    for (const char *p = inm ? inm : ""; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == '*')
            return true;
        if (p[0] == 'W' && p[1] == '/')
            p += 2;
        if (*p != '"')
            return false;
        const char *end = strchr(p + 1, '"');
        if (!end)
            return false;
        if ((size_t) (end - p - 1) == n && strncmp(p + 1, etag, n) == 0)
            return true;
        p = end + 1;
    }
    return false;
}

#ifdef FP_TEST
#include "test.h"

void
fp_http_test(void)
{
    fp_buf_t b;
    char err[FP_ERR_LEN];
    fp_buf_init(&b);
    FP_CHECK(fp_url_decode("a%20b+c%2C", 10, true, &b) == 0 &&
             strcmp(b.data, "a b c,") == 0, "percent and plus");
    fp_buf_reset(&b);
    FP_CHECK(fp_url_decode("%2", 2, true, &b) == -1, "short escape");
    FP_CHECK(fp_url_decode("%zz", 3, true, &b) == -1, "bad hex");
    FP_CHECK(fp_url_decode("a%00b", 5, true, &b) == -1, "decoded NUL");
    fp_buf_reset(&b);
    fp_url_encode("https://e.com/{id}?a b~\xc3\xa9", 25, &b);
    FP_CHECK(strcmp(b.data, "https%3A%2F%2Fe.com%2F%7Bid%7D%3Fa%20b~%C3%A9")
             == 0, "encode: reserved, space and UTF-8 bytes escaped");
    fp_buf_reset(&b);
    fp_url_encode("", 0, &b);
    FP_CHECK(b.len == 0, "encode: empty");
    fp_buf_free(&b);

    fp_query_t q;
    FP_CHECK(fp_query_parse("channel=a&channel=b%2Cc&since=&x", 10, &q,
                            err) == 0 && q.count == 4, "query parse");
    FP_CHECK(strcmp(fp_query_get(&q, "channel"), "a") == 0 &&
             strcmp(q.items[1].value, "b,c") == 0 &&
             strcmp(fp_query_get(&q, "since"), "") == 0 &&
             strcmp(fp_query_get(&q, "x"), "") == 0 &&
             !fp_query_get(&q, "y"), "query values");
    fp_query_free(&q);
    FP_CHECK(fp_query_parse("a=1&b=2&c=3", 2, &q, err) == -1 &&
             strstr(err, "more than 2"), "parameter limit");
    fp_query_free(&q);
    FP_CHECK(fp_query_parse("a=%", 10, &q, err) == -1, "bad escape");
    fp_query_free(&q);

    FP_CHECK(strcmp(fp_http_below("/events/a,b", "/events"), "/a,b") == 0,
             "below prefix");
    FP_CHECK(strcmp(fp_http_below("/events", "/events/"), "") == 0,
             "exact prefix");
    FP_CHECK(fp_http_below("/eventsx", "/events") == NULL, "not below");

    fp_strlist_t names = { 0 };
    FP_CHECK(fp_http_channels("a,b,,a", &names, 5, err) == 0 &&
             names.count == 2, "channel list, duplicates skipped");
    FP_CHECK(fp_http_channels("c d", &names, 5, err) == -1 &&
             strstr(err, "invalid channel"), "invalid channel");
    FP_CHECK(fp_http_channels("c,d,e,f", &names, 5, err) == -1 &&
             strstr(err, "more than 5"), "too many channels");
    fp_strlist_free(&names);

    fp_strlist_t allow = { 0 };
    fp_strlist_add(&allow, "https://app.example");
    fp_buf_init(&b);
    FP_CHECK(fp_http_cors("https://app.example", &allow, true, false, &b) &&
             strstr(b.data, "Access-Control-Allow-Origin: https://app.example"),
             "allowed origin");
    FP_CHECK(!fp_http_cors("https://evil.example", &allow, true, false, &b),
             "other origin");
    FP_CHECK(!fp_http_cors("https://app.example\r\nX: y", &allow, true, false,
                           &b),
             "header injection refused");
    fp_strlist_add(&allow, "*");
    fp_buf_reset(&b);
    FP_CHECK(fp_http_cors("https://x.example", &allow, true, false, &b) &&
             strstr(b.data, "Allow-Origin: *\r\n") &&
             !strstr(b.data, "Credentials"), "* without credentials");
    fp_buf_reset(&b);
    FP_CHECK(fp_http_cors("https://app.example", &allow, true, false, &b) &&
             strstr(b.data, "Credentials: true"),
             "a listed origin keeps credentials beside *");
    fp_buf_reset(&b);
    FP_CHECK(fp_http_cors("https://x.example", &allow, true, true, &b) &&
             strstr(b.data, "Origin: https://x.example") &&
             strstr(b.data, "Credentials: true"), "* with credentials (auth "
             "off)");
    fp_buf_free(&b);
    fp_strlist_free(&allow);
    FP_CHECK(fp_http_etag_match("\"e-5\"", "e-5"), "etag match");
    FP_CHECK(fp_http_etag_match("\"x\", W/\"e-5\"", "e-5"), "etag list, weak");
    FP_CHECK(fp_http_etag_match("*", "e-5"), "etag star");
    FP_CHECK(!fp_http_etag_match("\"e-50\"", "e-5"), "etag mismatch");
    FP_CHECK(!fp_http_etag_match("e-5", "e-5"), "unquoted is not a tag");
    FP_CHECK(!fp_http_etag_match(NULL, "e-5"), "no header");
}
#endif
