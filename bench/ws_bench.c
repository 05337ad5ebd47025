/*  ws_bench: a WebSocket load client for fastpush-ws, over epoll.
 *
 *      ws_bench -p PORT -n CONNS [-H HOST] [-s SRC] [-c CHANNEL] [-i N] [-z]
 *               [-P KEY]
 *
 *  Opens CONNS connections to ws://HOST:PORT/ws (at most -i handshakes in
 *  flight), spread over the source addresses SRC.1 .. SRC.50 (e.g. -s
 *  127.1.0: the kernel picks ports per address, so one process is not
 *  held to one address's ephemeral ports), subscribes each to CHANNEL
 *  (not with -S: handshake only) and prints "READY ok failed" once every connection is ready or failed.
 *  It then answers pings and reads events: an event whose data holds
 *  "t":NANOSECONDS (CLOCK_REALTIME at publish) adds a latency sample.
 *  SIGUSR1 prints the counters as one JSON line, SIGTERM prints them and
 *  exits.  The JSON has the latency histogram in 10 us buckets
 *  ("hist": {"bucket": count}) so several processes can be merged, and
 *  "bytes": every byte read after the upgrade (what crossed the wire).
 *  -z offers permessage-deflate (RFC 7692) and inflates compressed
 *  frames (no context takeover, as fastpush-ws answers) before reading
 *  them; "zframes" counts those.
 *
 *  -P KEY speaks the Pusher Channels protocol 7 instead: it opens
 *  /app/KEY?protocol=7, waits for pusher:connection_established, sends
 *  pusher:subscribe for CHANNEL (the Pusher name, without the app id)
 *  and counts pusher_internal:subscription_succeeded as ready; it
 *  answers pusher:ping.  An event's data is a JSON string holding the
 *  event's JSON text: that string is unescaped and read for "t" as a
 *  native event is.
 *
 *  One process holds at most ~19,900 sockets (RLIMIT_NOFILE here is
 *  20,000); run several for more.
 */
#include "sig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define BUF 4096
#define BUCKETS 100000          /*  10 us each: up to 1 s  */

enum { C_CONNECTING, C_UPGRADING, C_ESTABLISHING, C_SUBSCRIBING, C_READY,
       C_DEAD };

typedef struct {
    int fd;
    uint8_t state;
    uint16_t len;
    char buf[BUF];
} conn_t;

static struct {
    const char *host, *src, *channel;
    const char *pusher;         /*  -P: the app key, or NULL  */
    int port, n, inflight;
    conn_t *conns;
    int started, ready, failed, closed, pending;
    uint64_t events, samples, late;
    uint32_t *hist;
    int ep;
    bool announced;
    bool no_subscribe;          /*  -S: ready right after the 101  */
    bool deflate;               /*  -z: offer permessage-deflate  */
    uint64_t bytes, zframes;
    z_stream z;
    char zout[65536];
} B;

static int64_t
s_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*  Send a masked (key 0) client frame.  */
static void
s_send_frame(conn_t *c, int op, const char *data, size_t len)
{
    char f[16 + 512];
    size_t h = 0;
    f[h++] = (char) (0x80 | op);
    if (len < 126) {
        f[h++] = (char) (0x80 | len);
    } else {
        f[h++] = (char) (0x80 | 126);
        f[h++] = (char) (len >> 8);
        f[h++] = (char) len;
    }
    memset(f + h, 0, 4);
    h += 4;
    if (len > sizeof f - h)
        len = sizeof f - h;
    memcpy(f + h, data, len);
    if (write(c->fd, f, h + len) < 0)
        c->state = C_DEAD;
}

static void
s_dead(conn_t *c, bool failed)
{
    if (c->state == C_DEAD)
        return;
    if (c->state != C_READY) {
        B.pending--;
        if (failed)
            B.failed++;
    } else {
        B.closed++;
    }
    c->state = C_DEAD;
    epoll_ctl(B.ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
}

static void
s_start(int i)
{
    conn_t *c = &B.conns[i];
    struct sockaddr_in dst = { .sin_family = AF_INET,
                               .sin_port = htons((uint16_t) B.port) };
    inet_pton(AF_INET, B.host, &dst.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    B.started++;
    B.pending++;
    if (c->fd < 0) {
        B.pending--;
        B.failed++;
        c->state = C_DEAD;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (B.src) {
        char ip[64];
        struct sockaddr_in s = { .sin_family = AF_INET };
        snprintf(ip, sizeof ip, "%s.%d", B.src, 1 + i % 50);
        inet_pton(AF_INET, ip, &s.sin_addr);
#ifdef IP_BIND_ADDRESS_NO_PORT
        setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                   sizeof one);
#endif
        bind(c->fd, (struct sockaddr *) &s, sizeof s);
    }
    c->state = C_CONNECTING;
    c->len = 0;
    connect(c->fd, (struct sockaddr *) &dst, sizeof dst);
    struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (uint32_t) i };
    epoll_ctl(B.ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void
s_sample(const char *p, size_t n)
{
    const char *t = memmem(p, n, "\"t\":", 4);
    B.events++;
    if (!t)
        return;
    int64_t sent = strtoll(t + 4, NULL, 10), lat = s_wall_ns() - sent;
    if (lat < 0)
        lat = 0;
    uint64_t b = (uint64_t) lat / 10000;
    if (b < BUCKETS)
        B.hist[b]++;
    else
        B.late++;
    B.samples++;
}

/*  A Pusher event {"event":E,"channel":C,"data":"TEXT","id":...}: unescape
 *  the data string (\uXXXX stays as it is: it never spells "t":) and
 *  sample it.  */
static void
s_pusher_sample(const char *p, size_t n)
{
    static const char key[] = ",\"data\":\"";
    char text[BUF];
    size_t o = 0;
    const char *d = memmem(p, n, key, sizeof key - 1);
    if (!d) {
        B.events++;
        return;
    }
    const char *end = p + n;
    if (n > sizeof text)
        end = p + sizeof text;      /*  an inflated message: bounded  */
    for (d += sizeof key - 1; d < end && *d != '"'; d++) {
        if (*d == '\\' && d + 1 < end && (d[1] == '"' || d[1] == '\\' ||
                                          d[1] == '/'))
            d++;
        text[o++] = *d;
    }
    s_sample(text, o);
}

/*  Send a Pusher message (a text frame).  */
static void
s_pusher_send(conn_t *c, const char *event, const char *data)
{
    char m[512];
    int n = snprintf(m, sizeof m, "{\"event\":\"%s\",\"data\":%s}", event,
                     data);
    s_send_frame(c, 1, m, (size_t) n);
}

static void
s_ready(conn_t *c)
{
    c->state = C_READY;
    B.ready++;
    B.pending--;
}

/*  A Pusher text message.  Names under pusher: and pusher_internal: are
 *  the protocol's own; any other is an event.  */
static void
s_pusher_text(conn_t *c, const char *d, size_t len)
{
    static const char ev[] = "{\"event\":\"pusher";
    size_t el = sizeof ev - 1;
    if (len <= el || memcmp(d, ev, el) != 0) {
        s_pusher_sample(d, len);
        return;
    }
    const char *e = d + el;
    size_t n = len - el;
#define S_IS(lit) (n >= sizeof lit - 1 && memcmp(e, lit, sizeof lit - 1) == 0)
    if (S_IS(":connection_established\"")) {
        if (c->state == C_ESTABLISHING) {
            char sub[256];
            snprintf(sub, sizeof sub, "{\"channel\":\"%s\"}", B.channel);
            c->state = C_SUBSCRIBING;
            s_pusher_send(c, "pusher:subscribe", sub);
        }
    } else if (S_IS("_internal:subscription_succeeded\"")) {
        if (c->state == C_SUBSCRIBING)
            s_ready(c);
    } else if (S_IS(":ping\"")) {
        s_pusher_send(c, "pusher:pong", "{}");
    } else if (!S_IS(":") && !S_IS("_internal:")) {
        s_pusher_sample(d, len);        /*  a name like "pusherX"  */
    }
#undef S_IS
}

/*  Inflate a compressed message into B.zout; its length or -1.  */
static long
s_inflate(const char *d, size_t len)
{
    static const uint8_t tail[4] = { 0, 0, 0xff, 0xff };
    inflateReset(&B.z);
    B.z.next_out = (Bytef *) B.zout;
    B.z.avail_out = sizeof B.zout;
    B.z.next_in = (Bytef *) d;
    B.z.avail_in = (uInt) len;
    if (inflate(&B.z, Z_SYNC_FLUSH) < 0)
        return -1;
    B.z.next_in = (Bytef *) tail;
    B.z.avail_in = 4;
    if (inflate(&B.z, Z_SYNC_FLUSH) < 0)
        return -1;
    B.zframes++;
    return (long) (sizeof B.zout - B.z.avail_out);
}

/*  Handle whole frames in c->buf.  */
static void
s_frames(conn_t *c)
{
    size_t off = 0;
    while (c->len - off >= 2) {
        uint8_t *p = (uint8_t *) c->buf + off;
        size_t len = p[1] & 0x7f, h = 2;
        if (len == 126) {
            if (c->len - off < 4)
                break;
            len = (size_t) p[2] << 8 | p[3];
            h = 4;
        } else if (len == 127) {
            s_dead(c, true);            /*  never sent to this client  */
            return;
        }
        if (h + len > BUF) {
            s_dead(c, true);
            return;
        }
        if (c->len - off < h + len)
            break;
        int op = p[0] & 0x0f;
        const char *d = (const char *) p + h;
        size_t frame = h + len;
        if (op == 1 && (p[0] & 0x40)) {
            long n = s_inflate(d, len);
            if (n < 0) {
                s_dead(c, true);
                return;
            }
            d = B.zout;
            len = (size_t) n;
        }
        if (op == 1 && B.pusher) {
            s_pusher_text(c, d, len);
        } else if (op == 1) {
            if (len > 16 && memcmp(d, "{\"type\":\"ready\"", 15) == 0) {
                if (c->state == C_SUBSCRIBING)
                    s_ready(c);
            } else if (len > 16 && memcmp(d, "{\"type\":", 8) == 0) {
                /*  control message: ignore  */
            } else {
                s_sample(d, len);
            }
        } else if (op == 9) {
            s_send_frame(c, 10, d, len);
        } else if (op == 8) {
            s_dead(c, false);
            return;
        }
        off += frame;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len = (uint16_t) (c->len - off);
}

static void
s_readable(conn_t *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
    if (r <= 0) {
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        s_dead(c, c->state != C_READY);
        return;
    }
    c->len = (uint16_t) (c->len + r);
    if (c->state != C_UPGRADING)
        B.bytes += (uint64_t) r;
    if (c->state == C_UPGRADING) {
        char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
        if (!end)
            return;
        if (c->len < 12 || memcmp(c->buf + 9, "101", 3) != 0) {
            s_dead(c, true);
            return;
        }
        size_t hl = (size_t) (end + 4 - c->buf);
        B.bytes += c->len - hl;
        memmove(c->buf, c->buf + hl, c->len - hl);
        c->len = (uint16_t) (c->len - hl);
        if (B.no_subscribe) {
            s_ready(c);
            s_frames(c);
            return;
        }
        if (B.pusher) {
            c->state = C_ESTABLISHING;
            s_frames(c);
            return;
        }
        char sub[256];
        int sl = snprintf(sub, sizeof sub, "{\"type\":\"subscribe\","
                          "\"channels\":[\"%s\"]}", B.channel);
        c->state = C_SUBSCRIBING;
        s_send_frame(c, 1, sub, (size_t) sl);
    }
    s_frames(c);
}

static void
s_writable(conn_t *c, int i)
{
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
        s_dead(c, true);
        return;
    }
    char req[512], path[160];
    if (B.pusher)
        snprintf(path, sizeof path, "/app/%s?protocol=7", B.pusher);
    else
        snprintf(path, sizeof path, "/ws");
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n"
                     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                     "Sec-WebSocket-Version: 13\r\n%s\r\n", path, B.host,
                     B.port,
                     B.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                     "client_max_window_bits\r\n" : "");
    if (write(c->fd, req, (size_t) n) != n) {
        s_dead(c, true);
        return;
    }
    c->state = C_UPGRADING;
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t) i };
    epoll_ctl(B.ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void
s_report(void)
{
    printf("{\"conns\":%d,\"ready\":%d,\"failed\":%d,\"closed\":%d,"
           "\"events\":%llu,\"samples\":%llu,\"late\":%llu,\"bytes\":%llu,"
           "\"zframes\":%llu,\"hist\":{",
           B.n, B.ready, B.failed, B.closed, (unsigned long long) B.events,
           (unsigned long long) B.samples, (unsigned long long) B.late,
           (unsigned long long) B.bytes, (unsigned long long) B.zframes);
    bool first = true;
    for (int i = 0; i < BUCKETS; i++) {
        if (!B.hist[i])
            continue;
        printf("%s\"%d\":%u", first ? "" : ",", i, B.hist[i]);
        first = false;
    }
    printf("}}\n");
    fflush(stdout);
}

int
main(int argc, char **argv)
{
    int opt;
    B.host = "127.0.0.1";
    B.channel = "bench";
    B.inflight = 200;
    while ((opt = getopt(argc, argv, "H:p:n:s:c:i:SzP:")) != -1) {
        switch (opt) {
        case 'H': B.host = optarg; break;
        case 'p': B.port = atoi(optarg); break;
        case 'n': B.n = atoi(optarg); break;
        case 's': B.src = optarg; break;
        case 'c': B.channel = optarg; break;
        case 'i': B.inflight = atoi(optarg); break;
        case 'S': B.no_subscribe = true; break;
        case 'z': B.deflate = true; break;
        case 'P': B.pusher = optarg; break;
        default:
            fprintf(stderr, "usage: ws_bench -p PORT -n CONNS [-H HOST] "
                    "[-s SRC_PREFIX] [-c CHANNEL] [-i INFLIGHT] [-S] [-z] "
                    "[-P KEY]\n");
            return 2;
        }
    }
    if (B.port <= 0 || B.n <= 0 || inflateInit2(&B.z, -15) != Z_OK)
        return 2;
    int sigfd = fp_sig_fd();
    B.conns = calloc((size_t) B.n, sizeof *B.conns);
    B.hist = calloc(BUCKETS, sizeof *B.hist);
    B.ep = epoll_create1(0);
    struct epoll_event sev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };
    epoll_ctl(B.ep, EPOLL_CTL_ADD, sigfd, &sev);
    for (;;) {
        while (B.started < B.n && B.pending < B.inflight)
            s_start(B.started);
        if (!B.announced && B.started == B.n && B.pending == 0) {
            printf("READY %d %d\n", B.ready, B.failed);
            fflush(stdout);
            B.announced = true;
        }
        struct epoll_event evs[512];
        int k = epoll_wait(B.ep, evs, 512, 1000);
        for (int j = 0; j < k; j++) {
            uint32_t i = evs[j].data.u32;
            if (i == UINT32_MAX) {
                int sig = fp_sig_read(sigfd);
                if (sig == SIGUSR1)
                    s_report();
                else if (sig == SIGTERM || sig == SIGINT) {
                    s_report();
                    return 0;
                }
                continue;
            }
            conn_t *c = &B.conns[i];
            if (c->state == C_DEAD)
                continue;
            if (c->state == C_CONNECTING)
                s_writable(c, (int) i);
            else
                s_readable(c);
        }
    }
}
