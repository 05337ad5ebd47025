/*  sse: Server-Sent Events encoding (see sse.h).  */
#include "sse.h"

#include <string.h>

static int
s_field_ok(const char *s)
{
    return s == NULL || strpbrk(s, "\r\n") == NULL;
}

/*  Append `prefix` + each line of text + "\n"; lines end at CR, LF, CRLF.  */
static void
s_lines(fp_buf_t *b, const char *prefix, const char *text, size_t len)
{
    size_t start = 0, i = 0;
    for (;;) {
        if (i == len || text[i] == '\r' || text[i] == '\n') {
            fp_buf_adds(b, prefix);
            fp_buf_add(b, text + start, i - start);
            fp_buf_addc(b, '\n');
            if (i == len)
                return;
            if (text[i] == '\r' && i + 1 < len && text[i + 1] == '\n')
                i++;
            start = ++i;
            continue;
        }
        i++;
    }
}

int
fp_sse_event(fp_buf_t *b, const char *id, const char *type, const char *data,
             size_t len)
{
    if (!s_field_ok(id) || !s_field_ok(type))
        return -1;
    fp_buf_reserve(b, len + 64);
    if (id) {
        fp_buf_add(b, "id: ", 4);
        fp_buf_adds(b, id);
        fp_buf_addc(b, '\n');
    }
    if (type) {
        fp_buf_add(b, "event: ", 7);
        fp_buf_adds(b, type);
        fp_buf_addc(b, '\n');
    }
    if (data)
        s_lines(b, "data: ", data, len);
    fp_buf_addc(b, '\n');
    return 0;
}

void
fp_sse_comment(fp_buf_t *b, const char *text)
{
    s_lines(b, ": ", text, strlen(text));
    fp_buf_addc(b, '\n');
}

void
fp_sse_retry(fp_buf_t *b, unsigned ms)
{
    fp_buf_addf(b, "retry: %u\n\n", ms);
}

#ifdef FP_TEST
#include "test.h"

static int
s_enc(const char *id, const char *type, const char *data, const char *want)
{
    fp_buf_t b;
    fp_buf_init(&b);
    int rc = fp_sse_event(&b, id, type, data, data ? strlen(data) : 0);
    int ok = rc == 0 && strcmp(b.data, want) == 0;
    fp_buf_free(&b);
    return ok;
}

void
fp_sse_test(void)
{
    FP_CHECK(s_enc("e-1", "message", "{\"a\":1}",
                   "id: e-1\nevent: message\ndata: {\"a\":1}\n\n"), "plain");
    FP_CHECK(s_enc(NULL, NULL, "a\nb\r\nc\rd",
                   "data: a\ndata: b\ndata: c\ndata: d\n\n"), "line split");
    FP_CHECK(s_enc(NULL, NULL, "x\n", "data: x\ndata: \n\n"),
             "trailing newline kept as empty line");
    FP_CHECK(s_enc(NULL, NULL, "\n\nid: 666\nevent: evil",
                   "data: \ndata: \ndata: id: 666\ndata: event: evil\n\n"),
             "field injection is inert");
    FP_CHECK(s_enc("e-2", NULL, NULL, "id: e-2\n\n"), "id only");
    fp_buf_t b;
    fp_buf_init(&b);
    FP_CHECK(fp_sse_event(&b, "e-1\nevent: x", NULL, "d", 1) == -1 &&
             b.len == 0, "id with newline refused");
    FP_CHECK(fp_sse_event(&b, NULL, "a\rb", "d", 1) == -1 && b.len == 0,
             "type with CR refused");
    fp_sse_comment(&b, "hb");
    fp_sse_retry(&b, 2000);
    FP_CHECK(strcmp(b.data, ": hb\n\nretry: 2000\n\n") == 0,
             "comment and retry");
    fp_buf_free(&b);
}
#endif
