/*  libFuzzer target for the token parser entry (lib/rights.c): where a
 *  token is found (fp_rights_token: Authorization, Cookie, query value)
 *  and what fp_rights_check makes of random bytes as a JWT (header
 *  check, base64url, libjwt's decode) with HS256 configured.
 *
 *  Input: AUTHORIZATION NUL COOKIE NUL QUERY-VALUE.  Checks: a token
 *  found is a copy of part of the input; random bytes never pass the
 *  signature (refused with a reason, nothing granted).
 */
#include "err.h"
#include "rights.h"
#include "fuzz.h"
#include "fuzz_file.h"

#include <string.h>

#define SECRET "0123456789abcdef0123456789abcdef-fuzz"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fp_rights_t *r;
    char err[FP_ERR_LEN];
    if (!r) {
        fp_rights_conf_t c = { .jwt_alg = "HS256", .jwt_key_file =
            fuzz_file_write("key", SECRET, sizeof SECRET - 1) };
        r = fp_rights_new(&c, err);
        FUZZ_CHECK(r != NULL, err);
    }
    char *s = fuzz_cstr(data, size);
    const char *f[3];
    fuzz_fields(s, size, f, 3);

    char *tok = fp_rights_token(f[0], f[1], "fp_token", f[2]);
    FUZZ_CHECK(!tok || strstr(f[0], tok) || strstr(f[1], tok) ||
               strstr(f[2], tok), "token not from the input");
    const char *raw[2] = { tok, f[0] };
    for (int i = 0; i < 2; i++) {
        fp_rights_input_t in = { .token = raw[i] };
        fp_principal_t p;
        int rc = fp_rights_check(r, &in, 1700000000000LL, &p, err);
        FUZZ_CHECK(rc == 0 || rc == -1, "rc");
        if (rc < 0)
            FUZZ_CHECK(err[0] && !p.authenticated && !p.subscribe.count,
                       "refused token granted something");
        else
            FUZZ_CHECK(!raw[i] || !*raw[i], "random bytes passed");
        fp_principal_clear(&p);
    }
    free(tok);
    free(s);
    return 0;
}
