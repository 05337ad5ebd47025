/*  statsgate: the `stats-access` word, loopback peers, bearer tokens
 *  (see statsgate.h).  */
#include "statsgate.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *word;
    unsigned bit;
} s_words[] = {
    { "local", FP_STATSGATE_LOCAL },
    { "token", FP_STATSGATE_TOKEN },
    { "auth", FP_STATSGATE_AUTH },
    { "open", FP_STATSGATE_OPEN },
    { "off", 0 },
};
#define S_NWORDS (sizeof s_words / sizeof s_words[0])

/*  The bit of one word of n bytes; -1 if unknown.  */
static int
s_word(const char *w, size_t n)
{
    for (size_t i = 0; i < S_NWORDS; i++)
        if (strlen(s_words[i].word) == n && strncmp(s_words[i].word, w, n) == 0)
            return (int) s_words[i].bit;
    return -1;
}

int
fp_statsgate_parse(const char *spec, unsigned *ways, char *err)
{
    unsigned set = 0;
    int words = 0;
    bool alone = false;         /*  off or open seen  */

    for (const char *p = spec ? spec : ""; ; p++) {
        size_t n = strcspn(p, ",");
        int bit = s_word(p, n);
        if (bit < 0) {
            snprintf(err, FP_ERR_LEN, "stats-access: unknown '%.*s' (off, "
                     "open, or local, token, auth joined by commas)",
                     (int) (n > 32 ? 32 : n), p);
            return -1;
        }
        alone |= bit == 0 || bit == (int) FP_STATSGATE_OPEN;
        set |= (unsigned) bit;
        words++;
        p += n;
        if (!*p)
            break;
    }
    if (alone && words > 1) {
        snprintf(err, FP_ERR_LEN, "stats-access: off and open stand alone");
        return -1;
    }
    *ways = set;
    return 0;
}

bool
fp_statsgate_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;

    if (!addr)
        return false;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) != 1)
        return false;
    if (IN6_IS_ADDR_LOOPBACK(&a6))
        return true;
    return IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127;
}

bool
fp_statsgate_bearer(const char *want, const char *authorization)
{
    const char *got = authorization;
    size_t n = strlen(want);

    if (!got || strncasecmp(got, "Bearer ", 7) != 0)
        return false;
    got += 7;
    while (*got == ' ')
        got++;
    return n > 0 && strlen(got) == n && CRYPTO_memcmp(want, got, n) == 0;
}

#ifdef FP_TEST
#include "test.h"

void
fp_statsgate_test(void)
{
    char err[FP_ERR_LEN];
    unsigned w = 99;

    FP_CHECK(fp_statsgate_parse("local", &w, err) == 0 &&
             w == FP_STATSGATE_LOCAL, "local");
    FP_CHECK(fp_statsgate_parse("off", &w, err) == 0 && w == 0, "off");
    FP_CHECK(fp_statsgate_parse("open", &w, err) == 0 &&
             w == FP_STATSGATE_OPEN, "open");
    FP_CHECK(fp_statsgate_parse("local,token,auth", &w, err) == 0 &&
             w == (FP_STATSGATE_LOCAL | FP_STATSGATE_TOKEN |
                   FP_STATSGATE_AUTH), "a list of ways");
    FP_CHECK(fp_statsgate_parse("local,", &w, err) < 0, "an empty word");
    FP_CHECK(fp_statsgate_parse("", &w, err) < 0, "nothing");
    FP_CHECK(fp_statsgate_parse("lokal", &w, err) < 0 &&
             strstr(err, "lokal"), "an unknown word is named");
    FP_CHECK(fp_statsgate_parse("off,local", &w, err) < 0 &&
             fp_statsgate_parse("open,token", &w, err) < 0,
             "off and open stand alone");

    FP_CHECK(fp_statsgate_loopback("127.0.0.1") &&
             fp_statsgate_loopback("127.1.2.3") &&
             fp_statsgate_loopback("::1") &&
             fp_statsgate_loopback("::ffff:127.0.0.1"), "loopback");
    FP_CHECK(!fp_statsgate_loopback("10.0.0.1") &&
             !fp_statsgate_loopback("128.0.0.1") &&
             !fp_statsgate_loopback("::2") &&
             !fp_statsgate_loopback("::ffff:10.0.0.1") &&
             !fp_statsgate_loopback("localhost") &&
             !fp_statsgate_loopback("127.0.0.1 ") &&
             !fp_statsgate_loopback("") && !fp_statsgate_loopback(NULL),
             "not loopback");

    const char *tok = "s3cret-s3cret-s3cret";
    FP_CHECK(fp_statsgate_bearer(tok, "Bearer s3cret-s3cret-s3cret") &&
             fp_statsgate_bearer(tok, "bearer s3cret-s3cret-s3cret"),
             "the right token");
    FP_CHECK(!fp_statsgate_bearer(tok, "Bearer s3cret-s3cret-s3creT") &&
             !fp_statsgate_bearer(tok, "Bearer s3cret") &&
             !fp_statsgate_bearer(tok, "Bearer s3cret-s3cret-s3cret!") &&
             !fp_statsgate_bearer(tok, "Basic s3cret-s3cret-s3cret") &&
             !fp_statsgate_bearer(tok, "Bearer ") &&
             !fp_statsgate_bearer(tok, NULL), "wrong or missing tokens");
}
#endif
