/*  sockauth: CURVE and the publish token on the broker's sockets
 *  (sockauth.h).  */
#include "sockauth.h"
#include "mem.h"

#include <openssl/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

fp_sockauth_conf_t fp_sockauth_conf;

const fp_conf_opt_t fp_sockauth_opts[] = {
    { "broker-curve-server-key", FP_CONF_STR, &fp_sockauth_conf.curve_server_key,
      0, 0, NULL, "the broker's public CURVE certificate (with "
      "broker-curve-key: talk CURVE to a broker that requires it)" },
    { "broker-curve-key", FP_CONF_STR, &fp_sockauth_conf.curve_key, 0, 0, NULL,
      "this program's secret CURVE certificate (NAME_secret from "
      "fastpush keygen)" },
    { "broker-token", FP_CONF_STR, &fp_sockauth_conf.token, 0, 0, NULL,
      "the broker's publish-token, sent with every request" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

static bool
s_set(const char *s)
{
    return s && *s;
}

/*  A certificate from a file; NULL with err.  */
static zcert_t *
s_load(const char *path, bool secret, char *err)
{
    if (access(path, R_OK) != 0) {
        snprintf(err, FP_ERR_LEN, "%s: cannot read the certificate", path);
        return NULL;
    }
    zcert_t *cert = zcert_load(path);
    static const char zeros[41] = "0000000000000000000000000000000000000000";
    if (!cert || (secret && strcmp(zcert_secret_txt(cert), zeros) == 0)) {
        snprintf(err, FP_ERR_LEN, "%s: not a%s CURVE certificate", path,
                 secret ? " secret" : "");
        zcert_destroy(&cert);
        return NULL;
    }
    return cert;
}

int
fp_sockauth_client(const fp_sockauth_conf_t *c, zsock_t *sock, char *err)
{
    if (!s_set(c->curve_server_key) && !s_set(c->curve_key))
        return 0;
    if (!s_set(c->curve_server_key) || !s_set(c->curve_key)) {
        snprintf(err, FP_ERR_LEN, "CURVE needs both the broker's public "
                 "certificate and this client's secret one");
        return -1;
    }
    if (!zsys_has_curve()) {
        snprintf(err, FP_ERR_LEN, "this libzmq has no CURVE support");
        return -1;
    }
    zcert_t *server = s_load(c->curve_server_key, false, err);
    zcert_t *mine = server ? s_load(c->curve_key, true, err) : NULL;
    if (mine) {
        zcert_apply(mine, sock);
        zsock_set_curve_serverkey(sock, zcert_public_txt(server));
    }
    zcert_destroy(&server);
    bool ok = mine != NULL;
    zcert_destroy(&mine);
    return ok ? 0 : -1;
}

const char *
fp_sockauth_token(const fp_sockauth_conf_t *c)
{
    return s_set(c->token) ? c->token : NULL;
}

struct fp_sockauth_server {
    zcert_t *cert;
    zactor_t *auth;
};

fp_sockauth_server_t *
fp_sockauth_server_new(const char *secret_cert, const char *clients_dir,
                   char *err)
{
    struct stat st;
    if (!zsys_has_curve()) {
        snprintf(err, FP_ERR_LEN, "this libzmq has no CURVE support");
        return NULL;
    }
    if (!s_set(clients_dir) || stat(clients_dir, &st) != 0 ||
        !S_ISDIR(st.st_mode)) {
        snprintf(err, FP_ERR_LEN, "curve-clients: '%s' is not a directory "
                 "(of the public certificates of allowed clients)",
                 clients_dir ? clients_dir : "");
        return NULL;
    }
    fp_sockauth_server_t *s = fp_calloc(1, sizeof *s);
    s->cert = s_load(secret_cert, true, err);
    if (!s->cert) {
        free(s);
        return NULL;
    }
    s->auth = zactor_new(zauth, NULL);
    zstr_sendx(s->auth, "CURVE", clients_dir, NULL);
    zsock_wait(s->auth);
    return s;
}

void
fp_sockauth_server_apply(fp_sockauth_server_t *s, zsock_t *sock)
{
    zcert_apply(s->cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, "fastpush");
}

void
fp_sockauth_server_destroy(fp_sockauth_server_t **s_p)
{
    fp_sockauth_server_t *s = *s_p;
    if (!s)
        return;
    *s_p = NULL;
    zactor_destroy(&s->auth);
    zcert_destroy(&s->cert);
    free(s);
}

bool
fp_sockauth_token_ok(const char *want, const void *got, size_t len)
{
    size_t n = strlen(want);
    return got && len == n && CRYPTO_memcmp(want, got, n) == 0;
}

#ifdef FP_TEST
#include "test.h"

/*  Certificates in a temp dir: the broker's (NAME and NAME_secret, as
 *  `fastpush keygen` writes them), an allowed client's whose public half
 *  is in clients/, and a stranger's that is not.  */
typedef struct {
    char dir[32], clients[64];
    char server[64], server_secret[80], client[96];
    char client_secret[80], stranger_secret[80];
} s_certs_t;

static void
s_cert(const char *path, const char *secret_path)
{
    zcert_t *c = zcert_new();
    zcert_save_public(c, path);
    zcert_save_secret(c, secret_path);
    zcert_destroy(&c);
}

static bool
s_certs(s_certs_t *k)
{
    char pub[96];
    snprintf(k->dir, sizeof k->dir, "/tmp/fp-unit-XXXXXX");
    if (!mkdtemp(k->dir))
        return false;
    snprintf(k->clients, sizeof k->clients, "%s/clients", k->dir);
    snprintf(k->server, sizeof k->server, "%s/broker", k->dir);
    snprintf(k->server_secret, sizeof k->server_secret, "%s/broker_secret",
             k->dir);
    snprintf(k->client_secret, sizeof k->client_secret, "%s/app_secret",
             k->dir);
    snprintf(k->stranger_secret, sizeof k->stranger_secret,
             "%s/stranger_secret", k->dir);
    snprintf(k->client, sizeof k->client, "%s/app", k->clients);
    mkdir(k->clients, 0700);
    s_cert(k->server, k->server_secret);
    s_cert(k->client, k->client_secret);
    snprintf(pub, sizeof pub, "%s/stranger", k->dir);
    s_cert(pub, k->stranger_secret);
    return access(k->stranger_secret, R_OK) == 0;
}

static void
s_certs_remove(s_certs_t *k)
{
    const char *names[] = { "clients/app", "broker",
                            "broker_secret", "stranger", "stranger_secret",
                            "app_secret", "clients", NULL };
    char path[96];
    for (int i = 0; names[i]; i++) {
        snprintf(path, sizeof path, "%s/%s", k->dir, names[i]);
        if (unlink(path) != 0)
            rmdir(path);
    }
    rmdir(k->dir);
}

/*  A DEALER set up by fp_sockauth_client with `secret` (NULL: plain)
 *  sends "hi" to endpoint; did the server's PULL get it within ms?  */
static bool
s_reaches(zsock_t *server, const char *endpoint, const char *server_pub,
          const char *secret, int ms)
{
    char err[FP_ERR_LEN];
    fp_sockauth_conf_t conf = { .curve_server_key = (char *) server_pub,
                                .curve_key = (char *) secret };
    zsock_t *client = zsock_new(ZMQ_PUSH);
    zsock_set_linger(client, 0);
    bool ok = false;
    if ((secret == NULL || fp_sockauth_client(&conf, client, err) == 0) &&
        zsock_connect(client, "%s", endpoint) == 0 &&
        zstr_send(client, "hi") == 0) {
        zsock_set_rcvtimeo(server, ms);
        char *got = zstr_recv(server);
        ok = got && strcmp(got, "hi") == 0;
        zstr_free(&got);
    }
    zsock_destroy(&client);
    return ok;
}

static void
s_test_token(void)
{
    fp_sockauth_conf_t conf = { 0 };
    FP_CHECK(fp_sockauth_token(&conf) == NULL, "no token");
    conf.token = "";
    FP_CHECK(fp_sockauth_token(&conf) == NULL, "an empty token is none");
    conf.token = "s3cret";
    FP_CHECK(fp_sockauth_token(&conf) == conf.token, "the token");
    FP_CHECK(fp_sockauth_token_ok("s3cret", "s3cret", 6), "the right token");
    FP_CHECK(!fp_sockauth_token_ok("s3cret", "s3creT", 6) &&
             !fp_sockauth_token_ok("s3cret", "s3cre", 5) &&
             !fp_sockauth_token_ok("s3cret", "s3cret!", 7) &&
             !fp_sockauth_token_ok("s3cret", "", 0) &&
             !fp_sockauth_token_ok("s3cret", NULL, 6),
             "a wrong, short, long, empty or missing token is refused");
    FP_CHECK(!fp_sockauth_token_ok("s3cret", "s3cret\0", 7),
             "a NUL after the token is not the token");
}

static void
s_test_curve(void)
{
    char err[FP_ERR_LEN], endpoint[64];
    s_certs_t k;
    zsock_t *plain = zsock_new(ZMQ_PUSH);
    fp_sockauth_conf_t conf = { 0 };

    FP_CHECK(fp_sockauth_client(&conf, plain, err) == 0,
             "no keys: a plain client");
    if (!zsys_has_curve()) {
        conf.curve_key = conf.curve_server_key = "x";
        FP_CHECK(fp_sockauth_client(&conf, plain, err) < 0 &&
                 strstr(err, "no CURVE"), "no CURVE in libzmq: refused");
        zsock_destroy(&plain);
        return;
    }
    FP_CHECK(s_certs(&k), "certificates written");
    conf.curve_server_key = k.server;
    FP_CHECK(fp_sockauth_client(&conf, plain, err) < 0 &&
             strstr(err, "needs both"), "half-given keys refused");
    conf.curve_key = k.client;          /*  no app_secret beside it  */
    FP_CHECK(fp_sockauth_client(&conf, plain, err) < 0 &&
             strstr(err, "not a secret"), "a public certificate as the "
             "secret one refused");
    conf.curve_key = "/nonexistent/key_secret";
    FP_CHECK(fp_sockauth_client(&conf, plain, err) < 0 &&
             strstr(err, "cannot read"), "an unreadable key refused");
    zsock_destroy(&plain);

    FP_CHECK(fp_sockauth_server_new(k.server_secret, k.server, err) == NULL &&
             strstr(err, "not a directory"), "clients must be a directory");
    FP_CHECK(fp_sockauth_server_new(k.client, k.clients, err) == NULL &&
             strstr(err, "not a secret"), "the server needs its secret "
             "certificate");
    fp_sockauth_server_t *s = fp_sockauth_server_new(k.server_secret,
                                                     k.clients, err);
    FP_CHECK(s != NULL, "server with the allowed clients' directory");
    zsock_t *pull = zsock_new(ZMQ_PULL);
    int port = -1;
    if (s) {
        fp_sockauth_server_apply(s, pull);
        port = zsock_bind(pull, "tcp://127.0.0.1:*");
    }
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    FP_CHECK(port > 0 && s_reaches(pull, endpoint, k.server,
                                   k.client_secret, 2000),
             "an allowed client's message arrives");
    FP_CHECK(!s_reaches(pull, endpoint, k.server, k.stranger_secret, 300),
             "a client whose certificate is not allowed is refused");
    FP_CHECK(!s_reaches(pull, endpoint, k.server, NULL, 300),
             "a plain client is refused");
    FP_CHECK(s_reaches(pull, endpoint, k.server, k.client_secret, 2000),
             "the allowed client still gets through");
    zsock_destroy(&pull);
    fp_sockauth_server_destroy(&s);
    fp_sockauth_server_destroy(&s);
    FP_CHECK(s == NULL, "destroy NULLs, twice is harmless");
    s_certs_remove(&k);
}

void
fp_sockauth_test(void)
{
    s_test_token();
    s_test_curve();
}
#endif
