/*  access: the authorization every client-facing program shares
 *  (fastpush-sse, fastpush-poll, fastpush-ws).
 *
 *  It owns the auth directives (fp_access_opts: nest it into the program's
 *  directive table), builds lib/rights from them, finds a request's
 *  credentials and answers "may this client subscribe to these channels /
 *  publish to this one" with 0, 401 or 403.  It also keeps the per-user
 *  limits of the process: open connections per user and publishes per
 *  second per user.
 *
 *  Credentials, first found wins:
 *    token   the WebSocket subprotocol "bearer.<token>" (fastpush-ws),
 *            Authorization: Bearer, the cookie `token-cookie`, the query
 *            parameter `token-query` (the last two off unless named);
 *    user    REMOTE_USER (FastCGI: set by the web server's own login) or,
 *            for fastpush-ws, the header `user-header` that the proxy in
 *            front sets; groups from `groups-header`.
 *  A token that is presented and not valid is a 401, never anonymous.
 *
 *  With `auth off` (the default) every question is answered yes and
 *  nothing is counted: the open behaviour of earlier versions.
 */
#ifndef FP_ACCESS_H
#define FP_ACCESS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rights.h"
#include "conf.h"
#include "err.h"
#include "fcgi_req.h"

/*  The directives (storage owned by this module; see fp_access_opts).  */
typedef struct {
    bool on;                    /*  auth on|off  */
    char *jwt_key;              /*  HS256 secret or RS256 public key file  */
    char *jwt_alg;              /*  HS256 or RS256  */
    char *jwt_claim;            /*  claim with the channel patterns  */
    uint64_t jwt_leeway;        /*  clock skew allowed on exp/nbf (ms)  */
    char *acl;                  /*  REMOTE_USER rules file  */
    char *groups_header;        /*  request header with the user's groups  */
    char *user_header;          /*  fastpush-ws: header with the user  */
    char *token_cookie;         /*  cookie holding a token ("" = none)  */
    char *token_query;          /*  query parameter holding a token  */
    int64_t max_user_connections; /*  per user and process; 0 = no limit  */
    int64_t publish_rate;       /*  publishes per second and user  */
} fp_access_conf_t;

extern fp_access_conf_t fp_access_conf;

/*  The directives as a table: put { "", FP_CONF_NEST, (void *)
 *  fp_access_opts, ... } into the program's own table.  */
extern const fp_conf_opt_t fp_access_opts[];

/*  Where the parameters of a request come from, by their CGI names
 *  (REMOTE_USER, REMOTE_ADDR, QUERY_STRING, HTTP_AUTHORIZATION,
 *  HTTP_COOKIE, HTTP_X_...).  Returns a borrowed value or NULL.  */
typedef const char *fp_access_get_fn(const void *ctx, const char *name);

enum {
    FP_ACCESS_FCGI,              /*  the user is REMOTE_USER  */
    FP_ACCESS_WS                 /*  the user is in `user-header`  */
};

typedef struct {
    fp_access_get_fn *get;
    const void *ctx;
    int kind;                   /*  FP_ACCESS_FCGI or FP_ACCESS_WS  */
    const char *bearer;         /*  token from Sec-WebSocket-Protocol  */
} fp_access_req_t;

/*  One identified client.  */
typedef struct {
    fp_principal_t p;           /*  who, and the channel patterns  */
    bool ambient;               /*  the credential is one a browser adds
                                    by itself (a cookie, the web server's
                                    login): publishing needs more care  */
    int64_t expires;            /*  monotonic ms at which the token runs
                                    out (leeway included), 0 = never  */
    char *key;                  /*  limits: "u:USER" or "a:ADDRESS"  */
    bool counted;               /*  holds a connection slot of its user  */
} fp_access_client_t;

typedef struct fp_access fp_access_t;

/*  Build from the directives: with `auth on`, load the key and the ACL.
 *  NULL with err on a bad configuration.  Caller owns the result.  */
fp_access_t *fp_access_new(const fp_access_conf_t *conf, char *err);

/*  Free; NULLs *a_p.  */
void fp_access_destroy(fp_access_t **a_p);

/*  True with `auth on`.  */
bool fp_access_on(const fp_access_t *a);

/*  Identify the client of a request.  Returns 0 with *out (NULL when auth
 *  is off; else caller owns it, release with fp_access_client_free), or 401
 *  with the reason in err when a presented token is not valid.  */
int fp_access_identify(fp_access_t *a, const fp_access_req_t *req,
                      fp_access_client_t **out, char *err);

/*  fp_access_identify for a FastCGI request (FP_ACCESS_FCGI).  */
int fp_access_identify_fcgi(fp_access_t *a, const fp_fcgi_req_t *req,
                           fp_access_client_t **out, char *err);

/*  May cl do action (FP_RIGHTS_SUBSCRIBE / FP_RIGHTS_PUBLISH) on every one of
 *  the channels?  0, or 401 (not authenticated) / 403 (authenticated)
 *  with a message naming the first channel refused.  cl may be NULL only
 *  when auth is off.  */
int fp_access_allow(fp_access_t *a, const fp_access_client_t *cl, int action,
                   const char *const *channels, size_t n, char *err);

/*  May cl connect at all (WebSocket handshake): 0 when it has some right,
 *  else 401 / 403 with err.  */
int fp_access_admit(fp_access_t *a, const fp_access_client_t *cl, char *err);

/*  Take one of the user's `max-user-connections` slots for a long-lived
 *  connection: 0, or 429 with err.  The slot is given back by
 *  fp_access_client_free.  Anonymous clients are not limited here.  */
int fp_access_connect(fp_access_t *a, fp_access_client_t *cl, char *err);

/*  Take one publish from the user's budget (`publish-rate` a second, the
 *  same as burst; anonymous clients share one budget per address).  0, or
 *  429 with err.  now: monotonic ms.  */
int fp_access_publish(fp_access_t *a, fp_access_client_t *cl, int64_t now,
                     char *err);

/*  Count a stream or connection ended because its token ran out.  */
void fp_access_expired(fp_access_t *a);

/*  Free a client, giving back its connection slot; NULLs *cl_p.  */
void fp_access_client_free(fp_access_t *a, fp_access_client_t **cl_p);

/*  Forget idle per-user state; call every few seconds.  */
void fp_access_tick(fp_access_t *a, int64_t now);

/*  Add the counters to a REPORT's stats object: auth_unauthorized (401),
 *  auth_forbidden (403), auth_expired, user_connections_limited and
 *  publish_rate_limited (429).  */
void fp_access_report(const fp_access_t *a, json_t *stats);

/*  The challenge header line for a 401 answer.  */
#define FP_ACCESS_CHALLENGE "WWW-Authenticate: Bearer realm=\"fastpush\"\r\n"

#endif
