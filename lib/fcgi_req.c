/*  fcgi_req: a FastCGI request as the acceptor copied it (see fcgi_req.h).  */
#include "fcgi_req.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
fp_fcgi_req_param(const fp_fcgi_req_t *r, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < r->nenv; i++)
        if (strncmp(r->env[i], name, n) == 0 && r->env[i][n] == '=')
            return r->env[i] + n + 1;
    return NULL;
}

void
fp_fcgi_req_free(fp_fcgi_req_t **r_p)
{
    fp_fcgi_req_t *r = *r_p;
    if (!r)
        return;
    *r_p = NULL;
    if (r->fd >= 0)
        close(r->fd);
    for (int i = 0; i < r->nenv; i++)
        free(r->env[i]);
    free(r->env);
    free(r->body);
    free(r);
}

#ifdef FP_TEST
#include "mem.h"
#include "test.h"

void
fp_fcgi_req_test(void)
{
    int p[2];
    char c;
    const char *env[] = { "QUERY_STRING=a=1&b=2", "QUERY=short",
                          "EMPTY=", "REQUEST_METHOD=GET" };
    fp_fcgi_req_t *r = fp_calloc(1, sizeof *r);
    r->nenv = 4;
    r->env = fp_calloc(5, sizeof *r->env);
    for (int i = 0; i < 4; i++)
        r->env[i] = fp_strdup(env[i]);
    r->body = fp_strdup("");
    FP_CHECK(pipe(p) == 0, "pipe");
    r->fd = p[1];
    const char *q = fp_fcgi_req_param(r, "QUERY_STRING");
    FP_CHECK(q && strcmp(q, "a=1&b=2") == 0, "a value holding '='");
    q = fp_fcgi_req_param(r, "QUERY");
    FP_CHECK(q && strcmp(q, "short") == 0, "a name that is another's "
             "prefix matches only itself");
    q = fp_fcgi_req_param(r, "EMPTY");
    FP_CHECK(q && *q == '\0', "an empty value");
    FP_CHECK(!fp_fcgi_req_param(r, "REQUEST") &&
             !fp_fcgi_req_param(r, "request_method") &&
             !fp_fcgi_req_param(r, ""), "prefix, case, empty name: none");
    fp_fcgi_req_free(&r);
    FP_CHECK(r == NULL && read(p[0], &c, 1) == 0, "free closes the "
             "connection it owns and NULLs the pointer");
    fp_fcgi_req_free(&r);
    close(p[0]);
    r = fp_calloc(1, sizeof *r);
    FP_CHECK(pipe(p) == 0, "pipe");
    r->fd = -1;                         /*  given away  */
    fp_fcgi_req_free(&r);
    FP_CHECK(write(p[1], "x", 1) == 1 && read(p[0], &c, 1) == 1,
             "a request that gave its connection away closes nothing");
    close(p[0]);
    close(p[1]);
}
#endif
