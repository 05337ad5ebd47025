/*  rights: JWT and REMOTE_USER authorization (see rights.h).  */
#include "rights.h"
#include "event.h"
#include "json.h"
#include "mem.h"

#include <errno.h>
#include <jwt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int kind;                   /*  RULE_*  */
    char *name;                 /*  user or group name  */
    int actions;                /*  FP_RIGHTS_* bits  */
    fp_strlist_t patterns;      /*  with {user} unexpanded  */
} rule_t;

enum { RULE_USER, RULE_GROUP, RULE_AUTHENTICATED, RULE_ANONYMOUS };

struct fp_rights {
    jwt_alg_t alg;              /*  JWT_ALG_NONE when JWT is off  */
    unsigned char *key;
    int key_len;
    char *claim;
    int64_t leeway_ms;
    rule_t *rules;
    int nrules;
};

/* ------------------------------------------------------------ patterns */

bool
fp_rights_pattern_match(const char *pattern, const char *channel)
{
    size_t n = strlen(pattern);
    if (n > 0 && pattern[n - 1] == '*')
        return strncmp(pattern, channel, n - 1) == 0;
    return strcmp(pattern, channel) == 0;
}

/*  Replace {name} by value; false if the result is not a usable pattern
 *  (a placeholder without value, characters no channel can have).  */
static bool
s_expand(const char *pattern, const char *sub, const char *user,
         fp_buf_t *out)
{
    fp_buf_reset(out);
    for (const char *p = pattern; *p;) {
        const char *v = NULL;
        size_t skip = 0;
        if (strncmp(p, "{sub}", 5) == 0)
            v = sub, skip = 5;
        else if (strncmp(p, "{user}", 6) == 0)
            v = user, skip = 6;
        if (skip) {
            if (!v || !*v)
                return false;
            fp_buf_adds(out, v);
            p += skip;
        } else {
            fp_buf_addc(out, *p++);
        }
    }
    size_t n = out->len;
    bool star = n > 0 && out->data[n - 1] == '*';
    if (star)
        return n == 1 || fp_channel_valid(out->data, n - 1);
    return fp_channel_valid(out->data ? out->data : "", n);
}

static void
s_grant(fp_principal_t *p, int actions, const fp_strlist_t *patterns,
        const char *sub, const char *user)
{
    fp_buf_t b;
    fp_buf_init(&b);
    for (int i = 0; i < patterns->count; i++) {
        if (!s_expand(patterns->items[i], sub, user, &b))
            continue;
        if (actions & FP_RIGHTS_SUBSCRIBE)
            fp_strlist_add(&p->subscribe, b.data);
        if (actions & FP_RIGHTS_PUBLISH)
            fp_strlist_add(&p->publish, b.data);
    }
    fp_buf_free(&b);
}

bool
fp_principal_can(const fp_principal_t *p, int action, const char *channel)
{
    const fp_strlist_t *l = action == FP_RIGHTS_PUBLISH ? &p->publish
                                                      : &p->subscribe;
    for (int i = 0; i < l->count; i++)
        if (fp_rights_pattern_match(l->items[i], channel))
            return true;
    return false;
}

void
fp_principal_clear(fp_principal_t *p)
{
    free(p->user);
    free(p->user_info);
    fp_strlist_free(&p->subscribe);
    fp_strlist_free(&p->publish);
    memset(p, 0, sizeof *p);
}

/* ------------------------------------------------------------ ACL file */

static int
s_actions(const char *word)
{
    if (strcmp(word, "subscribe") == 0)
        return FP_RIGHTS_SUBSCRIBE;
    if (strcmp(word, "publish") == 0)
        return FP_RIGHTS_PUBLISH;
    if (strcmp(word, "both") == 0)
        return FP_RIGHTS_SUBSCRIBE | FP_RIGHTS_PUBLISH;
    return 0;
}

/*  One line: WHO [NAME] ACTION PATTERN...  */
static int
s_rule(fp_rights_t *a, char **argv, int argc, char *why)
{
    rule_t r = { 0 };
    int i = 1;
    if (!strcmp(argv[0], "user") || !strcmp(argv[0], "group")) {
        r.kind = argv[0][0] == 'u' ? RULE_USER : RULE_GROUP;
        if (argc < 2) {
            snprintf(why, FP_ERR_LEN, "%s needs a name", argv[0]);
            return -1;
        }
        r.name = argv[i++];
    } else if (!strcmp(argv[0], "authenticated")) {
        r.kind = RULE_AUTHENTICATED;
    } else if (!strcmp(argv[0], "anonymous")) {
        r.kind = RULE_ANONYMOUS;
    } else {
        snprintf(why, FP_ERR_LEN, "'%s': expected user, group, authenticated "
                 "or anonymous", argv[0]);
        return -1;
    }
    if (i >= argc || !(r.actions = s_actions(argv[i]))) {
        snprintf(why, FP_ERR_LEN, "expected subscribe, publish or both");
        return -1;
    }
    if (++i >= argc) {
        snprintf(why, FP_ERR_LEN, "no channel patterns");
        return -1;
    }
    r.name = r.name ? fp_strdup(r.name) : NULL;
    for (; i < argc; i++)
        fp_strlist_add(&r.patterns, argv[i]);
    a->rules = fp_realloc(a->rules, (size_t) (a->nrules + 1) * sizeof *a->rules);
    a->rules[a->nrules++] = r;
    return 0;
}

static int
s_load_acl(fp_rights_t *a, const char *path, char *err)
{
    char line[4096], *argv[256], why[FP_ERR_LEN];
    FILE *f = fopen(path, "r");
    int lineno = 0;

    if (!f) {
        snprintf(err, FP_ERR_LEN, "%s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        int argc = fp_conf_split(line, argv, 256);
        if (argc == 0)
            continue;
        if (argc < 0 || s_rule(a, argv, argc, why) < 0) {
            snprintf(err, FP_ERR_LEN, "%s:%d: %s", path, lineno,
                     argc < 0 ? "unreadable line" : why);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

static bool
s_in_groups(const char *groups, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = groups ? groups : ""; *p;) {
        size_t len = strcspn(p, ", \t");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
        p += strspn(p, ", \t");
    }
    return false;
}

static void
s_acl_rights(fp_rights_t *a, const fp_rights_input_t *in, fp_principal_t *p)
{
    const char *user = in->remote_user && *in->remote_user ? in->remote_user
                                                           : NULL;
    for (int i = 0; i < a->nrules; i++) {
        rule_t *r = &a->rules[i];
        bool applies =
            (r->kind == RULE_ANONYMOUS) ||
            (r->kind == RULE_AUTHENTICATED && user) ||
            (r->kind == RULE_USER && user && strcmp(r->name, user) == 0) ||
            (r->kind == RULE_GROUP && user && s_in_groups(in->groups,
                                                          r->name));
        if (applies)
            s_grant(p, r->actions, &r->patterns, NULL, user);
    }
    if (user && !p->user) {
        p->user = fp_strdup(user);
        p->authenticated = true;
    }
}

/* ------------------------------------------------------------ JWT */

/*  base64url without padding -> bytes (NUL-terminated).  */
static char *
s_b64url(const char *in, size_t len)
{
    static const char *alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
                               "rstuvwxyz0123456789-_";
    char *out = fp_malloc(len * 3 / 4 + 4);
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        const char *k = in[i] ? strchr(alpha, in[i]) : NULL;
        if (!k) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (uint32_t) (k - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (char) ((acc >> bits) & 0xff);
        }
    }
    out[n] = '\0';
    return out;
}

/*  The token's header must name exactly the configured algorithm.  */
static int
s_check_header(fp_rights_t *a, const char *token, char *err)
{
    const char *dot = strchr(token, '.');
    char *hdr = dot ? s_b64url(token, (size_t) (dot - token)) : NULL;
    json_t *h = hdr ? json_loads(hdr, 0, NULL) : NULL;
    const char *alg = json_string_value(json_object_get(h, "alg"));
    int rc = 0;

    if (!h || !alg) {
        snprintf(err, FP_ERR_LEN, "malformed token");
        rc = -1;
    } else if (jwt_str_alg(alg) != a->alg) {
        snprintf(err, FP_ERR_LEN, "token algorithm %.16s is not accepted "
                 "(expected %s)", alg, jwt_alg_str(a->alg));
        rc = -1;
    }
    json_decref(h);
    free(hdr);
    return rc;
}

/*  A NumericDate (seconds) in ms, held within +-INT64_MAX / 2 so that
 *  adding a leeway or a clock offset cannot overflow: a token's time so
 *  far away means the same as the bound.  */
static int64_t
s_claim_ms(json_t *v)
{
    const int64_t bound = INT64_MAX / 2 / 1000;
    json_int_t s = json_integer_value(v);
    if (s > bound)
        s = bound;
    if (s < -bound)
        s = -bound;
    return (int64_t) s * 1000;
}

/*  exp and nbf against now; *expires = exp in ms (0 without one).  */
static int
s_check_times(fp_rights_t *a, json_t *claims, int64_t now, int64_t *expires,
              char *err)
{
    json_t *exp = json_object_get(claims, "exp");
    json_t *nbf = json_object_get(claims, "nbf");
    if ((exp && !json_is_integer(exp)) || (nbf && !json_is_integer(nbf))) {
        snprintf(err, FP_ERR_LEN, "exp and nbf must be integers");
        return -1;
    }
    if (exp && s_claim_ms(exp) + a->leeway_ms <= now) {
        snprintf(err, FP_ERR_LEN, "token expired");
        return -1;
    }
    if (nbf && s_claim_ms(nbf) - a->leeway_ms > now) {
        snprintf(err, FP_ERR_LEN, "token not valid yet");
        return -1;
    }
    *expires = exp ? s_claim_ms(exp) : 0;
    return 0;
}

/*  Every claim of a token whose header, signature and times are good
 *  (the caller decrefs), or NULL with err.  */
static json_t *
s_verify(fp_rights_t *a, const char *token, int64_t now, int64_t *expires,
         char *err)
{
    jwt_t *jwt = NULL;
    if (s_check_header(a, token, err) < 0)
        return NULL;
    if (jwt_decode(&jwt, token, a->key, a->key_len) != 0 ||
        jwt_get_alg(jwt) != a->alg) {
        snprintf(err, FP_ERR_LEN, "token signature is not valid");
        jwt_free(jwt);
        return NULL;
    }
    char *text = jwt_get_grants_json(jwt, NULL);
    json_t *claims = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    jwt_free(jwt);
    if (!claims)
        snprintf(err, FP_ERR_LEN, "malformed token claims");
    else if (s_check_times(a, claims, now, expires, err) < 0)
        json_decref(claims);
    else
        return claims;
    return NULL;
}

static void
s_claim_patterns(json_t *list, fp_strlist_t *out)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v)
        if (json_is_string(v))
            fp_strlist_add(out, json_string_value(v));
}

static int
s_jwt_rights(fp_rights_t *a, const char *token, int64_t now,
             fp_principal_t *p, char *err)
{
    json_t *claims = s_verify(a, token, now, &p->expires_ms, err);
    if (!claims)
        return -1;
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    json_t *c = json_object_get(claims, a->claim);
    fp_strlist_t s = { 0 }, pub = { 0 };
    s_claim_patterns(json_object_get(c, "subscribe"), &s);
    s_claim_patterns(json_object_get(c, "publish"), &pub);
    s_grant(p, FP_RIGHTS_SUBSCRIBE, &s, sub, NULL);
    s_grant(p, FP_RIGHTS_PUBLISH, &pub, sub, NULL);
    fp_strlist_free(&s);
    fp_strlist_free(&pub);
    p->user = sub ? fp_strdup(sub) : NULL;
    json_t *info = json_object_get(c, "user_info");
    if (info)
        p->user_info = fp_json_dump(info, NULL);
    p->authenticated = true;
    json_decref(claims);
    return 0;
}

/* ------------------------------------------------------------ API */

static int
s_load_key(fp_rights_t *a, const fp_rights_conf_t *c, char *err)
{
    a->alg = jwt_str_alg(c->jwt_alg ? c->jwt_alg : "HS256");
    if (a->alg != JWT_ALG_HS256 && a->alg != JWT_ALG_RS256) {
        snprintf(err, FP_ERR_LEN, "jwt-alg must be HS256 or RS256");
        return -1;
    }
    FILE *f = fopen(c->jwt_key_file, "rb");
    if (!f) {
        snprintf(err, FP_ERR_LEN, "%s: %s", c->jwt_key_file, strerror(errno));
        return -1;
    }
    fp_buf_t b;
    char chunk[4096];
    size_t n;
    fp_buf_init(&b);
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && b.len < 65536)
        fp_buf_add(&b, chunk, n);
    fclose(f);
    if (a->alg == JWT_ALG_HS256)
        while (b.len > 0 && strchr("\r\n \t", b.data[b.len - 1]))
            b.data[--b.len] = '\0';
    if (b.len == 0 || (a->alg == JWT_ALG_HS256 && b.len < 32)) {
        snprintf(err, FP_ERR_LEN, "%s: %s", c->jwt_key_file, b.len == 0
                 ? "empty key" : "an HS256 secret needs at least 32 bytes");
        fp_buf_free(&b);
        return -1;
    }
    a->key_len = (int) b.len;
    a->key = (unsigned char *) fp_buf_detach(&b, NULL);
    return 0;
}

fp_rights_t *
fp_rights_new(const fp_rights_conf_t *c, char *err)
{
    fp_rights_t *a = fp_calloc(1, sizeof *a);
    a->claim = fp_strdup(c->jwt_claim && *c->jwt_claim ? c->jwt_claim
                                                        : "fastpush");
    a->leeway_ms = c->leeway_ms;
    if ((c->jwt_key_file && *c->jwt_key_file && s_load_key(a, c, err) < 0) ||
        (c->acl_file && *c->acl_file && s_load_acl(a, c->acl_file, err) < 0))
        fp_rights_destroy(&a);
    return a;
}

void
fp_rights_destroy(fp_rights_t **auth_p)
{
    fp_rights_t *a = *auth_p;
    if (!a)
        return;
    *auth_p = NULL;
    for (int i = 0; i < a->nrules; i++) {
        free(a->rules[i].name);
        fp_strlist_free(&a->rules[i].patterns);
    }
    free(a->rules);
    free(a->key);
    free(a->claim);
    free(a);
}

int
fp_rights_check(fp_rights_t *a, const fp_rights_input_t *in, int64_t now,
              fp_principal_t *p, char *err)
{
    memset(p, 0, sizeof *p);
    if (in->token && *in->token) {
        if (a->alg == JWT_ALG_NONE) {
            snprintf(err, FP_ERR_LEN, "tokens are not accepted here");
            return -1;
        }
        if (s_jwt_rights(a, in->token, now, p, err) < 0) {
            fp_principal_clear(p);
            return -1;
        }
    }
    s_acl_rights(a, in, p);
    return 0;
}

json_t *
fp_rights_claim(fp_rights_t *a, const char *token, int64_t now_ms,
                int64_t *expires_ms, char *err)
{
    if (a->alg == JWT_ALG_NONE) {
        snprintf(err, FP_ERR_LEN, "tokens are not accepted here");
        return NULL;
    }
    json_t *claims = s_verify(a, token, now_ms, expires_ms, err);
    if (!claims)
        return NULL;
    json_t *c = json_incref(json_object_get(claims, a->claim));
    json_decref(claims);
    if (!c)
        c = json_null();
    return c;
}

char *
fp_rights_token(const char *authorization, const char *cookies,
              const char *cookie_name, const char *query_value)
{
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        const char *t = authorization + 7;
        while (*t == ' ')
            t++;
        if (*t)
            return fp_strdup(t);
    }
    size_t n = cookie_name ? strlen(cookie_name) : 0;
    for (const char *c = n ? cookies : NULL; c && *c;) {
        c += strspn(c, "; ");
        size_t len = strcspn(c, ";");
        if (len > n && strncmp(c, cookie_name, n) == 0 && c[n] == '=')
            return fp_strndup(c + n + 1, len - n - 1);
        c += len;
    }
    if (query_value && *query_value)
        return fp_strdup(query_value);
    return NULL;
}

#ifdef FP_TEST
#include "test.h"

#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

static char *
s_tmpfile(const char *data, size_t len)
{
    char *path = fp_strdup("/tmp/fp-auth-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0 || write(fd, data, len) != (ssize_t) len) {
        free(path);
        return NULL;
    }
    close(fd);
    return path;
}

static char *
s_token(jwt_alg_t alg, const unsigned char *key, int klen, const char *sub,
        long exp, long nbf, const char *claim_json)
{
    jwt_t *jwt = NULL;
    jwt_new(&jwt);
    if (sub)
        jwt_add_grant(jwt, "sub", sub);
    if (exp)
        jwt_add_grant_int(jwt, "exp", exp);
    if (nbf)
        jwt_add_grant_int(jwt, "nbf", nbf);
    if (claim_json)
        jwt_add_grants_json(jwt, claim_json);
    jwt_set_alg(jwt, alg, key, klen);
    char *t = jwt_encode_str(jwt);
    jwt_free(jwt);
    return t;
}

static const char *s_claims = "{\"fastpush\":{\"subscribe\":[\"news\","
                              "\"user.{sub}\",\"room.*\"],"
                              "\"publish\":[\"room.*\"]}}";

static void
s_test_hs256(void)
{
    const char *secret = "0123456789abcdef0123456789abcdef";
    char *kf = s_tmpfile(secret, strlen(secret));
    char err[FP_ERR_LEN];
    fp_rights_conf_t c = { .jwt_key_file = kf, .jwt_alg = "HS256" };
    fp_rights_t *a = fp_rights_new(&c, err);
    int64_t now = 1800000000000LL;
    fp_principal_t p;
    FP_CHECK(a != NULL, "HS256 key loads");

    char *t = s_token(JWT_ALG_HS256, (const unsigned char *) secret, 32,
                      "alice", 1800000100, 0, s_claims);
    fp_rights_input_t in = { .token = t };
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == 0 && p.authenticated &&
             p.expires_ms == 1800000100000LL, "valid token");
    FP_CHECK(fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "news") &&
             fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "user.alice") &&
             !fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "user.bob") &&
             fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "room.42") &&
             !fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "room") &&
             !fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "newsletter"),
             "subscribe patterns: exact, {sub}, trailing wildcard");
    FP_CHECK(fp_principal_can(&p, FP_RIGHTS_PUBLISH, "room.1") &&
             !fp_principal_can(&p, FP_RIGHTS_PUBLISH, "news"), "publish");
    fp_principal_clear(&p);
    free(t);

    struct { long exp, nbf; const char *key, *want; } bad[] = {
        { 1799999999, 0, secret, "expired" },
        { 0, 1800000100, secret, "not valid yet" },
        { 0, 0, "another secret of at least 32 bytes!", "signature" },
    };
    for (int i = 0; i < 3; i++) {
        t = s_token(JWT_ALG_HS256, (const unsigned char *) bad[i].key,
                    (int) strlen(bad[i].key), "alice", bad[i].exp, bad[i].nbf,
                    s_claims);
        in.token = t;
        FP_CHECK(fp_rights_check(a, &in, now, &p, err) == -1 &&
                 strstr(err, bad[i].want), bad[i].want);
        free(t);
    }
    /*  exp/nbf far away (found by tests/fuzz/jwt_fuzz: seconds * 1000
     *  overflowed): valid for ever / expired long ago, no wrap-around  */
    t = s_token(JWT_ALG_HS256, (const unsigned char *) secret, 32, "alice",
                LONG_MAX, 0, s_claims);
    in.token = t;
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == 0 &&
             p.expires_ms > now, "exp far in the future");
    fp_principal_clear(&p);
    free(t);
    t = s_token(JWT_ALG_HS256, (const unsigned char *) secret, 32, "alice",
                LONG_MIN + 1, LONG_MAX, s_claims);
    in.token = t;
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == -1, "exp long ago");
    free(t);
    /*  alg none: header {"alg":"none"}, payload {"fastpush":...}  */
    in.token = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhbGljZSIsImZh"
               "c3RwdXNoIjp7InN1YnNjcmliZSI6WyIqIl19fQ.";
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == -1 &&
             strstr(err, "algorithm"), "alg none refused");
    in.token = "not.a.token";
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == -1, "malformed");
    in.token = "x";
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == -1, "garbage");
    in.token = NULL;
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == 0 && !p.authenticated &&
             !fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "news"),
             "no token, no ACL: no rights");
    fp_principal_clear(&p);
    fp_rights_destroy(&a);
    unlink(kf);
    free(kf);
}

static void
s_test_rs256(void)
{
    EVP_PKEY *k = EVP_RSA_gen(2048);
    BIO *priv = BIO_new(BIO_s_mem()), *pub = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(priv, k, NULL, NULL, 0, NULL, NULL);
    PEM_write_bio_PUBKEY(pub, k);
    char *pd, *ud;
    long pl = BIO_get_mem_data(priv, &pd), ul = BIO_get_mem_data(pub, &ud);
    char *kf = s_tmpfile(ud, (size_t) ul), err[FP_ERR_LEN];
    fp_rights_conf_t c = { .jwt_key_file = kf, .jwt_alg = "RS256" };
    fp_rights_t *a = fp_rights_new(&c, err);
    fp_principal_t p;
    int64_t now = 1800000000000LL;

    char *t = s_token(JWT_ALG_RS256, (unsigned char *) pd, (int) pl, "bob",
                      1800000100, 0, s_claims);
    fp_rights_input_t in = { .token = t };
    FP_CHECK(a && fp_rights_check(a, &in, now, &p, err) == 0 &&
             fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "user.bob"),
             "RS256 token verified with the public key");
    fp_principal_clear(&p);
    free(t);
    /*  HS/RS confusion: HS256 signed with the public key as secret  */
    t = s_token(JWT_ALG_HS256, (unsigned char *) ud, (int) ul, "bob",
                1800000100, 0, s_claims);
    in.token = t;
    FP_CHECK(fp_rights_check(a, &in, now, &p, err) == -1 &&
             strstr(err, "algorithm"), "HS256 token refused by an RS256 key");
    free(t);
    fp_rights_destroy(&a);
    unlink(kf);
    free(kf);
    BIO_free(priv);
    BIO_free(pub);
    EVP_PKEY_free(k);
}

static void
s_test_acl(void)
{
    const char *acl = "# rules\nuser alice subscribe news user.{user}\n"
                      "group staff publish announcements\n"
                      "authenticated subscribe public.*\n"
                      "anonymous subscribe open\n";
    char *f = s_tmpfile(acl, strlen(acl)), err[FP_ERR_LEN];
    fp_rights_conf_t c = { .acl_file = f };
    fp_rights_t *a = fp_rights_new(&c, err);
    fp_principal_t p;
    fp_rights_input_t in = { .remote_user = "alice", .groups = "dev, staff" };

    FP_CHECK(a && fp_rights_check(a, &in, 0, &p, err) == 0 && p.authenticated,
             "REMOTE_USER is authenticated");
    FP_CHECK(fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "user.alice") &&
             fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "public.x") &&
             fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "open") &&
             fp_principal_can(&p, FP_RIGHTS_PUBLISH, "announcements") &&
             !fp_principal_can(&p, FP_RIGHTS_PUBLISH, "news"),
             "user, group, authenticated and anonymous rules add up");
    fp_principal_clear(&p);
    in.remote_user = NULL;
    FP_CHECK(fp_rights_check(a, &in, 0, &p, err) == 0 && !p.authenticated &&
             fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "open") &&
             !fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "public.x"),
             "anonymous gets only anonymous rules");
    fp_principal_clear(&p);
    in.remote_user = "bad user";
    FP_CHECK(fp_rights_check(a, &in, 0, &p, err) == 0 &&
             !fp_principal_can(&p, FP_RIGHTS_SUBSCRIBE, "user.bad user"),
             "a {user} that is no channel name matches nothing");
    fp_principal_clear(&p);
    in.token = "x.y.z";
    FP_CHECK(fp_rights_check(a, &in, 0, &p, err) == -1 &&
             strstr(err, "not accepted"), "tokens refused without a key");
    fp_rights_destroy(&a);
    unlink(f);
    free(f);
    f = s_tmpfile("user alice\n", 11);
    c.acl_file = f;
    FP_CHECK(!fp_rights_new(&c, err) && strstr(err, ":1:"), "ACL error line");
    unlink(f);
    free(f);
}

void
fp_rights_test(void)
{
    s_test_hs256();
    s_test_rs256();
    s_test_acl();
    char *t = fp_rights_token("Bearer abc", NULL, NULL, NULL);
    FP_CHECK(t && strcmp(t, "abc") == 0, "bearer header");
    free(t);
    t = fp_rights_token(NULL, "a=1; fp_token=xyz; b=2", "fp_token", "q");
    FP_CHECK(t && strcmp(t, "xyz") == 0, "cookie");
    free(t);
    t = fp_rights_token("Basic zzz", NULL, "fp_token", "q");
    FP_CHECK(t && strcmp(t, "q") == 0, "query fallback");
    free(t);
    FP_CHECK(!fp_rights_token(NULL, NULL, NULL, NULL), "none");
}
#endif
