/*  jscan: a strict JSON scanner (see jscan.h).  */
#include "jscan.h"
#include "utf8.h"

#include <stdio.h>
#include <string.h>

void
fp_jscan_init(fp_jscan_t *s, const char *text, size_t len, char *err)
{
    s->start = s->p = text;
    s->end = text + len;
    s->err = err;
    s->in_key = 0;
}

int
fp_jscan_fail(fp_jscan_t *s, const char *what)
{
    snprintf(s->err, FP_ERR_LEN, "invalid JSON at byte %zu: %s",
             (size_t) (s->p - s->start), what);
    return -1;
}

void
fp_jscan_ws(fp_jscan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n'
                             || *s->p == '\r'))
        s->p++;
}

bool
fp_jscan_accept(fp_jscan_t *s, char c)
{
    fp_jscan_ws(s);
    if (s->p < s->end && *s->p == c) {
        s->p++;
        return true;
    }
    return false;
}

int
fp_jscan_expect(fp_jscan_t *s, char c)
{
    char what[32];
    if (fp_jscan_accept(s, c))
        return 0;
    snprintf(what, sizeof what, "'%c' expected", c);
    return fp_jscan_fail(s, s->p < s->end ? what : "unexpected end");
}

int
fp_jscan_end(fp_jscan_t *s)
{
    fp_jscan_ws(s);
    return s->p == s->end ? 0 : fp_jscan_fail(s, "trailing bytes");
}

static int
s_hex4(fp_jscan_t *s, unsigned *out)
{
    unsigned v = 0;
    if (s->end - s->p < 4)
        return fp_jscan_fail(s, "short \\u escape");
    for (int i = 0; i < 4; i++) {
        char c = s->p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned) (c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned) (c - 'A' + 10);
        else
            return fp_jscan_fail(s, "bad hex digit in \\u escape");
    }
    s->p += 4;
    *out = v;
    return 0;
}

static void
s_put_utf8(fp_buf_t *out, unsigned cp)
{
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char) cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char) (0xC0 | (cp >> 6));
        b[1] = (char) (0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char) (0xE0 | (cp >> 12));
        b[1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char) (0x80 | (cp & 0x3F));
        n = 3;
    } else {
        b[0] = (char) (0xF0 | (cp >> 18));
        b[1] = (char) (0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char) (0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    fp_buf_add(out, b, n);
}

/*  \uXXXX (after the 'u'), with surrogate pairs.  */
static int
s_unicode(fp_jscan_t *s, fp_buf_t *out)
{
    unsigned cp, lo;
    if (s_hex4(s, &cp) < 0)
        return -1;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fp_jscan_fail(s, "lone low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
            return fp_jscan_fail(s, "high surrogate without low surrogate");
        s->p += 2;
        if (s_hex4(s, &lo) < 0)
            return -1;
        if (lo < 0xDC00 || lo > 0xDFFF)
            return fp_jscan_fail(s, "high surrogate without low surrogate");
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
    }
    if (cp == 0 && s->in_key)
        return fp_jscan_fail(s, "\\u0000 in an object key (jansson, and so "
                             "the broker, cannot hold it)");
    if (out)
        s_put_utf8(out, cp);
    return 0;
}

static int
s_escape(fp_jscan_t *s, fp_buf_t *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (s->p >= s->end)
        return fp_jscan_fail(s, "unterminated string");
    char c = *s->p++;
    if (c == 'u')
        return s_unicode(s, out);
    const char *k = memchr(from, c, sizeof from - 1);
    if (!k)
        return fp_jscan_fail(s, "bad escape");
    if (out)
        fp_buf_addc(out, to[k - from]);
    return 0;
}

int
fp_jscan_string(fp_jscan_t *s, fp_buf_t *out)
{
    fp_utf8_t u;
    fp_utf8_init(&u);
    if (fp_jscan_expect(s, '"') < 0)
        return -1;
    for (;;) {
        const char *run = s->p;
        while (s->p < s->end && *s->p != '"' && *s->p != '\\' &&
               (unsigned char) *s->p >= 0x20)
            s->p++;
        if (fp_utf8_feed(&u, (const uint8_t *) run, (size_t) (s->p - run),
                         NULL) < 0)
            return fp_jscan_fail(s, "invalid UTF-8 in string");
        if (out)
            fp_buf_add(out, run, (size_t) (s->p - run));
        if (s->p >= s->end)
            return fp_jscan_fail(s, "unterminated string");
        if ((unsigned char) *s->p < 0x20)
            return fp_jscan_fail(s, "control character in string");
        if (!fp_utf8_complete(&u))
            return fp_jscan_fail(s, "invalid UTF-8 in string");
        if (*s->p++ == '"')
            return 0;
        if (s_escape(s, out) < 0)
            return -1;
    }
}

static bool
s_digit(fp_jscan_t *s)
{
    return s->p < s->end && *s->p >= '0' && *s->p <= '9';
}

static int
s_number(fp_jscan_t *s, fp_buf_t *out)
{
    const char *from = s->p;
    if (s->p < s->end && *s->p == '-')
        s->p++;
    if (!s_digit(s))
        return fp_jscan_fail(s, "bad number");
    if (*s->p == '0')
        s->p++;
    else
        while (s_digit(s))
            s->p++;
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!s_digit(s))
            return fp_jscan_fail(s, "bad number: digit expected after '.'");
        while (s_digit(s))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (!s_digit(s))
            return fp_jscan_fail(s, "bad number: digit expected in exponent");
        while (s_digit(s))
            s->p++;
    }
    if (out)
        fp_buf_add(out, from, (size_t) (s->p - from));
    return 0;
}

static int
s_literal(fp_jscan_t *s, const char *word, fp_buf_t *out)
{
    size_t n = strlen(word);
    if ((size_t) (s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return fp_jscan_fail(s, "unexpected character");
    s->p += n;
    if (out)
        fp_buf_add(out, word, n);
    return 0;
}

/*  Copy a string token as it is written (validated).  */
static int
s_string_raw(fp_jscan_t *s, fp_buf_t *out)
{
    fp_jscan_ws(s);
    const char *from = s->p;
    if (fp_jscan_string(s, NULL) < 0)
        return -1;
    if (out)
        fp_buf_add(out, from, (size_t) (s->p - from));
    return 0;
}

static int
s_container(fp_jscan_t *s, fp_buf_t *out, int depth, bool object)
{
    char close = object ? '}' : ']';
    if (depth >= FP_JSCAN_DEPTH)
        return fp_jscan_fail(s, "nested too deeply");
    s->p++;
    if (out)
        fp_buf_addc(out, object ? '{' : '[');
    if (fp_jscan_accept(s, close))
        goto done;
    for (;;) {
        if (object) {
            s->in_key = 1;
            int rc = s_string_raw(s, out);
            s->in_key = 0;
            if (rc < 0 || fp_jscan_expect(s, ':') < 0)
                return -1;
            if (out)
                fp_buf_addc(out, ':');
        }
        if (fp_jscan_value(s, out, depth + 1) < 0)
            return -1;
        if (fp_jscan_accept(s, close))
            break;
        if (fp_jscan_expect(s, ',') < 0)
            return -1;
        if (out)
            fp_buf_addc(out, ',');
    }
done:
    if (out)
        fp_buf_addc(out, close);
    return 0;
}

int
fp_jscan_value(fp_jscan_t *s, fp_buf_t *out, int depth)
{
    fp_jscan_ws(s);
    if (s->p >= s->end)
        return fp_jscan_fail(s, "unexpected end");
    switch (*s->p) {
    case '{':
        return s_container(s, out, depth, true);
    case '[':
        return s_container(s, out, depth, false);
    case '"':
        return s_string_raw(s, out);
    case 't':
        return s_literal(s, "true", out);
    case 'f':
        return s_literal(s, "false", out);
    case 'n':
        return s_literal(s, "null", out);
    default:
        return s_number(s, out);
    }
}

int
fp_jscan_compact(const char *text, size_t len, fp_buf_t *out, char *err)
{
    fp_jscan_t s;
    fp_jscan_init(&s, text, len, err);
    if (fp_jscan_value(&s, out, 0) < 0)
        return -1;
    return fp_jscan_end(&s);
}

#ifdef FP_TEST
#include "test.h"

static bool
s_ok(const char *in, const char *want)
{
    char err[FP_ERR_LEN];
    fp_buf_t b;
    fp_buf_init(&b);
    int rc = fp_jscan_compact(in, strlen(in), &b, err);
    bool ok = rc == 0 && strcmp(b.data ? b.data : "", want) == 0;
    if (!ok)
        printf("#   jscan '%s': rc %d, got '%s', %s\n", in, rc,
               b.data ? b.data : "", rc ? err : "");
    fp_buf_free(&b);
    return ok;
}

static bool
s_bad(const char *in, size_t len)
{
    char err[FP_ERR_LEN];
    fp_buf_t b;
    fp_buf_init(&b);
    int rc = fp_jscan_compact(in, len, &b, err);
    fp_buf_free(&b);
    return rc == -1 && strstr(err, "invalid JSON at byte");
}

void
fp_jscan_test(void)
{
    FP_CHECK(s_ok(" { \"a\" : [ 1 , 2.5e-3 , -0 , true , null ] } ",
                  "{\"a\":[1,2.5e-3,-0,true,null]}"), "compacts");
    FP_CHECK(s_ok("\"a b\\n\\u00e9\\ud83d\\ude00\"",
                  "\"a b\\n\\u00e9\\ud83d\\ude00\""), "strings kept as written");
    FP_CHECK(s_ok("\"caf\xc3\xa9\"", "\"caf\xc3\xa9\""), "raw UTF-8");
    FP_CHECK(s_ok("[[],{}]", "[[],{}]"), "empty containers");
    FP_CHECK(s_ok("123456789012345678901234567890",
                  "123456789012345678901234567890"), "big integers");
    const char *bad[] = { "", "{", "[1,]", "{\"a\" 1}", "{\"a\":1,}", "01",
                          "1.", "1e", "-", "tru", "nul", "\"abc",
                          "\"a\\x\"", "\"\\u12\"", "\"\\ud800\"",
                          "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\xc0\xaf\"",
                          "\"\xe2\x82\"", "[1] 2", "{1:2}", "'x'", "NaN",
                          "\"tab\there\"", NULL };
    for (int i = 0; bad[i]; i++)
        FP_CHECK(s_bad(bad[i], strlen(bad[i])), bad[i]);
    FP_CHECK(s_bad("\"a\0b\"", 5), "raw NUL in string");
    FP_CHECK(s_bad("{\"a\\u0000\":1}", 13), "\\u0000 in a key");
    FP_CHECK(s_ok("{\"a\":\"\\u0000\"}", "{\"a\":\"\\u0000\"}"),
             "\\u0000 in a value");
    char deep[200];
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    FP_CHECK(s_bad(deep, 200), "too deep");
    memset(deep, '[', 60);
    memset(deep + 60, ']', 60);
    deep[120] = '\0';
    FP_CHECK(s_ok(deep, deep), "deep but allowed");
    char err[FP_ERR_LEN];
    fp_jscan_t s;
    fp_buf_t b;
    fp_buf_init(&b);
    fp_jscan_init(&s, "\"x\\u0041\\n\"", 11, err);
    FP_CHECK(fp_jscan_string(&s, &b) == 0 && strcmp(b.data, "xA\n") == 0,
             "string decoding");
    fp_buf_free(&b);
}
#endif
