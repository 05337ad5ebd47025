/*  access: the shared authorization of the responders (see access.h).  */
#include "access.h"
#include "clock.h"
#include "event.h"
#include "fcgi_req.h"
#include "http.h"
#include "mem.h"
#include "pusher.h"
#include "rate.h"

#include <czmq.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

fp_access_conf_t fp_access_conf = {
    .max_user_connections = 5,
};

const fp_conf_opt_t fp_access_opts[] = {
    { "auth", FP_CONF_BOOL, &fp_access_conf.on, 0, 0, NULL,
      "authorize every subscribe and publish (off: anyone may subscribe to "
      "anything, as before)" },
    { "jwt-key", FP_CONF_STR, &fp_access_conf.jwt_key, 0, 0, NULL,
      "file with the HS256 secret (32+ bytes) or the RS256 public key (PEM)" },
    { "jwt-alg", FP_CONF_STR, &fp_access_conf.jwt_alg, 0, 0, NULL,
      "HS256 or RS256: the only algorithm accepted (HS256)" },
    { "jwt-claim", FP_CONF_STR, &fp_access_conf.jwt_claim, 0, 0, NULL,
      "claim holding {\"subscribe\": [...], \"publish\": [...]} (fastpush)" },
    { "jwt-leeway", FP_CONF_MS, &fp_access_conf.jwt_leeway, 0, 600000, NULL,
      "clock skew allowed on exp and nbf (0)" },
    { "acl", FP_CONF_STR, &fp_access_conf.acl, 0, 0, NULL,
      "file of rules for REMOTE_USER: user/group/authenticated/anonymous, "
      "subscribe/publish/both, channel patterns" },
    { "groups-header", FP_CONF_STR, &fp_access_conf.groups_header, 0, 0, NULL,
      "request header with the user's groups (comma-separated); the web "
      "server must set it on every request (none)" },
    { "user-header", FP_CONF_STR, &fp_access_conf.user_header, 0, 0, NULL,
      "fastpush-ws: header the proxy sets to the logged-in user (none)" },
    { "token-cookie", FP_CONF_STR, &fp_access_conf.token_cookie, 0, 0, NULL,
      "cookie that may hold the token (none)" },
    { "token-query", FP_CONF_STR, &fp_access_conf.token_query, 0, 0, NULL,
      "query parameter that may hold the token, e.g. access_token (none)" },
    { "max-user-connections", FP_CONF_INT,
      &fp_access_conf.max_user_connections, 0, 1000000, NULL,
      "open streams/connections per user in this process, 0 = no limit "
      "(5)" },
    { "publish-rate", FP_CONF_INT, &fp_access_conf.publish_rate, 0, 1000000,
      NULL, "publishes per second and user (burst the same), 0 = no limit "
      "(0)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

/*  Per-user state of the limits.  */
typedef struct {
    int64_t conns;              /*  connection slots held  */
    fp_rate_t budget;           /*  publishes  */
} user_t;

struct fp_access {
    bool on;
    fp_rights_t *auth;
    int64_t leeway;
    char *groups_var;           /*  HTTP_X_... or NULL  */
    char *user_var;
    char *cookie, *query;       /*  token places or NULL  */
    int64_t max_conns;
    int64_t rate;
    zhashx_t *users;            /*  key -> user_t *  */
    struct {
        uint64_t unauthorized, forbidden, expired, user_limited,
                 rate_limited;
    } stats;
};

/*  "X-Remote-Groups" -> "HTTP_X_REMOTE_GROUPS"; NULL for none.  */
static char *
s_cgi_name(const char *header)
{
    if (!header || !*header)
        return NULL;
    char *v = fp_malloc(strlen(header) + 6);
    char *o = v + sprintf(v, "HTTP_");
    for (const char *p = header; *p; p++)
        *o++ = *p == '-' ? '_' : (char) toupper((unsigned char) *p);
    *o = '\0';
    return v;
}

static char *
s_nonempty(const char *s)
{
    return s && *s ? fp_strdup(s) : NULL;
}

fp_access_t *
fp_access_new(const fp_access_conf_t *c, char *err)
{
    fp_access_t *a = fp_calloc(1, sizeof *a);
    a->on = c->on;
    a->users = zhashx_new();
    zhashx_set_destructor(a->users, (zhashx_destructor_fn *) zstr_free);
    if (!a->on)
        return a;
    if (!(c->jwt_key && *c->jwt_key) && !(c->acl && *c->acl)) {
        snprintf(err, FP_ERR_LEN, "auth on: set jwt-key (tokens), acl "
                 "(REMOTE_USER rules) or both");
        fp_access_destroy(&a);
        return NULL;
    }
    fp_rights_conf_t ac = { .jwt_key_file = c->jwt_key, .jwt_alg = c->jwt_alg,
                          .jwt_claim = c->jwt_claim,
                          .leeway_ms = (int64_t) c->jwt_leeway,
                          .acl_file = c->acl };
    a->auth = fp_rights_new(&ac, err);
    if (!a->auth) {
        fp_access_destroy(&a);
        return NULL;
    }
    a->leeway = (int64_t) c->jwt_leeway;
    a->groups_var = s_cgi_name(c->groups_header);
    a->user_var = s_cgi_name(c->user_header);
    a->cookie = s_nonempty(c->token_cookie);
    a->query = s_nonempty(c->token_query);
    a->max_conns = c->max_user_connections;
    a->rate = c->publish_rate;
    return a;
}

void
fp_access_destroy(fp_access_t **a_p)
{
    fp_access_t *a = *a_p;
    if (!a)
        return;
    *a_p = NULL;
    fp_rights_destroy(&a->auth);
    zhashx_destroy(&a->users);
    free(a->groups_var);
    free(a->user_var);
    free(a->cookie);
    free(a->query);
    free(a);
}

bool
fp_access_on(const fp_access_t *a)
{
    return a && a->on;
}

/* ------------------------------------------------------------ identify */

/*  The token and where it came from; -1 with err for an empty Bearer.  */
static int
s_token(fp_access_t *a, const fp_access_req_t *r, char **token, bool *cookie,
        char *err)
{
    const char *h = r->get(r->ctx, "HTTP_AUTHORIZATION");
    *token = NULL;
    *cookie = false;
    if (r->bearer && *r->bearer) {
        *token = fp_strdup(r->bearer);
        return 0;
    }
    if (h && strncasecmp(h, "Bearer", 6) == 0 && (h[6] == ' ' || !h[6])) {
        *token = fp_rights_token(h, NULL, NULL, NULL);
        if (!*token) {
            snprintf(err, FP_ERR_LEN, "empty Bearer token");
            return -1;
        }
        return 0;
    }
    if (a->cookie) {
        char *t = fp_rights_token(NULL, r->get(r->ctx, "HTTP_COOKIE"),
                                a->cookie, NULL);
        if (t && *t) {
            *token = t;
            *cookie = true;
            return 0;
        }
        free(t);
    }
    if (a->query) {
        fp_query_t q;
        char qerr[FP_ERR_LEN];
        if (fp_query_parse(r->get(r->ctx, "QUERY_STRING"), 64, &q, qerr) == 0) {
            const char *v = fp_query_get(&q, a->query);
            if (v && *v)
                *token = fp_strdup(v);
            fp_query_free(&q);
        }
    }
    return 0;
}

static const char *
s_get(const fp_access_req_t *r, const char *var)
{
    const char *v = var ? r->get(r->ctx, var) : NULL;
    return v && *v ? v : NULL;
}

int
fp_access_identify(fp_access_t *a, const fp_access_req_t *r,
                  fp_access_client_t **out, char *err)
{
    char *token = NULL, why[FP_ERR_LEN];
    bool cookie;

    *out = NULL;
    if (!a->on)
        return 0;
    if (s_token(a, r, &token, &cookie, err) < 0) {
        a->stats.unauthorized++;
        return 401;
    }
    fp_access_client_t *cl = fp_calloc(1, sizeof *cl);
    fp_rights_input_t in = {
        .token = token,
        .remote_user = s_get(r, r->kind == FP_ACCESS_WS ? a->user_var
                                                       : "REMOTE_USER"),
    };
    in.groups = in.remote_user ? s_get(r, a->groups_var) : NULL;
    int64_t wall = fp_clock_wall_ms();
    if (fp_rights_check(a->auth, &in, wall, &cl->p, why) < 0) {
        snprintf(err, FP_ERR_LEN, "%s", why);
        free(token);
        free(cl);
        a->stats.unauthorized++;
        return 401;
    }
    cl->ambient = token ? cookie : in.remote_user != NULL;
    if (cl->p.expires_ms)
        cl->expires = fp_clock_ms() + (cl->p.expires_ms + a->leeway - wall);
    const char *addr = s_get(r, "REMOTE_ADDR");
    size_t n = strlen(cl->p.user ? cl->p.user : addr ? addr : "") + 3;
    cl->key = fp_malloc(n);
    snprintf(cl->key, n, "%s%s", cl->p.user ? "u:" : "a:",
             cl->p.user ? cl->p.user : addr ? addr : "");
    free(token);
    *out = cl;
    return 0;
}

static const char *
s_fcgi_get(const void *ctx, const char *name)
{
    return fp_fcgi_req_param(ctx, name);
}

int
fp_access_identify_fcgi(fp_access_t *a, const fp_fcgi_req_t *req,
                       fp_access_client_t **out, char *err)
{
    fp_access_req_t r = { s_fcgi_get, req, FP_ACCESS_FCGI, NULL };
    return fp_access_identify(a, &r, out, err);
}

/* ------------------------------------------------------------ rights */

static int
s_refuse(fp_access_t *a, const fp_access_client_t *cl, char *err,
         const char *what)
{
    if (cl->p.authenticated) {
        a->stats.forbidden++;
        snprintf(err, FP_ERR_LEN, "%s is not allowed for %s", what,
                 cl->p.user ? cl->p.user : "this client");
        return 403;
    }
    a->stats.unauthorized++;
    snprintf(err, FP_ERR_LEN, "%s needs authentication (a token or a login)",
             what);
    return 401;
}

int
fp_access_allow(fp_access_t *a, const fp_access_client_t *cl, int action,
               const char *const *channels, size_t n, char *err)
{
    for (size_t i = 0; !a->on && i < n; i++)
        if (fp_pusher_reserved(channels[i])) {
            /*  A Pusher private or presence channel is authorized by its
             *  app's signature (fastpush-ws /app/KEY), never by auth off.  */
            a->stats.forbidden++;
            snprintf(err, FP_ERR_LEN, "'%s' is a Pusher private or presence "
                     "channel: subscribe through the Pusher protocol, or "
                     "turn auth on and grant it", channels[i]);
            return 403;
        }
    for (size_t i = 0; action == FP_RIGHTS_SUBSCRIBE && i < n; i++)
        if (fp_channel_presence(channels[i]) && (!a->on || !cl->p.user)) {
            /*  A member is a user: who is it?  */
            a->stats.forbidden++;
            snprintf(err, FP_ERR_LEN, "'%s' is a presence channel: its "
                     "members are users (auth on, and a token with a sub "
                     "or the web server's login)", channels[i]);
            return 403;
        }
    if (!a->on)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (fp_principal_can(&cl->p, action, channels[i]))
            continue;
        char what[FP_CHANNEL_MAX + 64];
        snprintf(what, sizeof what, "%s '%s'", action == FP_RIGHTS_PUBLISH
                 ? "publishing to" : "subscribing to", channels[i]);
        return s_refuse(a, cl, err, what);
    }
    return 0;
}

int
fp_access_admit(fp_access_t *a, const fp_access_client_t *cl, char *err)
{
    if (!a->on || cl->p.subscribe.count > 0 || cl->p.publish.count > 0)
        return 0;
    return s_refuse(a, cl, err, "connecting");
}

/* ------------------------------------------------------------ limits */

static user_t *
s_user(fp_access_t *a, const char *key)
{
    user_t *u = zhashx_lookup(a->users, key);
    if (!u) {
        u = fp_calloc(1, sizeof *u);
        zhashx_insert(a->users, key, u);
    }
    return u;
}

/*  Forget u when it holds nothing: no slot, a full budget.  */
static void
s_maybe_forget(fp_access_t *a, const char *key, user_t *u, int64_t now)
{
    if (u->conns == 0 && fp_rate_full(&u->budget, a->rate, now))
        zhashx_delete(a->users, key);
}

int
fp_access_connect(fp_access_t *a, fp_access_client_t *cl, char *err)
{
    if (!a->on || cl->counted || !cl->p.user || a->max_conns <= 0)
        return 0;
    user_t *u = s_user(a, cl->key);
    if (u->conns >= a->max_conns) {
        a->stats.user_limited++;
        snprintf(err, FP_ERR_LEN, "%s already has %lld connections open "
                 "here (max-user-connections)", cl->p.user,
                 (long long) u->conns);
        return 429;
    }
    u->conns++;
    cl->counted = true;
    return 0;
}

int
fp_access_publish(fp_access_t *a, fp_access_client_t *cl, int64_t now,
                 char *err)
{
    if (!a->on || a->rate <= 0)
        return 0;
    user_t *u = s_user(a, cl->key);
    if (!fp_rate_take(&u->budget, a->rate, now)) {
        a->stats.rate_limited++;
        snprintf(err, FP_ERR_LEN, "more than %lld publishes a second "
                 "(publish-rate); slow down", (long long) a->rate);
        return 429;
    }
    return 0;
}

void
fp_access_expired(fp_access_t *a)
{
    a->stats.expired++;
}

void
fp_access_client_free(fp_access_t *a, fp_access_client_t **cl_p)
{
    fp_access_client_t *cl = *cl_p;
    if (!cl)
        return;
    *cl_p = NULL;
    if (cl->counted) {
        user_t *u = zhashx_lookup(a->users, cl->key);
        if (u) {
            u->conns--;
            s_maybe_forget(a, cl->key, u, fp_clock_ms());
        }
    }
    fp_principal_clear(&cl->p);
    free(cl->key);
    free(cl);
}

void
fp_access_tick(fp_access_t *a, int64_t now)
{
    zlistx_t *keys = zhashx_keys(a->users);
    for (const char *k = zlistx_first(keys); k; k = zlistx_next(keys)) {
        user_t *u = zhashx_lookup(a->users, k);
        if (u)
            s_maybe_forget(a, k, u, now);
    }
    zlistx_destroy(&keys);
}

void
fp_access_report(const fp_access_t *a, json_t *stats)
{
    json_object_set_new(stats, "auth_unauthorized",
                        json_integer((json_int_t) a->stats.unauthorized));
    json_object_set_new(stats, "auth_forbidden",
                        json_integer((json_int_t) a->stats.forbidden));
    json_object_set_new(stats, "auth_expired",
                        json_integer((json_int_t) a->stats.expired));
    json_object_set_new(stats, "user_connections_limited",
                        json_integer((json_int_t) a->stats.user_limited));
    json_object_set_new(stats, "publish_rate_limited",
                        json_integer((json_int_t) a->stats.rate_limited));
}

#ifdef FP_TEST
#include "test.h"

#include <jwt.h>
#include <unistd.h>

/*  A request as NAME=VALUE pairs.  */
static const char *
s_fake_get(const void *ctx, const char *name)
{
    const char *const *kv = ctx;
    for (int i = 0; kv[i]; i += 2)
        if (strcmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static char *
s_sign(const char *secret, const char *claims)
{
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    jwt_add_grants_json(jwt, claims);
    jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *) secret,
                (int) strlen(secret));
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    return t;
}

void
fp_access_test(void)
{
    const char *secret = "0123456789abcdef0123456789abcdef";
    char kf[] = "/tmp/fp-authz-key-XXXXXX", af[] = "/tmp/fp-authz-acl-XXXXXX";
    int fd = mkstemp(kf);
    FP_CHECK(fd >= 0 && write(fd, secret, 32) == 32, "key file");
    close(fd);
    const char *acl = "user alice subscribe private.alice\n"
                      "group staff publish staff.*\n"
                      "anonymous subscribe public\n";
    fd = mkstemp(af);
    FP_CHECK(fd >= 0 && write(fd, acl, strlen(acl)) == (ssize_t) strlen(acl),
             "acl file");
    close(fd);
    char err[FP_ERR_LEN];
    fp_access_conf_t off = { 0 };
    fp_access_t *a = fp_access_new(&off, err);
    fp_access_client_t *cl = (fp_access_client_t *) 1;
    const char *none[] = { NULL };
    fp_access_req_t r = { s_fake_get, none, FP_ACCESS_FCGI, NULL };
    const char *chans[] = { "news", "private.bob" };
    FP_CHECK(a && !fp_access_on(a) && fp_access_identify(a, &r, &cl, err) == 0
             && cl == NULL && fp_access_allow(a, NULL, FP_RIGHTS_PUBLISH, chans,
                                             2, err) == 0,
             "auth off: everything allowed");
    const char *pch[] = { "1001:news", "1001:private-x" };
    FP_CHECK(fp_access_allow(a, NULL, FP_RIGHTS_SUBSCRIBE, pch, 1, err) == 0
             && fp_access_allow(a, NULL, FP_RIGHTS_SUBSCRIBE, pch, 2, err)
             == 403 && strstr(err, "Pusher"), "auth off: a Pusher private "
             "channel is still refused");
    const char *prc[] = { "presence-room" };
    FP_CHECK(fp_access_allow(a, NULL, FP_RIGHTS_SUBSCRIBE, prc, 1, err) == 403
             && strstr(err, "presence channel") && fp_access_allow(a, NULL,
             FP_RIGHTS_PUBLISH, prc, 1, err) == 0, "auth off: subscribing "
             "to a presence channel is refused (no user), publishing is not");
    fp_access_destroy(&a);

    fp_access_conf_t c = { .on = true };
    FP_CHECK(!fp_access_new(&c, err) && strstr(err, "jwt-key"),
             "auth on needs a key or an ACL");
    c = (fp_access_conf_t) { .on = true, .jwt_key = kf, .acl = af,
                            .groups_header = "X-Groups",
                            .token_cookie = "tok", .token_query = "",
                            .max_user_connections = 2, .publish_rate = 2 };
    a = fp_access_new(&c, err);
    FP_CHECK(a != NULL, "auth on loads");

    char *t = s_sign(secret, "{\"sub\":\"bob\",\"fastpush\":{\"subscribe\":"
                     "[\"news\",\"private.{sub}\"],\"publish\":[\"chat\"]}}");
    char bearer[1024];
    snprintf(bearer, sizeof bearer, "Bearer %s", t);
    const char *hdr[] = { "HTTP_AUTHORIZATION", bearer, NULL };
    r.ctx = hdr;
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 0 && cl &&
             !cl->ambient && strcmp(cl->key, "u:bob") == 0 &&
             fp_access_allow(a, cl, FP_RIGHTS_SUBSCRIBE, chans, 2, err) == 0,
             "bearer token: subscribe news and private.bob");
    const char *chat[] = { "chat" }, *other[] = { "private.alice" };
    FP_CHECK(fp_access_allow(a, cl, FP_RIGHTS_PUBLISH, chat, 1, err) == 0 &&
             fp_access_allow(a, cl, FP_RIGHTS_SUBSCRIBE, other, 1, err) == 403
             && strstr(err, "private.alice"), "403 names the channel");
    fp_access_client_t *c2 = NULL, *c3 = NULL;
    fp_access_identify(a, &r, &c2, err);
    fp_access_identify(a, &r, &c3, err);
    FP_CHECK(fp_access_connect(a, cl, err) == 0 &&
             fp_access_connect(a, c2, err) == 0 &&
             fp_access_connect(a, c3, err) == 429, "connections per user");
    fp_access_client_free(a, &c2);
    FP_CHECK(fp_access_connect(a, c3, err) == 0, "a slot given back");
    FP_CHECK(fp_access_publish(a, cl, 1000, err) == 0 &&
             fp_access_publish(a, cl, 1000, err) == 0 &&
             fp_access_publish(a, cl, 1000, err) == 429 &&
             fp_access_publish(a, cl, 1500, err) == 0, "publish rate");
    fp_access_client_free(a, &c3);
    fp_access_client_free(a, &cl);

    snprintf(bearer, sizeof bearer, "a=1; tok=%s", t);
    const char *ck[] = { "HTTP_COOKIE", bearer, NULL };
    r.ctx = ck;
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 0 && cl->ambient,
             "cookie token is ambient");
    fp_access_client_free(a, &cl);
    r.bearer = "x.y.z";
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 401 && !cl,
             "bad subprotocol token: 401, not anonymous");
    r.bearer = NULL;
    const char *empty[] = { "HTTP_AUTHORIZATION", "Bearer ", NULL };
    r.ctx = empty;
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 401, "empty Bearer: 401");

    const char *anon[] = { "REMOTE_ADDR", "10.0.0.1", NULL };
    r.ctx = anon;
    const char *pub[] = { "public" };
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 0 &&
             strcmp(cl->key, "a:10.0.0.1") == 0 &&
             fp_access_allow(a, cl, FP_RIGHTS_SUBSCRIBE, pub, 1, err) == 0 &&
             fp_access_allow(a, cl, FP_RIGHTS_SUBSCRIBE, chans, 1, err) == 401 &&
             fp_access_admit(a, cl, err) == 0, "anonymous: ACL rights, 401");
    fp_access_client_free(a, &cl);

    const char *alice[] = { "REMOTE_USER", "alice", "HTTP_X_GROUPS", "staff",
                            NULL };
    r.ctx = alice;
    const char *staff[] = { "staff.news" };
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 0 && cl->ambient &&
             fp_access_allow(a, cl, FP_RIGHTS_SUBSCRIBE, other, 1, err) == 0 &&
             fp_access_allow(a, cl, FP_RIGHTS_PUBLISH, staff, 1, err) == 0 &&
             fp_access_allow(a, cl, FP_RIGHTS_SUBSCRIBE, pub + 0, 1, err) == 0,
             "REMOTE_USER with groups through the ACL");
    fp_access_client_free(a, &cl);
    r.kind = FP_ACCESS_WS;
    FP_CHECK(fp_access_identify(a, &r, &cl, err) == 0 && !cl->p.authenticated,
             "fastpush-ws ignores REMOTE_USER without user-header");
    fp_access_client_free(a, &cl);
    json_t *st = json_object();
    fp_access_report(a, st);
    FP_CHECK(json_integer_value(json_object_get(st, "auth_forbidden")) == 1 &&
             json_integer_value(json_object_get(st,
                                                "user_connections_limited"))
             == 1, "counters");
    json_decref(st);
    fp_access_tick(a, 100000);
    free(t);
    fp_access_destroy(&a);
    unlink(kf);
    unlink(af);
}
#endif
