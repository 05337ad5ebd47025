/*  fuzz: what every libFuzzer target in tests/fuzz shares.
 *
 *  The entry point libFuzzer calls (declared here so that the targets
 *  build with -Wmissing-prototypes) and FUZZ_CHECK, which aborts with a
 *  message when an invariant of the code under test does not hold: the
 *  fuzzer reports the abort as a crash and keeps the input.
 */
#ifndef FP_FUZZ_H
#define FP_FUZZ_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  One input: return 0; anything the code under test gets wrong aborts.  */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what) do {                                     \
        if (!(cond)) {                                                  \
            fprintf(stderr, "%s:%d: invariant broken: %s (%s)\n",       \
                    __FILE__, __LINE__, what, #cond);                   \
            abort();                                                    \
        }                                                               \
    } while (0)

/*  A NUL-terminated copy of the input (free it).  */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    for (size_t i = 0; i < size; i++)
        s[i] = (char) data[i];
    s[size] = '\0';
    return s;
}

/*  Split s (size bytes and a NUL, from fuzz_cstr) at its NULs into n
 *  fields; missing fields are "".  */
static inline void
fuzz_fields(const char *s, size_t size, const char **f, int n)
{
    const char *p = s;
    for (int i = 0; i < n; i++) {
        f[i] = p;
        size_t len = strlen(p);
        if (p + len < s + size)
            p += len + 1;
        else
            p += len;           /*  stays on the final NUL: ""  */
    }
}

/*  Parse JSON text as jansson does for fastpush (any value, NUL allowed).
 *  Returns the value (caller owns it), or NULL; *range says the only
 *  complaint was a number out of jansson's range (valid JSON that
 *  jansson cannot hold: an integer past 64 bits, a real past double).  */
static inline json_t *
fuzz_json(const char *text, size_t len, bool *range)
{
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    *range = !v && (strstr(je.text, "too big") || strstr(je.text, "overflow"));
    return v;
}

#endif
