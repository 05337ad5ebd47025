/*  libFuzzer target for channel names and patterns: fp_channel_valid,
 *  fp_type_valid, fp_key_valid (lib/event.c), the comma lists of
 *  PREFIX/a,b and ?channel= (fp_http_channels, lib/http.c), and the
 *  patterns of tokens and ACL rules (fp_rights_pattern_match,
 *  fp_principal_can, lib/rights.c).
 *
 *  Input: PATTERN NUL CHANNEL-LIST (a missing NUL: the whole input is
 *  both).  Checks: every name fp_http_channels returns is valid and
 *  unique and at most `max` of them; a pattern matches a channel exactly
 *  when the fuzz target's own reading of the rule says so (a trailing
 *  '*' is a prefix, anything else is equality); the principal agrees.
 */
#include "conf.h"
#include "err.h"
#include "event.h"
#include "http.h"
#include "rights.h"
#include "fuzz.h"

#include <string.h>

#define MAX_CHANNELS 8

static bool
s_model_match(const char *pattern, const char *channel)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strlen(channel) >= n - 1 && memcmp(pattern, channel, n - 1) == 0;
    return strcmp(pattern, channel) == 0;
}

static void
s_check_names(const fp_strlist_t *l)
{
    FUZZ_CHECK(l->count <= MAX_CHANNELS, "more channels than max");
    for (int i = 0; i < l->count; i++) {
        const char *c = l->items[i];
        FUZZ_CHECK(fp_channel_valid(c, strlen(c)), "invalid channel returned");
        FUZZ_CHECK(!strchr(c, ','), "comma in a channel");
        for (int j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(c, l->items[j]) != 0, "channel listed twice");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    const char *pattern = s;
    size_t plen = strlen(s);
    const char *list = plen < size ? s + plen + 1 : s;
    char err[FP_ERR_LEN];
    fp_strlist_t names = { 0 };
    fp_principal_t p = { 0 };

    (void) fp_type_valid(pattern);
    (void) fp_key_valid(pattern);
    (void) fp_channel_valid(pattern, plen);
    if (fp_http_channels(list, &names, MAX_CHANNELS, err) == 0)
        s_check_names(&names);
    else
        FUZZ_CHECK(err[0], "refusal without a reason");
    fp_strlist_add(&p.subscribe, pattern);
    for (int i = 0; i < names.count; i++) {
        bool m = fp_rights_pattern_match(pattern, names.items[i]);
        FUZZ_CHECK(m == s_model_match(pattern, names.items[i]), "match");
        FUZZ_CHECK(fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, names.items[i])
                   == m, "principal disagrees with the pattern");
        FUZZ_CHECK(!fp_principal_can(&p, FP_RIGHTS_PUBLISH, names.items[i]),
                   "subscribe pattern grants publish");
    }
    FUZZ_CHECK(fp_rights_pattern_match(pattern, list) ==
               s_model_match(pattern, list), "match (raw)");
    fp_principal_clear(&p);
    fp_strlist_free(&names);
    free(s);
    return 0;
}
