/*  buf: a growable byte buffer (see buf.h).  */
#include "buf.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
fp_buf_init(fp_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void
fp_buf_free(fp_buf_t *b)
{
    free(b->data);
    fp_buf_init(b);
}

void
fp_buf_reset(fp_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void
fp_buf_reserve(fp_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = fp_realloc(b->data, cap);
    b->cap = cap;
}

void
fp_buf_add(fp_buf_t *b, const void *data, size_t len)
{
    fp_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void
fp_buf_adds(fp_buf_t *b, const char *s)
{
    fp_buf_add(b, s, strlen(s));
}

void
fp_buf_addc(fp_buf_t *b, char c)
{
    fp_buf_add(b, &c, 1);
}

void
fp_buf_addf(fp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t) n < sizeof small) {
        fp_buf_add(b, small, (size_t) n);
        return;
    }
    fp_buf_reserve(b, (size_t) n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

void
fp_buf_consume(fp_buf_t *b, size_t n)
{
    if (n >= b->len) {
        fp_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *
fp_buf_detach(fp_buf_t *b, size_t *len)
{
    char *p = b->data ? b->data : fp_strdup("");
    if (len)
        *len = b->len;
    fp_buf_init(b);
    return p;
}

#ifdef FP_TEST
#include "test.h"

void
fp_buf_test(void)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "hello");
    fp_buf_addc(&b, ' ');
    fp_buf_addf(&b, "%d-%s", 42, "x");
    FP_CHECK(strcmp(b.data, "hello 42-x") == 0, "append and format");
    fp_buf_consume(&b, 6);
    FP_CHECK(strcmp(b.data, "42-x") == 0 && b.len == 4, "consume");
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    fp_buf_addf(&b, "%s", big);
    FP_CHECK(b.len == 4 + 999 && b.data[b.len] == '\0', "long format");
    size_t len;
    char *p = fp_buf_detach(&b, &len);
    FP_CHECK(len == 1003 && b.data == NULL, "detach");
    free(p);
    p = fp_buf_detach(&b, &len);
    FP_CHECK(len == 0 && p[0] == '\0', "detach empty");
    free(p);
    fp_buf_free(&b);
}
#endif
