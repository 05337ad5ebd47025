/*  responder_opts: the directives every FastCGI responder shares
 *  (see responder.h).  */
#include "responder.h"
#include "sockauth.h"
#include "mem.h"

fp_responder_opts_conf_t fp_responder_opts_conf;

const fp_conf_opt_t fp_responder_opts[] = {
    { "listen", FP_CONF_STR, &fp_responder_opts_conf.listen, 0, 0, NULL,
      "FastCGI socket: HOST:PORT, :PORT or /path.sock; empty = the socket on "
      "fd 0 (spawned by the web server, e.g. mod_fcgid)" },
    { "socket-mode", FP_CONF_MODE, &fp_responder_opts_conf.socket_mode, 0, 0777,
      NULL, "permissions of a unix socket in octal, e.g. 0660; 0 leaves "
      "them" },
    { "threads", FP_CONF_INT, &fp_responder_opts_conf.threads, 1, 64, NULL,
      "libfcgi acceptor threads (2)" },
    { "fanout", FP_CONF_STR, &fp_responder_opts_conf.fanout, 0, 0, NULL,
      "broker XPUB endpoint (tcp://127.0.0.1:7402)" },
    { "control", FP_CONF_STR, &fp_responder_opts_conf.control, 0, 0, NULL,
      "broker ROUTER endpoint (tcp://127.0.0.1:7401)" },
    { "linger", FP_CONF_MS, &fp_responder_opts_conf.linger, 0, 3600000, NULL,
      "keep a channel subscribed after its last client left (30s)" },
    { "presence-beat", FP_CONF_MS, &fp_responder_opts_conf.presence_beat,
      100, 3600000, NULL, "tell the broker this process's presence members "
      "are alive this often; under a third of its presence-timeout (10s)" },
    { NULL, 0, NULL, 0, 0, NULL, NULL }
};

void
fp_responder_opts_defaults(void)
{
    fp_responder_opts_conf.listen = fp_strdup("");
    fp_responder_opts_conf.socket_mode = 0;
    fp_responder_opts_conf.threads = 2;
    fp_responder_opts_conf.fanout = fp_strdup("tcp://127.0.0.1:7402");
    fp_responder_opts_conf.control = fp_strdup("tcp://127.0.0.1:7401");
    fp_responder_opts_conf.linger = 30000;
    fp_responder_opts_conf.presence_beat = 10000;
}

void
fp_responder_opts_apply(fp_responder_conf_t *ac)
{
    const fp_responder_opts_conf_t *o = &fp_responder_opts_conf;
    ac->fcgi.listen = o->listen;
    ac->fcgi.threads = (int) o->threads;
    ac->fcgi.socket_mode = (int) o->socket_mode;
    ac->hub.fanout = o->fanout;
    ac->hub.control = o->control;
    ac->hub.linger_ms = o->linger;
    ac->presence_beat_ms = (int64_t) o->presence_beat;
    ac->hub.link = &fp_sockauth_conf;
}
