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
