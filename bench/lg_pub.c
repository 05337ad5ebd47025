/*  lg_pub: the publisher process.  For each phase the master starts, it
 *  publishes rate x secs events of `size` data bytes, round robin over
 *  the channels, each carrying a token with its send time:
 *
 *    zmq-fastpush ENDPOINT   PUSH {"channel":C,"data":"TOKEN"} to the
 *                            broker's ingest (fire and forget)
 *    zmq-pushpin ENDPOINT    PUSH "J"{"channel":C,"formats":{...}} to
 *                            pushpin-handler's PULL (http-stream,
 *                            ws-message and http-response formats)
 *    http URL                POST TOKEN to URL (%c = channel), one
 *                            keep-alive connection, waiting for each
 *                            answer (nchan, the Node server, a GRIP
 *                            backend)
 */
#include "lg.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

typedef struct {
    const lg_pubopts_t *o;
    lg_shm_t *shm;
    void *zctx, *zsock;
    int fd;                     /*  http: the connection, -1 = none  */
    char host[128], port[16];
    char *body;                 /*  scratch for one message  */
    char *data;
} pub_t;

/*  Count an error; keep the first message (what + detail).  */
static void
s_error(pub_t *p, const char *what, const char *detail)
{
    p->shm->pub_errors++;
    if (!p->shm->pub_error[0])
        snprintf(p->shm->pub_error, sizeof p->shm->pub_error, "%s%s", what,
                 detail);
}

/*  "http://host:port/path" -> host, port, path (with %c = channel).  */
static void
s_url(pub_t *p, const char *chan, char *path, size_t cap)
{
    const char *u = p->o->target + 7;
    const char *slash = strchr(u, '/');
    const char *colon = memchr(u, ':', slash ? (size_t) (slash - u)
                                             : strlen(u));
    snprintf(p->host, sizeof p->host, "%.*s",
             (int) ((colon ? colon : slash) - u), u);
    snprintf(p->port, sizeof p->port, "%.*s",
             colon ? (int) (slash - colon - 1) : 2, colon ? colon + 1 : "80");
    size_t o = 0;
    for (const char *s = slash ? slash : "/"; *s && o + 1 < cap; s++) {
        if (s[0] == '%' && s[1] == 'c') {
            o += (size_t) snprintf(path + o, cap - o, "%s", chan);
            s++;
        } else {
            path[o++] = *s;
        }
    }
    path[o < cap ? o : cap - 1] = '\0';
}

static int
s_connect(pub_t *p)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
    if (getaddrinfo(p->host, p->port, &hints, &ai) != 0)
        return -1;
    p->fd = socket(ai->ai_family, SOCK_STREAM, 0);
    if (connect(p->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        close(p->fd);
        p->fd = -1;
    }
    freeaddrinfo(ai);
    return p->fd < 0 ? -1 : 0;
}

/*  Read one whole response; returns its status or -1.  */
static int
s_response(pub_t *p)
{
    char buf[16384];
    size_t len = 0;
    lg_head_t h;
    ssize_t hl = 0;
    while (hl == 0) {
        ssize_t r = read(p->fd, buf + len, sizeof buf - 1 - len);
        if (r <= 0)
            return -1;
        len += (size_t) r;
        hl = lg_head_parse(buf, len, &h);
        if (hl < 0 || (hl == 0 && len >= sizeof buf - 1))
            return -1;
    }
    size_t have = len - (size_t) hl;
    if (h.chunked) {
        lg_dechunk_t d = { 0 };
        size_t used;
        lg_dechunk(&d, (uint8_t *) buf + hl, have, &used);
        while (!d.done && !d.error) {
            ssize_t r = read(p->fd, buf, sizeof buf);
            if (r <= 0)
                return -1;
            lg_dechunk(&d, (uint8_t *) buf, (size_t) r, &used);
        }
    } else if (h.content_length > 0) {
        int64_t left = h.content_length - (int64_t) have;
        while (left > 0) {
            ssize_t r = read(p->fd, buf, sizeof buf);
            if (r <= 0)
                return -1;
            left -= r;
        }
    }
    if (h.close) {
        close(p->fd);
        p->fd = -1;
    }
    return h.status;
}

static int
s_http(pub_t *p, const char *chan, const char *data, size_t n)
{
    char path[512];
    s_url(p, chan, path, sizeof path);
    for (int attempt = 0; attempt < 2; attempt++) {
        if (p->fd < 0 && s_connect(p) < 0) {
            s_error(p, "cannot connect to ", p->o->target);
            return -1;
        }
        int hl = snprintf(p->body, 1024, "POST %s HTTP/1.1\r\nHost: %s\r\n"
                          "Content-Type: text/plain\r\nContent-Length: %zu"
                          "\r\n\r\n", path, p->host, n);
        memcpy(p->body + hl, data, n);
        size_t total = (size_t) hl + n, off = 0;
        while (off < total) {
            ssize_t w = write(p->fd, p->body + off, total - off);
            if (w <= 0)
                break;
            off += (size_t) w;
        }
        int st = off == total ? s_response(p) : -1;
        if (st >= 200 && st < 300)
            return 0;
        if (p->fd >= 0)
            close(p->fd);
        p->fd = -1;
        if (st > 0) {
            char msg[32];
            snprintf(msg, sizeof msg, "%d", st);
            s_error(p, "publish answered HTTP ", msg);
            return -1;
        }
    }
    s_error(p, "publish failed: ", p->o->target);
    return -1;
}

static int
s_zmq(pub_t *p, const char *chan, const char *data, size_t n)
{
    int len;
    if (strcmp(p->o->kind, "zmq-fastpush") == 0)
        len = sprintf(p->body, "{\"channel\":\"%s\",\"data\":\"%.*s\"}", chan,
                      (int) n, data);
    else
        len = sprintf(p->body, "J{\"channel\":\"%s\",\"formats\":{"
                      "\"http-stream\":{\"content\":\"event: message\\n"
                      "data: %.*s\\n\\n\"},\"ws-message\":{\"content\":"
                      "\"%.*s\"},\"http-response\":{\"body\":\"%.*s\\n\"}}}",
                      chan, (int) n, data, (int) n, data, (int) n, data);
    if (zmq_send(p->zsock, p->body, (size_t) len, 0) < 0) {
        s_error(p, "zmq_send: ", zmq_strerror(errno));
        return -1;
    }
    return 0;
}

static void
s_phase(pub_t *p, int ph)
{
    lg_shm_t *shm = p->shm;
    double rate = shm->pub_rate[ph];
    uint64_t total = (uint64_t) (rate * shm->pub_secs[ph] + 0.5);
    int64_t t0 = lg_now_ns();
    char chan[96];
    for (uint64_t k = 0; k < total && !shm->stop; k++) {
        int64_t due = t0 + (int64_t) ((double) k * 1e9 / rate);
        int64_t now = lg_now_ns();
        if (due > now) {
            struct timespec ts = { (due - now) / 1000000000,
                                   (due - now) % 1000000000 };
            nanosleep(&ts, NULL);
        }
        snprintf(chan, sizeof chan, "%s%llu", p->o->chan_prefix,
                 (unsigned long long) (k % (uint64_t) p->o->channels));
        size_t n = lg_tok_write(p->data, (size_t) p->o->size, ph, k,
                                lg_now_ns());
        int rc = p->zsock ? s_zmq(p, chan, p->data, n)
                          : s_http(p, chan, p->data, n);
        if (rc == 0)
            shm->published[ph]++;
    }
    shm->pub_elapsed[ph] = (double) (lg_now_ns() - t0) / 1e9;
    shm->pub_rounds[ph] = shm->published[ph] / (uint64_t) p->o->channels;
}

void
lg_pub_run(const lg_pubopts_t *o, lg_shm_t *shm)
{
    pub_t p = { .o = o, .shm = shm, .fd = -1 };
    p.body = malloc((size_t) o->size * 3 + 2048);
    p.data = malloc((size_t) o->size + 128);
    if (strncmp(o->kind, "zmq-", 4) == 0) {
        p.zctx = zmq_ctx_new();
        p.zsock = zmq_socket(p.zctx, ZMQ_PUSH);
        int hwm = 0, linger = 2000;
        zmq_setsockopt(p.zsock, ZMQ_SNDHWM, &hwm, sizeof hwm);
        zmq_setsockopt(p.zsock, ZMQ_LINGER, &linger, sizeof linger);
        if (zmq_connect(p.zsock, o->target) < 0)
            s_error(&p, "zmq_connect: ", zmq_strerror(errno));
    } else if (strncmp(o->target, "http://", 7) != 0) {
        s_error(&p, "not an http:// URL: ", o->target);
    }
    shm->pub_ready = 1;
    int last = -1;
    while (!shm->stop) {
        int ph = shm->pub_phase;
        if (ph >= 0 && ph != last) {
            s_phase(&p, ph);
            last = ph;
            shm->pub_done = ph + 1;
        }
        usleep(2000);
    }
    if (p.zsock) {
        zmq_close(p.zsock);
        zmq_ctx_term(p.zctx);
    }
    if (p.fd >= 0)
        close(p.fd);
    free(p.body);
    free(p.data);
    _exit(0);
}
