/*  fcgi_req: a FastCGI request taken over from libfcgi: its connection,
 *  request id, parameters and body (fcgi_accept.h fills it).  The
 *  library reads it (http.h, access.h); the runtime owns its connection.
 */
#ifndef FP_FCGI_REQ_H
#define FP_FCGI_REQ_H

#include <stdbool.h>
#include <stddef.h>

/*  A request taken over from libfcgi.  */
typedef struct {
    int fd;                     /*  the FastCGI connection, non-blocking;
                                    owned (-1 once given away)  */
    int rid;                    /*  FastCGI request id  */
    char **env;                 /*  "NAME=value" parameters (owned)  */
    int nenv;
    char *body;                 /*  request body (owned, NUL-terminated)  */
    size_t body_len;
    bool body_too_large;        /*  the body was longer than max_body  */
} fp_fcgi_req_t;

/*  A parameter's value (borrowed), or NULL.  */
const char *fp_fcgi_req_param(const fp_fcgi_req_t *r, const char *name);

/*  Free a request; closes its connection if it still owns it.  */
void fp_fcgi_req_free(fp_fcgi_req_t **r_p);

#endif
