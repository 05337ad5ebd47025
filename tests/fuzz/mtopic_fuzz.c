/*  libFuzzer target for Mercure topic selectors (lib/mercure_topic.c):
 *  what a subscriber's `topic` parameter and a token's mercure claim
 *  hold.
 *
 *  Input: SELECTOR NUL TOPIC.  Checks: a selector compiles or is refused
 *  with a reason; "*" matches every valid topic; a selector without
 *  braces matches exactly itself; a template matches each of its own
 *  literal-only expansions (every expression replaced by nothing, the
 *  undefined-variable expansion); matching never runs away (the
 *  linear walk is bounded by libFuzzer's timeout).
 */
#include "err.h"
#include "mercure_topic.h"
#include "fuzz.h"

#include <string.h>

/*  The template with every {...} removed: an expansion of it.  */
static void
s_empty_expansion(const char *sel, char *out)
{
    size_t k = 0;
    for (const char *p = sel; *p; p++) {
        if (*p == '{') {
            p = strchr(p, '}');
            if (!p)
                break;
            continue;
        }
        out[k++] = *p;
    }
    out[k] = '\0';
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    const char *f[2];
    char err[FP_ERR_LEN] = "";
    fuzz_fields(s, size, f, 2);

    fp_mtopic_t *t = fp_mtopic_new(f[0], err);
    FUZZ_CHECK(t || err[0], "refused without a reason");
    if (t) {
        size_t n = strlen(f[1]);
        bool m = fp_mtopic_match(t, f[1], n);
        if (strcmp(f[0], "*") == 0 && n > 0 && n <= FP_MTOPIC_MAX &&
            !strpbrk(f[1], "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b"
                     "\x0c\x0d\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                     "\x19\x1a\x1b\x1c\x1d\x1e\x1f\x7f"))
            FUZZ_CHECK(m, "* did not match");
        if (!strchr(f[0], '{'))
            FUZZ_CHECK(fp_mtopic_match(t, f[0], strlen(f[0])),
                       "an exact selector does not match itself");
        else {
            char *e = malloc(strlen(f[0]) + 1);
            s_empty_expansion(f[0], e);
            if (*e)
                FUZZ_CHECK(fp_mtopic_match(t, e, strlen(e)),
                           "the empty expansion does not match");
            free(e);
        }
        fp_mtopic_destroy(&t);
    }
    free(s);
    return 0;
}
