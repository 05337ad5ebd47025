/*  fcgi_gather: whole FastCGI requests before any thread reads them
 *  (see fcgi_gather.h).  */
#include "fcgi_gather.h"
#include "buf.h"
#include "clock.h"
#include "mem.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define FCGI_VERSION_1 1
#define FCGI_STDIN 5
#define PAUSE_MS 1000           /*  the listener's rest after EMFILE  */
#define TICK_MS 100             /*  how often deadlines are looked at  */
#define FD_RESERVE 16           /*  descriptors left free when accepting  */

/*  Where a connection's record stream stands.  */
typedef struct {
    uint8_t head[8];            /*  the record header being read  */
    int hlen;
    size_t skip;                /*  content and padding left of a record  */
    bool done;                  /*  the request's end (or not FastCGI)  */
} s_scan_t;

typedef struct s_conn {
    int fd;
    bool started;               /*  its first byte came  */
    int64_t deadline;
    fp_buf_t in;                /*  the request's first `cap` bytes  */
    bool cut;                   /*  bytes past `cap` were dropped  */
    bool watched;               /*  in the epoll set  */
    s_scan_t scan;
    struct s_conn *prev, *next;
} s_conn_t;

struct fp_fcgi_gather {
    fp_fcgi_gather_conf_t conf;
    int ep;
    int wake_fd;                /*  an eventfd: stop was asked  */
    pthread_t thread;
    bool joinable;
    bool listening;             /*  the listener is in the epoll set  */
    int64_t resume;             /*  when a paused listener comes back  */
    int fd_limit;               /*  RLIMIT_NOFILE (soft), when last read  */
    s_conn_t *conns;
    int count;                  /*  atomic: conns  */
    volatile int stopping;
    uint8_t rbuf[16384];
};

/*  Follow the records in p: done at the empty FCGI_STDIN record that
 *  ends the request.  Bytes that are not FastCGI end it too: libfcgi
 *  refuses them at once.  (Not fp_fcgi_record_next: that wants each
 *  record whole in memory, and of a long body only `cap` bytes are kept;
 *  this follows the stream as it passes.)  */
static void
s_scan(s_scan_t *sc, const uint8_t *p, size_t n)
{
    while (n && !sc->done) {
        if (sc->skip) {
            size_t k = n < sc->skip ? n : sc->skip;
            sc->skip -= k;
            p += k;
            n -= k;
            continue;
        }
        sc->head[sc->hlen++] = *p++;
        n--;
        if (sc->hlen < 8)
            continue;
        sc->hlen = 0;
        size_t clen = (size_t) sc->head[4] << 8 | sc->head[5];
        if (sc->head[0] != FCGI_VERSION_1 ||
            (sc->head[1] == FCGI_STDIN && clen == 0))
            sc->done = true;
        sc->skip = clen + sc->head[6];
    }
}

/*  Watch the listener, or stop watching it.  */
static void
s_listen_watch(fp_fcgi_gather_t *g, bool on)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (on != g->listening &&
        epoll_ctl(g->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL,
                  g->conf.listen_fd, &ev) == 0)
        g->listening = on;
}

/*  Stop accepting for PAUSE_MS: the descriptors ran out.  */
static void
s_pause(fp_fcgi_gather_t *g, int64_t now)
{
    s_listen_watch(g, false);
    g->resume = now + PAUSE_MS;
}

/*  The soft descriptor limit.  */
static int
s_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur > INT_MAX)
        return INT_MAX;
    return (int) rl.rlim_cur;
}

/*  Accept again after a pause.  */
static void
s_resume(fp_fcgi_gather_t *g)
{
    g->resume = 0;
    g->fd_limit = s_fd_limit();
    s_listen_watch(g, true);
}

/*  A memfd holding the request's bytes, read from the start; -1.  */
static int
s_copy(const fp_buf_t *in)
{
    int mfd = memfd_create("fcgi-request", MFD_CLOEXEC);
    if (mfd < 0)
        return -1;
    if (write(mfd, in->data, in->len) != (ssize_t) in->len ||
        lseek(mfd, 0, SEEK_SET) != 0) {
        close(mfd);
        return -1;
    }
    return mfd;
}

/*  Forget a connection: hand it on with the memfd of its request
 *  (mfd), or close it (mfd -1), or neither (mfd TAKEN: `take` has it).  */
#define TAKEN (-2)
static void
s_unwatch(fp_fcgi_gather_t *g, s_conn_t *c)
{
    if (c->watched)
        epoll_ctl(g->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->watched = false;
}

static void
s_release(fp_fcgi_gather_t *g, s_conn_t *c, int mfd)
{
    s_unwatch(g, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        g->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (mfd == TAKEN) {
        /*  taken before the count drops  */
    } else if (mfd >= 0) {
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
        g->conf.ready(g->conf.arg, c->fd, mfd);    /*  before the count
                                                        drops  */
    } else {
        close(c->fd);
    }
    __atomic_sub_fetch(&g->count, 1, __ATOMIC_SEQ_CST);
    fp_buf_free(&c->in);
    free(c);
}

static bool s_read(fp_fcgi_gather_t *g, s_conn_t *c, int64_t now);

/*  Watch a connection being gathered (edge-triggered: bytes that came
 *  before are reported at once).  Closed if it cannot be watched.  */
static void
s_watch(fp_fcgi_gather_t *g, s_conn_t *c)
{
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = c };
    if (epoll_ctl(g->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) {
        s_release(g, c, -1);
        return;
    }
    c->watched = true;
}

/*  Accept what is waiting; pause the listener when descriptors run out.  */
static void
s_accept(fp_fcgi_gather_t *g, int64_t now)
{
    for (int k = 0; k < 64; k++) {
        int fd = accept4(g->conf.listen_fd, NULL, NULL,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
                errno == ENOMEM)
                s_pause(g, now);
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        s_conn_t *c = fp_calloc(1, sizeof *c);
        c->fd = fd;
        fp_buf_init(&c->in);
        c->deadline = now + g->conf.first_byte_ms;
        c->next = g->conns;
        if (g->conns)
            g->conns->prev = c;
        g->conns = c;
        __atomic_add_fetch(&g->count, 1, __ATOMIC_SEQ_CST);
        bool low = fd >= g->fd_limit - FD_RESERVE;
        /*  the web server writes the request as it connects: most often
         *  it is all in already, and is handed on without ever being
         *  watched  */
        if (s_read(g, c, now))
            s_watch(g, c);
        if (low) {
            s_pause(g, now);            /*  keep some for the memfds  */
            return;
        }
    }
}

/*  A connection whose request is in: hand it on.  False when there is
 *  no descriptor left for the copy: it stays, and the sweep tries again
 *  (until its deadline).  */
static bool
s_hand_on(fp_fcgi_gather_t *g, s_conn_t *c)
{
    s_unwatch(g, c);            /*  before another thread has it  */
    if (g->conf.take && !c->cut &&
        g->conf.take(g->conf.arg, c->fd, c->in.data, c->in.len)) {
        s_release(g, c, TAKEN);
        return true;
    }
    int mfd = s_copy(&c->in);
    if (mfd < 0 && (errno == EMFILE || errno == ENFILE))
        return false;
    s_release(g, c, mfd);
    return true;
}

/*  New bytes (or the peer's end) on a connection: read them all (the
 *  descriptor is edge-triggered), keep the first `cap`, follow the
 *  records to the request's end.  True while it is still being gathered
 *  (false: handed on, closed, or whole and waiting for a descriptor).  */
static bool
s_read(fp_fcgi_gather_t *g, s_conn_t *c, int64_t now)
{
    for (;;) {
        ssize_t n = recv(c->fd, g->rbuf, sizeof g->rbuf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return !c->scan.done;
        if (n <= 0) {
            s_release(g, c, -1);            /*  gone before its end  */
            return false;
        }
        if (!c->started) {
            c->started = true;
            c->deadline = now + g->conf.request_ms;
        }
        size_t keep = c->in.len < g->conf.cap ? g->conf.cap - c->in.len : 0;
        fp_buf_add(&c->in, g->rbuf, (size_t) n < keep ? (size_t) n : keep);
        c->cut |= (size_t) n > keep;
        s_scan(&c->scan, g->rbuf, (size_t) n);
        if (c->scan.done) {
            /*  handed on, or kept unwatched (no descriptor for the copy:
             *  the sweep tries again)  */
            s_hand_on(g, c);
            return false;
        }
    }
}

/*  Hand on the requests that waited for a descriptor; close the
 *  connections whose time is up.  */
static void
s_sweep(fp_fcgi_gather_t *g, int64_t now)
{
    s_conn_t *next;
    for (s_conn_t *c = g->conns; c; c = next) {
        next = c->next;
        if (c->scan.done && s_hand_on(g, c))
            continue;
        if (now >= c->deadline)
            s_release(g, c, -1);
    }
}

static void *
s_run(void *arg)
{
    fp_fcgi_gather_t *g = arg;
    struct epoll_event evs[64];

    while (!g->stopping || g->conns) {
        int n = epoll_wait(g->ep, evs, 64, TICK_MS);
        int64_t now = fp_clock_ms();
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            uint64_t v;
            if (p == NULL)
                s_accept(g, now);
            else if (p == g && read(g->wake_fd, &v, sizeof v) < 0)
                continue;           /*  drained: stop is seen below  */
            else if (p != g)
                (void) s_read(g, p, now);
        }
        if (g->stopping)
            s_listen_watch(g, false);
        else if (g->resume && now >= g->resume)
            s_resume(g);
        s_sweep(g, now);
    }
    return NULL;
}

fp_fcgi_gather_t *
fp_fcgi_gather_new(const fp_fcgi_gather_conf_t *conf, char *err)
{
    fp_fcgi_gather_t *g = fp_calloc(1, sizeof *g);
    struct epoll_event ev = { .events = EPOLLIN };
    g->conf = *conf;
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    g->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    g->fd_limit = s_fd_limit();
    ev.data.ptr = g;
    if (g->ep < 0 || g->wake_fd < 0 ||
        epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake_fd, &ev) < 0) {
        snprintf(err, FP_ERR_LEN, "fcgi gather: %s", strerror(errno));
        goto fail;
    }
    /*  non-blocking: a peer that left, or another process sharing the
     *  socket that took the connection, must not leave accept4 waiting  */
    int fl = fcntl(conf->listen_fd, F_GETFL);
    fcntl(conf->listen_fd, F_SETFL, fl | O_NONBLOCK);
    s_listen_watch(g, true);
    if (!g->listening || pthread_create(&g->thread, NULL, s_run, g) != 0) {
        snprintf(err, FP_ERR_LEN, "fcgi gather: %s", strerror(errno));
        goto fail;
    }
    g->joinable = true;
    return g;
fail:
    fp_fcgi_gather_destroy(&g);
    return NULL;
}

int
fp_fcgi_gather_count(fp_fcgi_gather_t *g)
{
    return __atomic_load_n(&g->count, __ATOMIC_SEQ_CST);
}

void
fp_fcgi_gather_stop(fp_fcgi_gather_t *g)
{
    uint64_t one = 1;
    g->stopping = 1;
    if (g->wake_fd >= 0 && write(g->wake_fd, &one, sizeof one) < 0)
        return;
}

void
fp_fcgi_gather_destroy(fp_fcgi_gather_t **g_p)
{
    fp_fcgi_gather_t *g = *g_p;
    if (!g)
        return;
    *g_p = NULL;
    fp_fcgi_gather_stop(g);
    if (g->joinable)
        pthread_join(g->thread, NULL);
    while (g->conns)
        s_release(g, g->conns, -1);
    if (g->ep >= 0)
        close(g->ep);
    if (g->wake_fd >= 0)
        close(g->wake_fd);
    free(g);
}

#ifdef FP_TEST
#include "fcgi_record.h"
#include "test.h"

/*  Whether scanning b in pieces of `step` bytes ends exactly at its end
 *  (and not before).  */
static bool
s_t_scan(const fp_buf_t *b, size_t step)
{
    s_scan_t sc = { .hlen = 0 };
    const uint8_t *p = (const uint8_t *) b->data;
    for (size_t off = 0; off < b->len; off += step) {
        if (sc.done)
            return false;
        s_scan(&sc, p + off, b->len - off < step ? b->len - off : step);
    }
    return sc.done;
}

/*  The record scanner: a request ends at its empty FCGI_STDIN record,
 *  however it is cut; a body's own records do not end it; bytes that are
 *  not FastCGI end it at once.  (The thread, the deadlines and EMFILE are
 *  tested through fcgi_accept's self-test and tests/e2e.)  */
void
fp_fcgi_gather_test(void)
{
    const char *env[] = { "REQUEST_METHOD=POST", "QUERY_STRING=a=1", NULL };
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_request(&b, 1, env, "{\"k\":1}", 7);
    FP_CHECK(s_t_scan(&b, b.len), "a whole request in one piece");
    FP_CHECK(s_t_scan(&b, 1), "... a byte at a time");
    FP_CHECK(s_t_scan(&b, 7), "... seven bytes at a time");
    s_scan_t sc = { .hlen = 0 };
    s_scan(&sc, (const uint8_t *) b.data, b.len - 1);
    FP_CHECK(!sc.done, "all but its last byte: not done");
    fp_buf_reset(&b);
    fp_fcgi_record_request(&b, 1, env, NULL, 0);
    FP_CHECK(s_t_scan(&b, 3), "a request without a body");
    sc = (s_scan_t) { .hlen = 0 };
    s_scan(&sc, (const uint8_t *) "GET / HTTP/1.1\r\n", 16);
    FP_CHECK(sc.done, "HTTP instead of FastCGI: done at once (libfcgi "
             "refuses it)");
    fp_buf_free(&b);
}
#endif
