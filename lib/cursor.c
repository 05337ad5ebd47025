/*  cursor: the position "EPOCH-SEQ" (see cursor.h).  */
#include "cursor.h"
#include "clock.h"
#include "conf.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

bool
fp_epoch_valid(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'z')))
            return false;
    return n >= 1 && n <= FP_EPOCH_MAX;
}

int
fp_seq_parse(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;

    if (len == 0 || len > 19 || (len > 1 && s[0] == '0'))
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t) (s[i] - '0');
    }
    if (v > (uint64_t) FP_SEQ_MAX)
        return -1;
    *out = v;
    return 0;
}

int
fp_cursor_parse(const char *s, fp_cursor_t *c, char *err)
{
    const char *dash = strchr(s, '-');
    if (!dash) {
        snprintf(err, FP_ERR_LEN, "cursor must look like EPOCH-SEQ");
        return -1;
    }
    size_t elen = (size_t) (dash - s);
    if (elen < 1 || elen > FP_EPOCH_MAX) {
        snprintf(err, FP_ERR_LEN, "cursor epoch must be 1 to %d characters",
                 FP_EPOCH_MAX);
        return -1;
    }
    memcpy(c->epoch, s, elen);
    c->epoch[elen] = '\0';
    if (!fp_epoch_valid(c->epoch)) {
        snprintf(err, FP_ERR_LEN, "cursor epoch may only hold 0-9 and a-z");
        return -1;
    }
    if (fp_seq_parse(dash + 1, strlen(dash + 1), &c->seq) < 0) {
        snprintf(err, FP_ERR_LEN, "cursor sequence must be a decimal number "
                 "without sign or leading zeros, at most %lld",
                 (long long) FP_SEQ_MAX);
        return -1;
    }
    return 0;
}

void
fp_cursor_format(const char *epoch, uint64_t seq, char *out)
{
    snprintf(out, FP_CURSOR_LEN, "%s-%llu", epoch, (unsigned long long) seq);
}

void
fp_epoch_generate(char *out)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    unsigned char rnd[4] = { 0 };
    char tmp[16];
    int n = 0;

    uint64_t t = (uint64_t) fp_clock_wall_ms();
    for (; t && n < 8; t /= 36)
        tmp[n++] = digits[t % 36];
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd) {
        /*  no entropy: the sub-millisecond bits of the clock  */
        uint64_t ns = (uint64_t) fp_clock_ns();
        rnd[0] = (unsigned char) (ns >> 10);
        rnd[1] = (unsigned char) (ns >> 18);
    }
    for (int i = 0; i < 4; i++)
        out[n++] = digits[rnd[i] % 36];
    out[n] = '\0';
}

#ifdef FP_TEST
#include "test.h"

void
fp_cursor_test(void)
{
    fp_cursor_t c;
    char err[FP_ERR_LEN], out[FP_CURSOR_LEN];

    FP_CHECK(fp_cursor_parse("k3f9a2-42", &c, err) == 0 &&
             strcmp(c.epoch, "k3f9a2") == 0 && c.seq == 42, "parse");
    FP_CHECK(fp_cursor_parse("abc-0", &c, err) == 0 && c.seq == 0, "zero");
    FP_CHECK(fp_cursor_parse("abc-9223372036854775807", &c, err) == 0,
             "max seq");
    const char *bad[] = { "", "42", "-42", "abc-", "abc-01", "ABC-1",
                          "abc-1x", "abc-+1", "abc--1", "a b-1",
                          "abc-9223372036854775808", "abc-99999999999999999999",
                          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-1", "abc-1-2",
                          "ab\n-1", NULL };
    for (int i = 0; bad[i]; i++) {
        err[0] = '\0';
        FP_CHECK(fp_cursor_parse(bad[i], &c, err) == -1 && err[0],
                 "bad cursor refused with a reason");
    }
    fp_cursor_format("zz", 1234567, out);
    FP_CHECK(strcmp(out, "zz-1234567") == 0, "format");
    char e1[FP_EPOCH_MAX + 1], e2[FP_EPOCH_MAX + 1];
    fp_epoch_generate(e1);
    fp_epoch_generate(e2);
    FP_CHECK(fp_epoch_valid(e1) && strlen(e1) == 12, "generated epoch valid");
    FP_CHECK(strcmp(e1, e2) != 0, "epochs differ");
}
#endif
