/*  sockauth: who may talk to the broker's sockets.
 *
 *  Two mechanisms, usable alone or together:
 *
 *  - CURVE (ZeroMQ's encryption and authentication, czmq zcert/zauth):
 *    the broker holds a secret certificate and a directory of the public
 *    certificates of the clients it accepts; every client (application,
 *    responder hub, CLI) holds its own secret certificate and the broker's
 *    public one.  Applied to all three broker sockets.
 *  - a publish token: a shared secret sent as one extra, last frame of a
 *    control request (COMMAND BODY TOKEN) and of an ingest message
 *    (BODY TOKEN); compared in constant time.
 *
 *  Certificates are czmq's text format (`fastpush keygen NAME` writes
 *  NAME and NAME_secret; pyzmq's zmq.auth.create_certificates too).
 */
#ifndef FP_SOCKAUTH_H
#define FP_SOCKAUTH_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "err.h"

/*  A client's side of the link.  */
typedef struct {
    char *curve_server_key;     /*  the broker's public certificate file  */
    char *curve_key;            /*  this client's secret certificate file  */
    char *token;                /*  the broker's publish token  */
} fp_sockauth_conf_t;

/*  The responders' directives broker-curve-server-key, broker-curve-key
 *  and broker-token (storage owned here): nest fp_sockauth_opts into the
 *  program's table.  */
extern fp_sockauth_conf_t fp_sockauth_conf;
extern const fp_conf_opt_t fp_sockauth_opts[];

/*  Client: make sock a CURVE client when the configuration names keys
 *  (before connecting).  0, or -1 with err (unreadable or half-given
 *  keys).  */
int fp_sockauth_client(const fp_sockauth_conf_t *conf, zsock_t *sock, char *err);

/*  The token frame to append to every request/message, or NULL.  */
const char *fp_sockauth_token(const fp_sockauth_conf_t *conf);

typedef struct fp_sockauth_server fp_sockauth_server_t;

/*  Server: load the secret certificate and start zauth with the
 *  directory of allowed client certificates (re-read when it changes).
 *  NULL with err.  */
fp_sockauth_server_t *fp_sockauth_server_new(const char *secret_cert,
                                     const char *clients_dir, char *err);

/*  Make sock a CURVE server (before binding).  */
void fp_sockauth_server_apply(fp_sockauth_server_t *s, zsock_t *sock);

/*  Stop zauth and free; NULLs *s_p.  */
void fp_sockauth_server_destroy(fp_sockauth_server_t **s_p);

/*  Does the frame got[0..len) hold exactly the token want?  Constant
 *  time in the token's length.  */
bool fp_sockauth_token_ok(const char *want, const void *got, size_t len);

#endif
