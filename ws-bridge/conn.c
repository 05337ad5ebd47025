/*  conn: one client connection, from accept to close.
 *
 *  HANDSHAKE  the upgrade request is collected in `in` (bounded, timed);
 *  OPEN       frames are parsed as they arrive, messages assembled in `in`
 *             and handed to proto.c, output queued in `out`;
 *  CLOSING    our close frame is queued: data is discarded, the peer's
 *             close ends the handshake (close-timeout otherwise);
 *  DRAIN      our side is shut (FIN after the last frame); input is
 *             discarded until the peer's EOF or the close timer.
 *
 *  Output is never written from inside a send: senders queue through
 *  out.c, which marks the connection dirty, and the worker flushes the
 *  dirty ones here once per round, so a burst of events leaves in one
 *  writev.  conn.c calls proto.c with each complete message and sub.c
 *  only to drop subscriptions or list their cursors; neither calls back
 *  here, and out.c only through wsb_conn_end (slow consumer, expiry).
 *  Nothing but wsb_conn_close frees a connection, and nothing calls it
 *  from inside a hub callback: a callback only queues, shuts down or
 *  cuts.
 */
#include "wsb.h"
#include "error.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "pusher_msg.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static fp_log_limit_t s_limit;

static void s_on_io(fp_loop_t *loop, int fd, uint32_t events, void *arg);

/*  Queue the final bytes: the FIN follows them, then we wait for EOF.  */
static void
s_finish(wsb_conn_t *c)
{
    c->state = WSB_CS_DRAIN;
    c->shut_after_flush = true;
    c->deadline = c->w->now + (int64_t) c->w->conf->close_timeout;
    fp_buf_free(&c->in);
    wsb_out_mark(c);
}

/*  Log a refused handshake (rate-limited: remote input).  */
static void
s_log_refusal(wsb_conn_t *c, int status, const char *why)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    char host[NI_MAXHOST] = "?";

    c->w->stats.refused++;
    if (!fp_log_limit_ok(&s_limit))
        return;
    if (getpeername(c->fd, (struct sockaddr *) &ss, &sl) == 0)
        getnameinfo((struct sockaddr *) &ss, sl, host, sizeof host, NULL, 0,
                    NI_NUMERICHOST);
    fp_log_info("handshake from %s refused: %d %s", host, status, why);
}

/*  Refuse an upgrade with an HTTP status and a text body.  */
static void
s_refuse(wsb_conn_t *c, int status, const char *why)
{
    fp_buf_t b;
    fp_buf_init(&b);
    wsb_hs_refusal(status, why, &b);
    fp_sendq_push_copy(&c->out, b.data, b.len);
    fp_buf_free(&b);
    s_log_refusal(c, status, why);
    s_finish(c);
}

void
wsb_conn_accept(wsb_worker_t *w)
{
    const wsb_conf_t *conf = w->conf;

    for (int k = 0; k < 256 && w->lfd >= 0; k++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM) {
                fp_log_warn("accept: pausing the listener for 1 s");
                fp_loop_mod(w->loop, w->lfd, 0);
                w->accept_resume = w->now + 1000;
            }
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        wsb_conn_t *c = fp_calloc(1, sizeof *c);
        c->w = w;
        c->fd = fd;
        c->id = ++w->next_id;
        c->state = WSB_CS_HANDSHAKE;
        c->deadline = w->now + (int64_t) conf->handshake_timeout;
        c->last_rx = w->now;
        wsb_parser_init(&c->p, conf->max_message);
        if (fp_loop_add(w->loop, fd, EPOLLIN, s_on_io, c) < 0) {
            fp_log_warn("epoll_ctl");
            close(fd);
            free(c);
            continue;
        }
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        w->nconns++;
        w->stats.accepted++;
        if (w->nconns > (uint32_t) conf->max_connections)
            s_refuse(c, 503, "too many connections, try again later");
    }
}

/*  End with an error message carrying the subscriptions' cursors after
 *  what is queued, then a close frame.  A Pusher client gets pusher:error
 *  4100 and the close 4100 (reconnect after a pause).  */
static void
s_end_with_cursors(wsb_conn_t *c, const char *code, const char *msg,
                   unsigned close_code, const char *reason)
{
    fp_buf_t b;
    if (c->papp) {
        size_t len;
        char *text = fp_pusher_error(4100, msg, &len);
        wsb_out_take(c, text, len);
        wsb_conn_shutdown(c, 4100, reason);
        return;
    }
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"error\",");
    fp_error_append(&b, code, msg);
    wsb_sub_cursors(c, &b);
    fp_buf_addc(&b, '}');
    wsb_out_text(c, b.data, b.len);
    fp_buf_free(&b);
    wsb_conn_shutdown(c, close_code, reason);
}

/*  Cut a slow consumer: its cursors, then close 1008.  */
static void
s_cut(wsb_conn_t *c)
{
    c->cut = true;
    c->w->stats.slow_consumers++;
    if (fp_log_limit_ok(&s_limit))
        fp_log_warnx("slow consumer: %zu bytes queued, closing it with "
                     "1008 and its cursor", c->out.bytes);
    s_end_with_cursors(c, "slow_consumer", "the client did not read fast "
                       "enough; resume from the cursor", WSB_CLOSE_POLICY,
                       "slow consumer");
}

/*  The token ran out: an auth_expired error with the cursors, then 4001.  */
static void
s_expire(wsb_conn_t *c)
{
    if (c->state != WSB_CS_OPEN)
        return;
    c->expires = 0;
    fp_access_expired(c->w->conf->authz);
    s_end_with_cursors(c, "auth_expired", "the token expired: reconnect "
                       "with a new one and resume from the cursor",
                       WSB_CLOSE_AUTH_EXPIRED, "token expired");
}

/*  The application ended the user's connections: pusher:error 4009, and
 *  the close 4009 (pusher-js does not reconnect).  */
static void
s_terminate(wsb_conn_t *c)
{
    size_t len;
    const char *why = "Connection terminated by the application";
    if (c->state != WSB_CS_OPEN)
        return;
    char *text = fp_pusher_error(4009, why, &len);
    wsb_out_take(c, text, len);
    wsb_conn_shutdown(c, 4009, why);
}

void
wsb_conn_end(wsb_conn_t *c, int why)
{
    if (why == WSB_END_SLOW)
        s_cut(c);
    else if (why == WSB_END_TERMINATED)
        s_terminate(c);
    else
        s_expire(c);
}

void
wsb_conn_shutdown(wsb_conn_t *c, unsigned code, const char *reason)
{
    if (c->state == WSB_CS_HANDSHAKE) {
        s_finish(c);
        return;
    }
    if (c->state != WSB_CS_OPEN)
        return;
    wsb_sub_drop_all(c);
    wsb_presence_drop_all(c);
    wsb_proto_drop(c);
    fp_blob_t *b = wsb_close_blob(code, reason);
    wsb_out_push(c, b);
    fp_blob_unref(&b);
    fp_buf_free(&c->in);
    c->state = WSB_CS_CLOSING;
    c->deadline = c->w->now + (int64_t) c->w->conf->close_timeout;
}

void
wsb_conn_close(wsb_conn_t *c, const char *why)
{
    wsb_worker_t *w = c->w;

    fp_log_debug("fd %d: %s", c->fd, why);
    wsb_out_unmark(c);
    wsb_sub_drop_all(c);
    wsb_presence_drop_all(c);
    wsb_proto_drop(c);
    fp_access_client_free(w->conf->authz, &c->client);
    free(c->user_channel);
    fp_loop_del(w->loop, c->fd);
    close(c->fd);
    fp_sendq_clear(&c->out);
    fp_buf_free(&c->in);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
}

/*  Write what is queued.  -1 when the connection was closed.  */
static int
s_flush(wsb_conn_t *c)
{
    int rc = fp_sendq_flush(&c->out, c->fd);
    if (rc < 0) {
        wsb_conn_close(c, strerror(errno));
        return -1;
    }
    if (c->out.bytes <= c->w->conf->max_queue)
        c->over_since = 0;
    if (rc == 0) {
        if (!c->writing && fp_loop_mod(c->w->loop, c->fd,
                                       EPOLLIN | EPOLLOUT) == 0)
            c->writing = true;
        return 0;
    }
    if (c->writing && fp_loop_mod(c->w->loop, c->fd, EPOLLIN) == 0)
        c->writing = false;
    c->over_since = 0;
    if (c->shut_after_flush) {
        c->shut_after_flush = false;
        shutdown(c->fd, SHUT_WR);
    }
    return 0;
}

void
wsb_conn_flush_dirty(wsb_worker_t *w)
{
    while (w->dirty) {
        wsb_conn_t *c = w->dirty;
        wsb_out_unmark(c);
        s_flush(c);
    }
}

/*  A close, ping or pong from the peer.  */
static void
s_control(wsb_conn_t *c, const wsb_ev_t *ev)
{
    if (ev->opcode == WSB_OP_PING && c->state == WSB_CS_OPEN) {
        fp_blob_t *b = wsb_frame_blob(WSB_OP_PONG, ev->data, ev->len);
        wsb_out_send(c, b);
        fp_blob_unref(&b);
    } else if (ev->opcode == WSB_OP_CLOSE) {
        c->close_got = true;
        if (c->state == WSB_CS_OPEN)
            wsb_conn_shutdown(c, ev->code == WSB_CLOSE_NO_STATUS ? 0
                              : ev->code, NULL);
        s_finish(c);
    }
}

/*  Fail the connection for a bad message (the parser's failures go the
 *  same way).  */
static void
s_fail(wsb_conn_t *c, unsigned code, const char *why)
{
    c->w->stats.protocol_errors++;
    fp_log_debug("fd %d: failing the connection: %u %s", c->fd, code, why);
    wsb_conn_shutdown(c, code, why);
    s_finish(c);
}

/*  A whole message: inflated first when compressed (its size bound by
 *  max-message, its UTF-8 checked then), handed to proto.c.  */
static void
s_message(wsb_conn_t *c, int opcode, bool compressed, const uint8_t *data,
          size_t len)
{
    if (compressed) {
        int code = wsb_deflate_inflate(c->w->z, data, len,
                                       c->w->conf->max_message, &data, &len);
        if (code)
            return s_fail(c, (unsigned) code, code == WSB_CLOSE_TOO_BIG
                          ? "message too big once inflated"
                          : "invalid compressed data");
        if (opcode == WSB_OP_TEXT && !fp_utf8_valid(data, len))
            return s_fail(c, WSB_CLOSE_BAD_DATA, "invalid UTF-8");
    }
    if (!c->papp)
        wsb_proto_message(c, opcode, data, len);
    else if (opcode == WSB_OP_TEXT)
        wsb_pusher_message(c, (const char *) data, len);
    else
        wsb_out_error(c, "bad_request", "binary messages are not part of "
                      "the Pusher protocol", NULL);
}

/*  A piece of a data message: assemble, hand complete ones over.  */
static void
s_data(wsb_conn_t *c, const wsb_ev_t *ev)
{
    if (c->state != WSB_CS_OPEN)
        return;
    if (ev->fin && c->in.len == 0) {
        s_message(c, ev->opcode, ev->compressed, ev->data, ev->len);
        return;
    }
    fp_buf_add(&c->in, ev->data, ev->len);
    if (!ev->fin)
        return;
    fp_buf_t msg = c->in;
    fp_buf_init(&c->in);
    s_message(c, ev->opcode, ev->compressed, (const uint8_t *) msg.data,
              msg.len);
    fp_buf_free(&msg);
}

/*  Frames from the peer.  */
static void
s_frames(wsb_conn_t *c, uint8_t *buf, size_t n)
{
    size_t off = 0;
    while (off < n && c->state != WSB_CS_DRAIN) {
        wsb_ev_t ev;
        off += wsb_parse(&c->p, buf + off, n - off, &ev);
        if (ev.type == WSB_EV_DATA) {
            s_data(c, &ev);
        } else if (ev.type == WSB_EV_CONTROL) {
            s_control(c, &ev);
        } else if (ev.type == WSB_EV_ERROR) {
            s_fail(c, ev.code, ev.why);
        }
    }
}

/*  The request's parameters by CGI name, for common/authz.  */
typedef struct {
    const wsb_hs_t *hs;
    char addr[NI_MAXHOST];
} s_hs_ctx_t;

static const char *
s_hs_get(const void *ctx, const char *name)
{
    const s_hs_ctx_t *x = ctx;
    char header[128];
    if (strcmp(name, "QUERY_STRING") == 0)
        return x->hs->query;
    if (strcmp(name, "REMOTE_ADDR") == 0)
        return x->addr;
    if (strncmp(name, "HTTP_", 5) != 0 || strlen(name) >= sizeof header + 5)
        return NULL;
    size_t i = 0;
    for (const char *p = name + 5; *p; p++)
        header[i++] = *p == '_' ? '-' : *p;
    header[i] = '\0';
    return wsb_hs_header(x->hs, header);
}

/*  Who is it, and may they connect?  Refusals (401, 403) go into hs;
 *  why holds the reason.  Returns false when the user already holds
 *  max-user-connections: the caller upgrades, then closes with 1008.  */
static bool
s_authorize(wsb_conn_t *c, wsb_hs_t *hs, char *why)
{
    fp_access_t *a = c->w->conf->authz;
    s_hs_ctx_t x = { .hs = hs };
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;

    if (!fp_access_on(a))
        return true;
    if (getpeername(c->fd, (struct sockaddr *) &ss, &sl) < 0 ||
        getnameinfo((struct sockaddr *) &ss, sl, x.addr, sizeof x.addr,
                    NULL, 0, NI_NUMERICHOST) != 0)
        x.addr[0] = '\0';
    fp_access_req_t r = { s_hs_get, &x, FP_ACCESS_WS, hs->bearer };
    int st = fp_access_identify(a, &r, &c->client, why);
    if (!st)
        st = fp_access_admit(a, c->client, why);
    if (st) {
        hs->status = st;
        hs->why = why;
        hs->challenge = st == 401;
        return true;
    }
    c->expires = c->client->expires;
    return fp_access_connect(a, c->client, why) == 0;
}

/*  Upgrade request bytes: answer once the blank line is in.  */
static void
s_handshake(wsb_conn_t *c, uint8_t *buf, size_t n)
{
    const wsb_conf_t *conf = c->w->conf;
    wsb_hs_t hs;
    char why[FP_ERR_LEN];
    bool admitted = true;
    int pusher_code = 0;

    fp_buf_add(&c->in, buf, n);
    char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
    size_t hlen = end ? (size_t) (end + 4 - c->in.data) : c->in.len;
    if (hlen > conf->max_header) {
        s_refuse(c, 431, "request header too large");
        return;
    }
    if (!end)
        return;
    size_t rest = c->in.len - hlen;     /*  frames sent right after  */
    c->in.data[hlen] = '\0';
    fp_buf_t resp;
    fp_buf_init(&resp);
    if (wsb_health_answer(c->w, c->in.data, &resp)) {
        fp_sendq_push_copy(&c->out, resp.data, resp.len);
        fp_buf_free(&resp);
        wsb_out_mark(c);
        s_finish(c);
        return;
    }
    wsb_hs_check(conf, c->in.data, hlen, &hs);
    if (hs.status == 101 && hs.pusher)
        pusher_code = wsb_pusher_accept(c, &hs);
    else if (hs.status == 101)
        admitted = s_authorize(c, &hs, why);
    wsb_hs_response(&hs, &resp);
    fp_sendq_push_copy(&c->out, resp.data, resp.len);
    fp_buf_free(&resp);
    fp_buf_free(&c->in);
    wsb_out_mark(c);
    if (hs.status != 101) {
        s_log_refusal(c, hs.status, hs.why);
        s_finish(c);
        return;
    }
    c->w->stats.upgraded++;
    c->state = WSB_CS_OPEN;
    c->deadline = 0;
    c->deflate = c->p.rsv1_ok = hs.deflate;
    if (!admitted) {
        wsb_out_error(c, "too_many_connections", why, NULL);
        wsb_conn_shutdown(c, WSB_CLOSE_POLICY, "too many connections for "
                          "this user");
        return;
    }
    if (hs.pusher)
        wsb_pusher_open(c, pusher_code);
    if (rest)
        s_frames(c, buf + n - rest, rest);
}

static void
s_on_io(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    wsb_conn_t *c = arg;
    wsb_worker_t *w = c->w;

    if (events & EPOLLOUT) {
        wsb_out_unmark(c);
        if (s_flush(c) < 0)
            return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    ssize_t n = recv(fd, w->rbuf, WSB_RBUF, 0);
    if (n == 0) {
        wsb_conn_close(c, "peer closed the connection");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            wsb_conn_close(c, strerror(errno));
        return;
    }
    c->last_rx = w->now;
    if (c->state == WSB_CS_HANDSHAKE)
        s_handshake(c, w->rbuf, (size_t) n);
    else if (c->state != WSB_CS_DRAIN)
        s_frames(c, w->rbuf, (size_t) n);
}

void
wsb_conn_sweep(wsb_worker_t *w)
{
    const wsb_conf_t *conf = w->conf;
    int64_t hb = (int64_t) conf->heartbeat, now = w->now;
    wsb_conn_t *next;

    if (w->accept_resume && now >= w->accept_resume && w->lfd >= 0) {
        w->accept_resume = 0;
        fp_loop_mod(w->loop, w->lfd, EPOLLIN);
    }
    for (wsb_conn_t *c = w->conns; c; c = next) {
        next = c->next;
        if (c->state == WSB_CS_OPEN && c->expires && now >= c->expires)
            s_expire(c);
        if (c->deadline && now >= c->deadline) {
            w->stats.timeouts++;
            wsb_conn_close(c, c->state == WSB_CS_HANDSHAKE
                           ? "handshake timeout" : "close timeout");
            continue;
        }
        if (c->state == WSB_CS_OPEN && c->over_since && !c->cut &&
            now - c->over_since >= (int64_t) conf->slow_timeout)
            s_cut(c);
        if (c->state != WSB_CS_OPEN || hb <= 0)
            continue;
        int64_t idle = now - c->last_rx;
        if (idle >= hb * conf->heartbeat_misses) {
            w->stats.dead_peers++;
            wsb_conn_shutdown(c, WSB_CLOSE_AWAY, "no answer to pings");
        } else if (idle >= hb && now - c->last_ping >= hb) {
            c->last_ping = now;
            wsb_out_push(c, w->ping);
        }
    }
}
