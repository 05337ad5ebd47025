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
