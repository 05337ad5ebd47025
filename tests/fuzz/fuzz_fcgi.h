/*  fuzz_fcgi: a FastCGI request (fp_fcgi_req_t, as runtime/fcgi_accept.c
 *  hands it to a responder) built from fuzz input, for the targets that
 *  drive a responder's request handling.
 */
#ifndef FP_FUZZ_FCGI_H
#define FP_FUZZ_FCGI_H

#include "fcgi_req.h"
#include "mem.h"
#include "fuzz.h"

/*  The input's NUL-separated fields are the values of names[0..n-1] (a
 *  parameter whose field is "" is left out, as a web server leaves out
 *  a header the client did not send); field n, if any, is the body.
 *  Free it with fp_fcgi_req_free.  */
static inline fp_fcgi_req_t *
fuzz_fcgi_req(const uint8_t *data, size_t size, const char *const *names,
              int n)
{
    char *s = fuzz_cstr(data, size);
    const char *f[16];
    fp_fcgi_req_t *r = fp_calloc(1, sizeof *r);

    if (n > 15)
        abort();
    fuzz_fields(s, size, f, n + 1);
    r->fd = -1;
    r->rid = 1;
    r->env = fp_calloc((size_t) n, sizeof *r->env);
    for (int i = 0; i < n; i++) {
        if (!*f[i])
            continue;
        size_t len = strlen(names[i]) + strlen(f[i]) + 2;
        r->env[r->nenv] = fp_malloc(len);
        snprintf(r->env[r->nenv++], len, "%s=%s", names[i], f[i]);
    }
    r->body_len = (size_t) (s + size - f[n]);
    r->body = fp_malloc(r->body_len + 1);
    memcpy(r->body, f[n], r->body_len);
    r->body[r->body_len] = '\0';
    free(s);
    return r;
}

#endif
