/*  libFuzzer target for lib/fcgi_parse.c: the bytes of a FastCGI request
 *  as the web server sends them, read without libfcgi when they are one
 *  plain responder request.
 *
 *  Input: max_body byte (0-255, times 16) + the request's bytes.
 *  Checks: a request is parsed or refused, never read past its end;
 *  parsed, its first parameter is FCGI_ROLE=RESPONDER, every one is
 *  NAME=value with a non-empty name, env ends with NULL, the rid is not
 *  0, the body is NUL-terminated and at most max_body long (too large
 *  when STDIN held more); refused, the request holds nothing.
 */
#include "fcgi_parse.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max_body = (size_t) data[0] * 16;
    /*  an exact-size copy: a read past the end is ASan's  */
    uint8_t *req = malloc(size - 1 ? size - 1 : 1);
    memcpy(req, data + 1, size - 1);
    fp_fcgi_req_t r;
    memset(&r, 0, sizeof r);
    r.fd = -1;
    if (fp_fcgi_parse(req, size - 1, max_body, &r) == 0) {
        FUZZ_CHECK(r.rid > 0 && r.nenv >= 1 && r.env[r.nenv] == NULL &&
                   strcmp(r.env[0], "FCGI_ROLE=RESPONDER") == 0,
                   "parsed: rid, the role first, env ends with NULL");
        for (int i = 0; i < r.nenv; i++) {
            const char *eq = strchr(r.env[i], '=');
            FUZZ_CHECK(eq && eq != r.env[i], "NAME=value, a name");
        }
        FUZZ_CHECK(r.body && r.body_len <= max_body &&
                   r.body[r.body_len] == '\0', "the body is bounded");
        FUZZ_CHECK(!r.body_too_large || r.body_len == max_body,
                   "too large only when full");
        FUZZ_CHECK(r.fd == -1, "the descriptor is not touched");
        for (int i = 0; i < r.nenv; i++)
            free(r.env[i]);
        free(r.env);
        free(r.body);
    } else {
        FUZZ_CHECK(r.env == NULL && r.nenv == 0 && !r.body_too_large,
                   "refused: nothing kept");
    }
    free(req);
    return 0;
}
