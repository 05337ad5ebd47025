/*  libFuzzer target for the REMOTE_USER rules file (lib/rights.c: the
 *  ACL parser behind the `acl` directive, and its evaluation in
 *  fp_rights_check).
 *
 *  Input: ACL-TEXT NUL REMOTE_USER NUL GROUPS NUL CHANNEL.  The text is
 *  written to a scratch file and loaded as the responders load it.
 *  Checks: a file that loads gives, for the user and groups, only
 *  patterns that are a valid channel or a valid prefix followed by '*'
 *  (placeholders expanded), the user it was given; a file that does not
 *  load says which line.
 */
#include "conf.h"
#include "err.h"
#include "event.h"
#include "rights.h"
#include "fuzz.h"
#include "fuzz_file.h"

#include <string.h>

static void
s_check_patterns(const fp_strlist_t *l)
{
    for (int i = 0; i < l->count; i++) {
        const char *s = l->items[i];
        size_t n = strlen(s);
        if (n > 0 && s[n - 1] == '*')
            n--;
        FUZZ_CHECK(n == 0 || fp_channel_valid(s, n), "unusable pattern");
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t tlen = nul ? (size_t) (nul - data) : size;
    size_t rlen = nul ? size - tlen - 1 : 0;
    char *rest = fuzz_cstr(data + size - rlen, rlen);
    const char *f[3];
    char err[FP_ERR_LEN];

    fuzz_fields(rest, rlen, f, 3);
    fp_rights_conf_t conf = { .acl_file = fuzz_file_write("acl", data, tlen) };
    fp_rights_t *r = fp_rights_new(&conf, err);

    if (r) {
        fp_rights_input_t in = { .remote_user = f[0], .groups = f[1] };
        fp_principal_t p;
        FUZZ_CHECK(fp_rights_check(r, &in, 0, &p, err) == 0, "ACL check");
        s_check_patterns(&p.subscribe);
        s_check_patterns(&p.publish);
        FUZZ_CHECK(!*f[0] ? !p.user : (p.user && strcmp(p.user, f[0]) == 0 &&
                   p.authenticated), "user");
        (void) fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, f[2]);
        (void) fp_principal_can(&p, FP_RIGHTS_PUBLISH, f[2]);
        fp_principal_clear(&p);
        fp_rights_destroy(&r);
    } else {
        FUZZ_CHECK(strstr(err, "fpfuzz-") != NULL, "error names the file");
    }
    free(rest);
    return 0;
}
