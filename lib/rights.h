/*  rights: who may subscribe to and publish on which channels.
 *
 *  Two sources of rights, usable alone or together (rights add up):
 *
 *  - a JWT (HS256 with a shared secret, or RS256 with a public key, each
 *    from a file).  The algorithm is fixed by configuration and checked in
 *    the token's header before the signature is: "none" and HS/RS
 *    confusion are refused.  exp and nbf are checked.  A claim (default
 *    "fastpush") lists channel patterns:
 *        {"fastpush": {"subscribe": ["news", "user.{sub}", "room.*"],
 *                      "publish": ["room.*"]}}
 *  - the web server's own authentication: REMOTE_USER (and groups from a
 *    header the administrator names) mapped through an ACL file:
 *        user alice      subscribe  news user.{user}
 *        group staff     publish    announcements
 *        authenticated   subscribe  public.*
 *        anonymous       subscribe  public.*
 *
 *  A pattern is an exact channel name, or a prefix ending in '*'; {sub}
 *  (JWT subject) and {user} (REMOTE_USER) are replaced before matching,
 *  and a value that is not a valid channel name part matches nothing.
 */
#ifndef FP_RIGHTS_H
#define FP_RIGHTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "err.h"

#define FP_RIGHTS_SUBSCRIBE 1
#define FP_RIGHTS_PUBLISH 2

typedef struct {
    const char *jwt_key_file;   /*  secret (HS256) or PEM public key (RS256)  */
    const char *jwt_alg;        /*  "HS256" or "RS256"  */
    const char *jwt_claim;      /*  claim with the patterns ("fastpush")  */
    int64_t leeway_ms;          /*  clock skew allowed on exp/nbf  */
    const char *acl_file;       /*  REMOTE_USER rules, or NULL  */
} fp_rights_conf_t;

/*  What a request presents.  */
typedef struct {
    const char *token;          /*  a JWT, or NULL  */
    const char *remote_user;    /*  set by the web server, or NULL  */
    const char *groups;         /*  comma/space separated, or NULL  */
} fp_rights_input_t;

/*  The rights of one client.  */
typedef struct {
    char *user;                 /*  JWT sub or REMOTE_USER, NULL if none  */
    char *user_info;            /*  compact JSON of the claim's "user_info"
                                    (presence), NULL if none  */
    bool authenticated;         /*  a valid token or a REMOTE_USER  */
    int64_t expires_ms;         /*  token expiry (ms since 1970), 0: none  */
    fp_strlist_t subscribe;     /*  patterns, placeholders expanded  */
    fp_strlist_t publish;
} fp_principal_t;

typedef struct fp_rights fp_rights_t;

/*  Load the key and the ACL.  NULL with err (file, line) on a problem.  */
fp_rights_t *fp_rights_new(const fp_rights_conf_t *conf, char *err);

/*  Free; NULLs *auth_p.  */
void fp_rights_destroy(fp_rights_t **auth_p);

/*  Work out the rights for a request.  Returns 0, or -1 with err when a
 *  token was presented and is not valid (bad signature, algorithm,
 *  expired, not yet valid, malformed): answer 401, never fall back to
 *  anonymous.  `now_ms` is wall-clock time.  Release p with
 *  fp_principal_clear.  */
int fp_rights_check(fp_rights_t *auth, const fp_rights_input_t *in, int64_t now_ms,
                  fp_principal_t *p, char *err);

/*  Free what p holds.  */
void fp_principal_clear(fp_principal_t *p);

/*  May p do `action` (FP_RIGHTS_SUBSCRIBE / FP_RIGHTS_PUBLISH) on channel?  */
bool fp_principal_can(const fp_principal_t *p, int action,
                      const char *channel);

/*  Does pattern (placeholders already expanded) match channel?  */
bool fp_rights_pattern_match(const char *pattern, const char *channel);

/*  Check a token (header algorithm, signature, exp and nbf at `now_ms`,
 *  wall clock) and return its configured claim, whatever its shape (JSON
 *  null when the token has none; the caller decrefs), with the token's
 *  exp in *expires_ms (0: none).  NULL with err when the token is not
 *  valid (answer 401) or tokens are off.  */
json_t *fp_rights_claim(fp_rights_t *auth, const char *token, int64_t now_ms,
                        int64_t *expires_ms, char *err);

/*  The token of a request: "Authorization: Bearer X", else the cookie
 *  `cookie_name` in a Cookie header, else a query value.  Caller frees;
 *  NULL if none.  */
char *fp_rights_token(const char *authorization, const char *cookies,
                    const char *cookie_name, const char *query_value);

#endif
