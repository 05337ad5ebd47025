/*  utf8: incremental UTF-8 validation (see utf8.h).  */
#include "utf8.h"

void
fp_utf8_init(fp_utf8_t *st)
{
    st->need = 0;
    st->lo = 0x80;
    st->hi = 0xBF;
}

/*  A lead byte: how many continuation bytes and the range of the first.  */
static int
s_lead(fp_utf8_t *st, uint8_t c)
{
    st->lo = 0x80;
    st->hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        st->need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        st->need = 2;
        if (c == 0xE0)
            st->lo = 0xA0;          /*  no overlong 3-byte forms  */
        else if (c == 0xED)
            st->hi = 0x9F;          /*  no surrogates  */
    } else if (c >= 0xF0 && c <= 0xF4) {
        st->need = 3;
        if (c == 0xF0)
            st->lo = 0x90;          /*  no overlong 4-byte forms  */
        else if (c == 0xF4)
            st->hi = 0x8F;          /*  nothing above U+10FFFF  */
    } else {
        return -1;
    }
    return 0;
}

int
fp_utf8_feed(fp_utf8_t *st, const uint8_t *p, size_t n, size_t *bad)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        int rc = 0;
        if (st->need == 0) {
            if (c < 0x80)
                continue;
            rc = s_lead(st, c);
        } else if (c < st->lo || c > st->hi) {
            rc = -1;
        } else {
            st->need--;
            st->lo = 0x80;
            st->hi = 0xBF;
        }
        if (rc < 0) {
            if (bad)
                *bad = i;
            return -1;
        }
    }
    return 0;
}

bool
fp_utf8_complete(const fp_utf8_t *st)
{
    return st->need == 0;
}

bool
fp_utf8_valid(const uint8_t *p, size_t n)
{
    fp_utf8_t st;
    fp_utf8_init(&st);
    return fp_utf8_feed(&st, p, n, NULL) == 0 && fp_utf8_complete(&st);
}

#ifdef FP_TEST
#include "test.h"

#include <string.h>

void
fp_utf8_test(void)
{
    static const struct { const char *s; bool ok; } cases[] = {
        { "plain ascii", true }, { "caf\xc3\xa9", true },
        { "\xe2\x82\xac", true }, { "\xf0\x9f\x98\x80", true },
        { "\xef\xbf\xbf", true }, { "\xf4\x8f\xbf\xbf", true },
        { "\xc0\xaf", false }, { "\xe0\x80\xaf", false },
        { "\xf0\x80\x80\xaf", false }, { "\xed\xa0\x80", false },
        { "\xf4\x90\x80\x80", false }, { "\xf5\x80\x80\x80", false },
        { "\x80", false }, { "\xc3", false }, { "\xe2\x82", false },
        { "\xff", false }, { "a\xc3\xa9\xc3", false },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        FP_CHECK(fp_utf8_valid((const uint8_t *) cases[i].s,
                               strlen(cases[i].s)) == cases[i].ok,
                 cases[i].s);
    /*  split across calls, and fail fast at the right byte  */
    fp_utf8_t st;
    fp_utf8_init(&st);
    const uint8_t euro[] = { 0xe2, 0x82, 0xac };
    FP_CHECK(fp_utf8_feed(&st, euro, 1, NULL) == 0 && !fp_utf8_complete(&st),
             "partial sequence pending");
    FP_CHECK(fp_utf8_feed(&st, euro + 1, 2, NULL) == 0 &&
             fp_utf8_complete(&st), "sequence completed in a later call");
    size_t bad = 99;
    const uint8_t broken[] = { 'a', 'b', 0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf,
                               0x83, 0xce, 0xbc, 0xce, 0xb5, 0xed, 0xa0,
                               0x80, 'x' };
    fp_utf8_init(&st);
    FP_CHECK(fp_utf8_feed(&st, broken, sizeof broken, &bad) == -1 &&
             bad == 14, "fails fast at the first invalid byte");
}
#endif
