/*  libFuzzer target for JWT claims handling after the signature check
 *  (lib/rights.c s_jwt_rights through lib/access.c fp_access_identify,
 *  then fp_access_allow / fp_access_admit / fp_access_connect): the
 *  claims are the fuzzer's, the token is signed with the configured
 *  HS256 secret, so every input gets past the signature.
 *
 *  Input: one byte that picks where the token travels (Bearer header,
 *  cookie, query parameter, WebSocket subprotocol), then the claims
 *  (any bytes; valid ones are JSON objects with sub, exp, nbf and the
 *  "fastpush" claim's subscribe/publish pattern lists).  Checks: a
 *  client is either refused with 401 or authenticated, its patterns are
 *  usable (a valid channel or prefix plus '*', placeholders expanded),
 *  its limits key names its user, and the allow checks agree with
 *  fp_principal_can.
 */
#include "access.h"
#include "conf.h"
#include "err.h"
#include "event.h"
#include "rights.h"
#include "fuzz.h"
#include "fuzz_file.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

#define SECRET "0123456789abcdef0123456789abcdef-fuzz"

static fp_access_t *s_access;

static void
s_b64url(fp_buf_t *b, const uint8_t *p, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvw"
                            "xyz0123456789-_";
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t) p[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t) p[i + 1] << 8;
        if (i + 2 < n)
            v |= p[i + 2];
        fp_buf_addc(b, a[(v >> 18) & 63]);
        fp_buf_addc(b, a[(v >> 12) & 63]);
        if (i + 1 < n)
            fp_buf_addc(b, a[(v >> 6) & 63]);
        if (i + 2 < n)
            fp_buf_addc(b, a[v & 63]);
    }
}

/*  header.claims.signature, HS256 with SECRET.  */
static char *
s_sign(const uint8_t *claims, size_t n)
{
    static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    fp_buf_t b;

    fp_buf_init(&b);
    s_b64url(&b, (const uint8_t *) hdr, sizeof hdr - 1);
    fp_buf_addc(&b, '.');
    s_b64url(&b, claims, n);
    HMAC(EVP_sha256(), SECRET, sizeof SECRET - 1, (unsigned char *) b.data,
         b.len, mac, &maclen);
    fp_buf_addc(&b, '.');
    s_b64url(&b, mac, maclen);
    return fp_buf_detach(&b, NULL);
}

typedef struct {
    const char *auth, *cookie, *query;
} hdrs_t;

static const char *
s_get(const void *ctx, const char *name)
{
    const hdrs_t *h = ctx;
    if (strcmp(name, "HTTP_AUTHORIZATION") == 0)
        return h->auth;
    if (strcmp(name, "HTTP_COOKIE") == 0)
        return h->cookie;
    if (strcmp(name, "QUERY_STRING") == 0)
        return h->query;
    if (strcmp(name, "REMOTE_ADDR") == 0)
        return "192.0.2.7";
    return NULL;
}

static void
s_setup(void)
{
    char err[FP_ERR_LEN];
    fp_access_conf_t c = {
        .on = true, .jwt_alg = "HS256", .jwt_claim = "fastpush",
        .jwt_key = (char *) fuzz_file_write("key", SECRET, sizeof SECRET - 1),
        .token_cookie = "fp_token", .token_query = "access_token",
        .max_user_connections = 2, .publish_rate = 5,
    };
    s_access = fp_access_new(&c, err);
    FUZZ_CHECK(s_access != NULL, err);
}

static void
s_check_client(fp_access_client_t *cl)
{
    static const char *chans[] = { "news", "user.alice", "a", "chat.room1" };
    char err[FP_ERR_LEN];

    FUZZ_CHECK(cl->p.authenticated, "a token that passed is authenticated");
    const fp_strlist_t *ls[2] = { &cl->p.subscribe, &cl->p.publish };
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < ls[k]->count; i++) {
            const char *s = ls[k]->items[i];
            size_t n = strlen(s);
            n -= n > 0 && s[n - 1] == '*';
            FUZZ_CHECK(n == 0 || fp_channel_valid(s, n), "unusable pattern");
        }
    FUZZ_CHECK(strncmp(cl->key, cl->p.user ? "u:" : "a:", 2) == 0, "key");
    for (int i = 0; i < 4; i++) {
        int st = fp_access_allow(s_access, cl, FP_RIGHTS_SUBSCRIBE, &chans[i],
                                 1, err);
        FUZZ_CHECK((st == 0) == fp_principal_can(&cl->p, FP_RIGHTS_SUBSCRIBE,
                   chans[i]) && (st == 0 || st == 403), "allow");
    }
    (void) fp_access_admit(s_access, cl, err);
    (void) fp_access_connect(s_access, cl, err);
    (void) fp_access_publish(s_access, cl, 0, err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!s_access)
        s_setup();
    if (size < 1)
        return 0;
    char *tok = s_sign(data + 1, size - 1);
    size_t n = strlen(tok) + 64;
    char *auth = malloc(n), *cookie = malloc(n), *query = malloc(n);
    hdrs_t h = { NULL, NULL, NULL };
    fp_access_req_t req = { s_get, &h, FP_ACCESS_FCGI, NULL };
    fp_access_client_t *cl = NULL;
    char err[FP_ERR_LEN];

    snprintf(auth, n, "Bearer %s", tok);
    snprintf(cookie, n, "a=b; fp_token=%s; c=d", tok);
    snprintf(query, n, "x=1&access_token=%s", tok);
    switch (data[0] & 3) {
    case 0: h.auth = auth; break;
    case 1: h.cookie = cookie; break;
    case 2: h.query = query; break;
    case 3: req.kind = FP_ACCESS_WS; req.bearer = tok; break;
    }
    int st = fp_access_identify(s_access, &req, &cl, err);
    FUZZ_CHECK(st == 0 || st == 401, "identify status");
    FUZZ_CHECK((st == 0) == (cl != NULL), "client exactly when admitted");
    if (cl)
        s_check_client(cl);
    fp_access_client_free(s_access, &cl);
    fp_access_tick(s_access, 1000000);
    free(tok);
    free(auth);
    free(cookie);
    free(query);
    return 0;
}
