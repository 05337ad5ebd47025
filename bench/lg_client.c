/*  lg_client: one worker process of the load generator.  Its
 *  connections share one epoll loop; each is an SSE stream, a WebSocket
 *  or a poll client (long-poll or interval poll, HTTP keep-alive), bound
 *  to one of the worker's 127.x source addresses
 *  (IP_BIND_ADDRESS_NO_PORT: the kernel picks the port per 4-tuple).
 *
 *  Connections are opened at the ramp rate with a bounded number of
 *  handshakes in flight; one the server ends is reopened after
 *  reconnect-ms (counted as a reconnect), and in churn mode every
 *  connection is closed churn-ms (+- a random jitter) after its response
 *  head and reopened.
 *  Every message is scanned for bench tokens; a token's latency goes to
 *  the histogram of its phase, and its SEQ is checked against the
 *  connection's previous one (gaps, duplicates).  Each connection keeps
 *  its cursor (poll: the answer's; SSE: the last `id:`; WebSocket: the
 *  last event's id or ready's cursor); a reopened poll, an SSE stream with
 *  --resume (Last-Event-ID) and a WebSocket whose --ws-sub has %C resume
 *  from it, so the order check goes on over reconnects.  Counters live
 *  in shared memory, where the master reads them while the run goes on.
 */
#include "lg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

typedef enum {
    C_IDLE,                     /*  closed; reopen at `due`  */
    C_CONNECTING,
    C_HEAD,                     /*  request sent, reading the head  */
    C_BODY,                     /*  reading a stream or a poll body  */
    C_WAIT                      /*  poll: connection idle until `due`  */
} cstate_t;

typedef struct {
    int fd;
    int idx;                    /*  connection number over all workers  */
    cstate_t st;
    bool counted;               /*  counted in `connected`  */
    bool fresh;                 /*  no head yet on this TCP connection  */
    int64_t due;                /*  ns: timeout, reopen, churn or poll  */
    int64_t t_req;              /*  ns: connect or request start  */
    char *in;                   /*  the head so far  */
    size_t ilen, icap;
    lg_head_t head;
    lg_dechunk_t dc;
    int64_t left;               /*  body bytes by Content-Length  */
    lg_sse_t sse;
    lg_ws_t ws;
    uint8_t *body;              /*  poll response body  */
    size_t blen, bcap;
    char wskey[32];
    char cursor[96], etag[96], lastmod[64];
    bool tok_have;              /*  tok_* hold the last token seen  */
    int tok_phase;
    uint64_t tok_seq;
} conn_t;

typedef struct {
    const lg_opts_t *o;
    lg_shm_t *shm;
    lg_wstats_t *ws;
    int w;
    int ep;
    conn_t *conns;
    int count;
    int opened;                 /*  ramp progress  */
    int inflight;
    int64_t ramp0;
    struct sockaddr_in *dst;    /*  one per URL  */
    char (*host)[80];
    char (*path)[256];
    uint8_t scratch[65536];
} worker_t;

int64_t
lg_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void
lg_set_error(lg_wstats_t *ws, const char *fmt, ...)
{
    if (ws->first_error[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ws->first_error, sizeof ws->first_error, fmt, ap);
    va_end(ap);
    ws->first_error_ns = lg_now_ns();
}

static void s_open(worker_t *W, conn_t *c);

/* ------------------------------------------------------------ closing */

/*  End a connection; it is reopened at now + delay (never if stopping).  */
static void
s_close(worker_t *W, conn_t *c, int64_t delay_ns)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->counted)
        W->ws->connected--;
    if (c->fresh && (c->st == C_CONNECTING || c->st == C_HEAD))
        W->inflight--;
    c->counted = c->fresh = false;
    c->st = C_IDLE;
    c->ilen = c->blen = 0;
    c->due = lg_now_ns() + delay_ns;    /*  parsers are reset on reopening:  */
}                                       /*  one may be running right now  */

static void
s_reset_parsers(conn_t *c)
{
    c->sse.len = 0;
    c->sse.last_nl = c->sse.last_cr = false;
    c->ws.len = c->ws.mlen = 0;
    c->ws.mop = 0;
    c->ws.error = false;
}

static void
s_fail(worker_t *W, conn_t *c, const char *what)
{
    W->ws->failed++;
    lg_set_error(W->ws, "conn %d: %s", c->idx, what);
    s_close(W, c, (int64_t) W->o->reconnect_ms * 1000000);
}

/*  The server ended a connection we meant to keep.  */
static void
s_lost(worker_t *W, conn_t *c)
{
    W->ws->reconnects++;
    s_close(W, c, (int64_t) W->o->reconnect_ms * 1000000);
}

/* ------------------------------------------------------------ requests */

static int
s_send(worker_t *W, conn_t *c, const void *p, size_t n)
{
    ssize_t w = write(c->fd, p, n);
    if (w != (ssize_t) n)
        return -1;
    W->ws->bytes_out += n;
    return 0;
}

/*  Expand %c (channel) and %C (cursor) in the URL's path.  */
static void
s_path(worker_t *W, conn_t *c, char *out, size_t cap)
{
    const char *t = W->path[c->idx % W->o->nurls];
    size_t o = 0;
    for (; *t && o + 1 < cap; t++) {
        if (t[0] == '%' && (t[1] == 'c' || t[1] == 'C')) {
            if (t[1] == 'c')
                o += (size_t) snprintf(out + o, cap - o, "%s%d",
                                       W->o->chan_prefix,
                                       c->idx % W->o->channels);
            else
                o += (size_t) snprintf(out + o, cap - o, "%s", c->cursor);
            t++;
        } else {
            out[o++] = *t;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

static int
s_request(worker_t *W, conn_t *c)
{
    char path[512], req[1400];
    int n;
    const char *host = W->host[c->idx % W->o->nurls];
    s_path(W, c, path, sizeof path);
    if (W->o->mode == LG_SSE) {
        char last[140] = "";
        if (W->o->resume && c->cursor[0])
            snprintf(last, sizeof last, "Last-Event-ID: %s\r\n", c->cursor);
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "Accept: text/event-stream\r\nCache-Control: no-cache"
                     "\r\n%s\r\n", path, host, last);
    } else if (W->o->mode == LG_WS) {
        uint8_t raw[16];
        for (int i = 0; i < 16; i++)
            raw[i] = (uint8_t) rand();
        static const char b64[] =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        int k = 0;
        for (int i = 0; i < 15; i += 3) {
            uint32_t v = (uint32_t) raw[i] << 16 | (uint32_t) raw[i + 1] << 8 |
                         raw[i + 2];
            for (int s = 18; s >= 0; s -= 6)
                c->wskey[k++] = b64[(v >> s) & 63];
        }
        c->wskey[k++] = b64[raw[15] >> 2];
        c->wskey[k++] = b64[(raw[15] & 3) << 4];
        c->wskey[k++] = '=';
        c->wskey[k++] = '=';
        c->wskey[k] = '\0';
        char proto[128] = "";
        if (W->o->ws_proto)
            snprintf(proto, sizeof proto, "Sec-WebSocket-Protocol: %s\r\n",
                     W->o->ws_proto);
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                     "Origin: http://%s\r\n%s\r\n", path, host, c->wskey,
                     host, proto);
    } else {
        char cond[300] = "";
        if (c->etag[0] || c->lastmod[0])
            snprintf(cond, sizeof cond, "%s%s%s%s%s%s",
                     c->etag[0] ? "If-None-Match: " : "", c->etag,
                     c->etag[0] ? "\r\n" : "",
                     c->lastmod[0] ? "If-Modified-Since: " : "", c->lastmod,
                     c->lastmod[0] ? "\r\n" : "");
        n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s\r\n"
                     "Accept: application/json\r\n%s\r\n", path, host, cond);
    }
    c->t_req = lg_now_ns();
    return s_send(W, c, req, (size_t) n);
}

/* ------------------------------------------------------------ messages */

/*  Does a reopened connection continue from its cursor?  */
static bool
s_resumes(const worker_t *W)
{
    if (W->o->mode == LG_POLL || W->o->mode == LG_LONGPOLL)
        return W->o->cursor_key != NULL;
    if (W->o->mode == LG_SSE)
        return W->o->resume;
    return W->o->ws_sub && strstr(W->o->ws_sub, "%C");
}

/*  Token t arrived on c: the channel's tokens are SEQ, SEQ + channels...  */
static void
s_order(worker_t *W, conn_t *c, const lg_tok_t *t)
{
    uint64_t step = (uint64_t) W->o->channels;
    if (c->tok_have && c->tok_phase == t->phase) {
        if (t->seq <= c->tok_seq)
            W->ws->dups++;
        else if (t->seq != c->tok_seq + step)
            W->ws->gaps += (t->seq - c->tok_seq) / step - 1;
    }
    if (!c->tok_have || c->tok_phase != t->phase || t->seq > c->tok_seq) {
        c->tok_have = true;
        c->tok_phase = t->phase;
        c->tok_seq = t->seq;
    }
}

static void
s_tokens(worker_t *W, conn_t *c, const uint8_t *p, size_t n)
{
    lg_tok_t t;
    size_t off = 0;
    int64_t now = 0;
    W->ws->msgs++;
    while (lg_tok_next(p, n, &off, &t)) {
        if (!now)
            now = lg_now_ns();
        int64_t us = (now - t.ns) / 1000;
        W->ws->hist[t.phase][lg_hist_bucket(us > 0 ? (uint64_t) us : 0)]++;
        W->ws->recv[t.phase]++;
        s_order(W, c, &t);
    }
}

/*  An SSE event or a WebSocket message: keep the cursor, count resets.  */
static void
s_track(worker_t *W, conn_t *c, const uint8_t *p, size_t n)
{
    char v[96];
    if (W->o->mode == LG_SSE) {
        if (lg_sse_field(p, n, "event", v, sizeof v) == 0 &&
            strcmp(v, "reset") == 0)
            W->ws->resets++;
        if (lg_sse_field(p, n, "id", v, sizeof v) == 0)
            memcpy(c->cursor, v, sizeof c->cursor);
    } else if (n > 7 && memcmp(p, "{\"id\":\"", 7) == 0) {
        lg_json_str(p, n, "id", c->cursor, sizeof c->cursor);
    } else if (n > 16 && memcmp(p, "{\"type\":\"ready\"", 16) == 0) {
        lg_json_str(p, n, "cursor", c->cursor, sizeof c->cursor);
    } else if (n > 16 && memcmp(p, "{\"type\":\"reset\"", 16) == 0) {
        W->ws->resets++;
    }
}

typedef struct {
    worker_t *W;
    conn_t *c;
    bool closed;
} msgctx_t;

static void
s_on_msg(void *arg, int op, const uint8_t *p, size_t n)
{
    msgctx_t *m = arg;
    if (m->closed)
        return;
    if (op == 1 || op == 2) {
        s_tokens(m->W, m->c, p, n);
        s_track(m->W, m->c, p, n);
    } else if (op == 9 && n <= 125) {           /*  ping -> pong  */
        uint8_t f[140];
        size_t fl = lg_ws_frame(f, 10, p, n, (uint32_t) rand());
        s_send(m->W, m->c, f, fl);
    } else if (op == 8) {                       /*  close: answer, end  */
        uint8_t f[140];
        size_t fl = lg_ws_frame(f, 8, p, n <= 125 ? n : 0, (uint32_t) rand());
        s_send(m->W, m->c, f, fl);
        lg_set_error(m->W->ws, "conn %d: server sent WebSocket close %d",
                     m->c->idx, n >= 2 ? p[0] << 8 | p[1] : 0);
        s_lost(m->W, m->c);
        m->closed = true;
    }
}

/*  A poll response is complete: count it, keep its cursor, ask again.  */
static void
s_poll_done(worker_t *W, conn_t *c)
{
    int64_t now = lg_now_ns();
    W->ws->requests++;
    W->ws->req_hist[lg_hist_bucket((uint64_t) (now - c->t_req) / 1000)]++;
    if (c->head.status == 200 && c->blen) {
        s_tokens(W, c, c->body, c->blen);
        if (memmem(c->body, c->blen, "\"reset\":[{", 10))
            W->ws->resets++;
    }
    if (c->head.status == 200 && W->o->cursor_key)
        lg_json_str(c->body, c->blen, W->o->cursor_key, c->cursor,
                    sizeof c->cursor);
    if (c->head.etag[0])
        snprintf(c->etag, sizeof c->etag, "%s", c->head.etag);
    if (c->head.last_modified[0])
        snprintf(c->lastmod, sizeof c->lastmod, "%s", c->head.last_modified);
    c->blen = 0;
    c->ilen = 0;
    if (c->head.close) {
        s_close(W, c, 0);
        return;
    }
    if (W->o->interval_ms > 0 && W->o->mode == LG_POLL) {
        c->st = C_WAIT;
        c->due = now + (int64_t) W->o->interval_ms * 1000000;
        return;
    }
    c->st = C_HEAD;
    c->due = now + (int64_t) W->o->timeout_ms * 1000000;
    if (s_request(W, c) < 0)
        s_lost(W, c);
}

/*  Body bytes (de-chunked) of the current response.  */
static void
s_payload(worker_t *W, conn_t *c, const uint8_t *p, size_t n)
{
    if (W->o->mode == LG_SSE) {
        msgctx_t m = { W, c, false };
        lg_sse_feed(&c->sse, p, n, s_on_msg, &m);
    } else {
        if (c->blen + n > c->bcap) {
            c->bcap = (c->blen + n) * 2;
            c->body = realloc(c->body, c->bcap);
        }
        memcpy(c->body + c->blen, p, n);
        c->blen += n;
    }
}

/*  Returns false if the connection was closed.  */
static bool
s_body(worker_t *W, conn_t *c, uint8_t *p, size_t n)
{
    if (W->o->mode == LG_WS) {
        msgctx_t m = { W, c, false };
        lg_ws_feed(&c->ws, p, n, s_on_msg, &m);
        if (!m.closed && c->ws.error) {
            s_fail(W, c, "WebSocket protocol error");
            return false;
        }
        return !m.closed;
    }
    bool poll = W->o->mode == LG_LONGPOLL || W->o->mode == LG_POLL;
    if (c->head.chunked) {
        size_t used, k = lg_dechunk(&c->dc, p, n, &used);
        s_payload(W, c, p, k);
        if (c->dc.error) {
            s_fail(W, c, "bad chunked encoding");
            return false;
        }
        if (c->dc.done) {
            if (!poll) {
                s_lost(W, c);
                return false;
            }
            s_poll_done(W, c);
        }
        return c->st != C_IDLE;
    }
    if (c->head.content_length >= 0) {
        size_t k = (int64_t) n < c->left ? n : (size_t) c->left;
        s_payload(W, c, p, k);
        c->left -= (int64_t) k;
        if (c->left == 0) {
            if (!poll) {
                s_lost(W, c);
                return false;
            }
            s_poll_done(W, c);
        }
        return c->st != C_IDLE;
    }
    s_payload(W, c, p, n);      /*  ends when the server closes  */
    return true;
}

static bool
s_head_ok(worker_t *W, conn_t *c)
{
    int st = c->head.status;
    if (W->o->mode == LG_WS) {
        char want[64];
        lg_ws_accept(c->wskey, want);
        if (st != 101 || strcmp(want, c->head.ws_accept) != 0)
            return false;
        return true;
    }
    if (W->o->mode == LG_SSE)
        return st == 200;
    return st == 200 || st == 204 || st == 304;
}

/*  A response head arrived: check it and start its body.  */
static void
s_head(worker_t *W, conn_t *c, size_t hl)
{
    int64_t now = lg_now_ns();
    if (!s_head_ok(W, c)) {
        W->ws->non2xx++;
        lg_set_error(W->ws, "conn %d: HTTP %d", c->idx, c->head.status);
        s_close(W, c, (int64_t) W->o->reconnect_ms * 1000000);
        return;
    }
    if (c->fresh) {
        c->fresh = false;
        W->inflight--;
        W->ws->established++;
        W->ws->connected++;
        c->counted = true;
        if (W->o->mode != LG_POLL && W->o->mode != LG_LONGPOLL)
            W->ws->req_hist[lg_hist_bucket(
                (uint64_t) (now - c->t_req) / 1000)]++;
        if (W->o->churn_ms) {
            int64_t life = W->o->churn_ms;
            if (W->o->churn_jitter_ms > 0)
                life += rand() % (2 * W->o->churn_jitter_ms + 1) -
                        W->o->churn_jitter_ms;
            c->due = now + (life > 1 ? life : 1) * 1000000;
        }
    }
    c->st = C_BODY;
    memset(&c->dc, 0, sizeof c->dc);
    c->left = c->head.content_length;
    if (W->o->mode == LG_WS && W->o->ws_sub) {
        char msg[512];
        int k = 0;
        for (const char *t = W->o->ws_sub; *t && k < 480; t++) {
            if (t[0] == '%' && t[1] == 'c') {
                k += snprintf(msg + k, sizeof msg - (size_t) k, "%s%d",
                              W->o->chan_prefix, c->idx % W->o->channels);
                t++;
            } else if (t[0] == '%' && t[1] == 'C') {    /*  JSON value  */
                if (c->cursor[0])
                    k += snprintf(msg + k, sizeof msg - (size_t) k, "\"%s\"",
                                  c->cursor);
                else
                    k += snprintf(msg + k, sizeof msg - (size_t) k, "null");
                t++;
            } else {
                msg[k++] = *t;
            }
        }
        uint8_t f[600];
        size_t fl = lg_ws_frame(f, 1, msg, (size_t) k, (uint32_t) rand());
        if (s_send(W, c, f, fl) < 0) {
            s_fail(W, c, "cannot send the subscribe message");
            return;
        }
    }
    size_t rest = c->ilen - hl;
    c->ilen = 0;
    if (rest)
        s_body(W, c, (uint8_t *) c->in + hl, rest);
    else if (c->left == 0 && !c->head.chunked &&
             (W->o->mode == LG_POLL || W->o->mode == LG_LONGPOLL))
        s_poll_done(W, c);
}

/* ------------------------------------------------------------ I/O */

static void
s_readable(worker_t *W, conn_t *c)
{
    for (;;) {
        ssize_t r = read(c->fd, W->scratch, sizeof W->scratch);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (r <= 0) {
            if (c->st == C_BODY && c->head.content_length < 0 &&
                !c->head.chunked && W->o->mode != LG_WS &&
                W->o->mode != LG_SSE) {
                s_poll_done(W, c);      /*  close-delimited poll body  */
                if (c->st != C_IDLE)
                    s_close(W, c, 0);
                return;
            }
            if (c->fresh)
                s_fail(W, c, r < 0 ? strerror(errno)
                                   : "closed before the response head");
            else
                s_lost(W, c);
            return;
        }
        W->ws->bytes_in += (uint64_t) r;
        int ph = W->shm->phase;
        if (ph >= 0 && ph < LG_MAX_PHASES)
            W->ws->phase_bytes[ph] += (uint64_t) r;
        uint8_t *p = W->scratch;
        size_t n = (size_t) r;
        while (n && c->st != C_IDLE) {
            if (c->st == C_BODY) {
                s_body(W, c, p, n);
                break;
            }
            if (c->st != C_HEAD) {      /*  C_WAIT: unexpected bytes  */
                s_fail(W, c, "bytes while no request was pending");
                return;
            }
            if (c->ilen + n > c->icap) {
                c->icap = c->ilen + n + 256;
                c->in = realloc(c->in, c->icap);
            }
            memcpy(c->in + c->ilen, p, n);
            c->ilen += n;
            n = 0;
            ssize_t hl = lg_head_parse(c->in, c->ilen, &c->head);
            if (hl < 0 || (hl == 0 && c->ilen > 16384)) {
                s_fail(W, c, "not an HTTP response");
                return;
            }
            if (hl > 0)
                s_head(W, c, (size_t) hl);
        }
        if (c->st == C_IDLE)
            return;
    }
}

static void
s_writable(worker_t *W, conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        s_fail(W, c, strerror(err));
        return;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
                              .data.ptr = c };
    epoll_ctl(W->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->st = C_HEAD;
    if (s_request(W, c) < 0) {
        s_fail(W, c, "cannot send the request");
        return;
    }
    if (W->o->mode == LG_LONGPOLL) {    /*  the server may hold it: count  */
        c->fresh = false;               /*  the connection as it is  */
        W->inflight--;
        W->ws->established++;
        W->ws->connected++;
        c->counted = true;
    }
}

static void
s_open(worker_t *W, conn_t *c)
{
    int u = c->idx % W->o->nurls;
    struct sockaddr_in src = { .sin_family = AF_INET };
    int k = (c->idx / W->o->workers) % W->o->src_count;
    src.sin_addr.s_addr = htonl(0x7f000000u | (uint32_t) (W->w + 1) << 16 |
                                (uint32_t) (k / 250) << 8 |
                                (uint32_t) (k % 250 + 1));
    s_reset_parsers(c);
    if (!s_resumes(W))
        c->tok_have = false;    /*  a new stream starts from now  */
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    W->ws->attempts++;
    if (c->fd < 0) {
        s_fail(W, c, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    setsockopt(c->fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof one);
    c->fresh = true;
    c->st = C_CONNECTING;
    W->inflight++;
    c->t_req = lg_now_ns();
    c->due = c->t_req + (int64_t) W->o->timeout_ms * 1000000;
    if (bind(c->fd, (struct sockaddr *) &src, sizeof src) < 0 ||
        (connect(c->fd, (struct sockaddr *) &W->dst[u], sizeof W->dst[u]) < 0
         && errno != EINPROGRESS)) {
        s_fail(W, c, strerror(errno));
        return;
    }
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLIN, .data.ptr = c };
    epoll_ctl(W->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

/*  Timeouts, reopening, churn and poll intervals.  */
static void
s_timers(worker_t *W, int64_t now)
{
    for (int i = 0; i < W->opened; i++) {
        conn_t *c = &W->conns[i];
        if (now < c->due)
            continue;
        switch (c->st) {
        case C_IDLE:
            if (W->inflight < W->o->inflight)
                s_open(W, c);
            break;
        case C_CONNECTING:
            s_fail(W, c, "connect timed out");
            break;
        case C_HEAD:
            if (c->fresh || W->o->mode != LG_LONGPOLL)
                s_fail(W, c, "no response head in time");
            break;
        case C_BODY:
            if (W->o->churn_ms && c->counted) {
                W->ws->cycles++;
                s_close(W, c, 0);
            } else {
                c->due = INT64_MAX;
            }
            break;
        case C_WAIT:
            c->st = C_HEAD;
            c->due = now + (int64_t) W->o->timeout_ms * 1000000;
            if (s_request(W, c) < 0)
                s_lost(W, c);
            break;
        }
    }
}

/* ------------------------------------------------------------ loop */

static void
s_parse_urls(worker_t *W)
{
    const lg_opts_t *o = W->o;
    W->dst = calloc((size_t) o->nurls, sizeof *W->dst);
    W->host = calloc((size_t) o->nurls, sizeof *W->host);
    W->path = calloc((size_t) o->nurls, sizeof *W->path);
    for (int u = 0; u < o->nurls; u++) {
        const char *s = strstr(o->urls[u], "://");
        s = s ? s + 3 : o->urls[u];
        const char *slash = strchr(s, '/');
        snprintf(W->host[u], sizeof W->host[u], "%.*s",
                 (int) (slash ? (size_t) (slash - s) : strlen(s)), s);
        snprintf(W->path[u], sizeof W->path[u], "%s", slash ? slash : "/");
        char ip[64];
        int port = 80;
        snprintf(ip, sizeof ip, "%s", W->host[u]);
        char *colon = strchr(ip, ':');
        if (colon) {
            *colon = '\0';
            port = atoi(colon + 1);
        }
        W->dst[u].sin_family = AF_INET;
        W->dst[u].sin_port = htons((uint16_t) port);
        inet_pton(AF_INET, strcmp(ip, "localhost") ? ip : "127.0.0.1",
                  &W->dst[u].sin_addr);
    }
}

void
lg_worker_run(const lg_opts_t *o, lg_shm_t *shm, int w, int first,
              int count)
{
    static worker_t W;
    W.o = o;
    W.shm = shm;
    W.ws = &shm->w[w];
    W.w = w;
    W.count = count;
    W.ep = epoll_create1(EPOLL_CLOEXEC);
    W.conns = calloc((size_t) count, sizeof *W.conns);
    srand((unsigned) (getpid() ^ lg_now_ns()));
    s_parse_urls(&W);
    for (int i = 0; i < count; i++) {
        W.conns[i].fd = -1;
        W.conns[i].idx = first + i;
    }
    double rate = o->rate / o->workers;
    W.ramp0 = lg_now_ns();
    int64_t next_timers = 0;
    struct epoll_event evs[512];
    while (!shm->stop) {
        int64_t now = lg_now_ns();
        while (W.opened < count && W.inflight < o->inflight &&
               (rate <= 0 ||
                now >= W.ramp0 + (int64_t) ((double) W.opened * 1e9 / rate)))
            s_open(&W, &W.conns[W.opened++]);
        if (now >= next_timers) {
            s_timers(&W, now);
            next_timers = now + 20000000;
        }
        int n = epoll_wait(W.ep, evs, 512, W.opened < count ? 2 : 20);
        for (int i = 0; i < n; i++) {
            conn_t *c = evs[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (c->st == C_CONNECTING) {
                if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
                    s_writable(&W, c);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP))
                s_readable(&W, c);
        }
    }
    for (int i = 0; i < W.opened; i++)
        if (W.conns[i].fd >= 0)
            close(W.conns[i].fd);
    _exit(0);
}
