/*  fcgi_conn: loop-owned FastCGI connections (see fcgi_conn.h).  */
#include "fcgi_conn.h"
#include "buf.h"
#include "clock.h"
#include "fcgi_record.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

struct fp_fcgi_conns {
    fp_loop_t *loop;
    fp_fcgi_conn_t *dirty;          /*  to flush at the end of the round  */
    fp_fcgi_conn_t **all;           /*  open connections (for destroy)  */
    size_t n, cap;
};

static void s_on_io(fp_loop_t *loop, int fd, uint32_t events, void *arg);

fp_fcgi_conns_t *
fp_fcgi_conns_new(fp_loop_t *loop)
{
    fp_fcgi_conns_t *set = fp_calloc(1, sizeof *set);
    set->loop = loop;
    return set;
}

size_t
fp_fcgi_conns_count(const fp_fcgi_conns_t *set)
{
    return set->n;
}

static void
s_mark(fp_fcgi_conn_t *c)
{
    if (c->dirty)
        return;
    c->dirty = true;
    c->next_dirty = c->set->dirty;
    c->set->dirty = c;
}

static void
s_forget(fp_fcgi_conns_t *set, fp_fcgi_conn_t *c)
{
    set->all[c->index] = set->all[--set->n];
    set->all[c->index]->index = c->index;
}

fp_fcgi_conn_t *
fp_fcgi_conn_new(fp_fcgi_conns_t *set, fp_fcgi_req_t *req, fp_fcgi_conn_gone_fn *gone,
             void *ctx)
{
    fp_fcgi_conn_t *c = fp_calloc(1, sizeof *c);
    c->set = set;
    c->fd = req->fd;
    c->rid = req->rid;
    c->gone = gone;
    c->ctx = ctx;
    c->last_write = fp_clock_ms();
    req->fd = -1;
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 64;
        set->all = fp_realloc(set->all, set->cap * sizeof *set->all);
    }
    c->index = set->n;
    set->all[set->n++] = c;
    fp_loop_add(set->loop, c->fd, EPOLLIN | EPOLLRDHUP, s_on_io, c);
    return c;
}

void
fp_fcgi_conn_push(fp_fcgi_conn_t *c, fp_blob_t *b)
{
    if (c->closing || c->fd < 0)
        return;
    fp_sendq_push(&c->out, b);
    c->last_write = fp_clock_ms();
    s_mark(c);
}

void
fp_fcgi_conn_write(fp_fcgi_conn_t *c, const void *data, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_stdout(&b, c->rid, data, len);
    fp_blob_t *blob = fp_blob_new(b.data, b.len);
    fp_fcgi_conn_push(c, blob);
    fp_blob_unref(&blob);
    fp_buf_free(&b);
}

static void
s_push_end(fp_fcgi_conn_t *c, fp_buf_t *b)
{
    fp_blob_t *blob = fp_blob_new(b->data, b->len);
    fp_fcgi_conn_push(c, blob);
    fp_blob_unref(&blob);
    c->closing = true;
    c->closing_since = fp_clock_ms();
}

void
fp_fcgi_conn_end(fp_fcgi_conn_t *c)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_end(&b, c->rid, 0);
    s_push_end(c, &b);
    fp_buf_free(&b);
}

void
fp_fcgi_conn_respond(fp_fcgi_conn_t *c, int status, const char *headers,
                 const char *body, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_record_response(&b, c->rid, status, headers, body, len);
    s_push_end(c, &b);
    fp_buf_free(&b);
}

size_t
fp_fcgi_conn_queued(const fp_fcgi_conn_t *c)
{
    return c->out.bytes;
}

void
fp_fcgi_conn_close(fp_fcgi_conn_t *c)
{
    if (c->fd < 0)
        return;
    fp_loop_del(c->set->loop, c->fd);
    close(c->fd);
    c->fd = -1;
    fp_sendq_clear(&c->out);
    s_forget(c->set, c);
    if (!c->dirty)
        free(c);                /*  else freed by the flush pass  */
}

/*  The client is gone: tell the owner once, then close.  */
static void
s_gone(fp_fcgi_conn_t *c)
{
    if (c->gone)
        c->gone(c, c->ctx);
    fp_fcgi_conn_close(c);
}

static void
s_flush(fp_fcgi_conn_t *c)
{
    int rc = fp_sendq_flush(&c->out, c->fd);
    if (rc < 0) {
        if (errno != EPIPE && errno != ECONNRESET)
            fp_log_warn("connection fd %d: write", c->fd);
        s_gone(c);
    } else if (rc == 1 && c->closing) {
        fp_fcgi_conn_close(c);
    } else if ((rc == 0) != c->want_out) {
        c->want_out = rc == 0;
        fp_loop_mod(c->set->loop, c->fd, EPOLLIN | EPOLLRDHUP |
                    (c->want_out ? EPOLLOUT : 0));
    }
}

bool
fp_fcgi_conn_flush_now(fp_fcgi_conn_t *c)
{
    if (c->fd < 0)
        return false;
    if (!c->want_out)
        s_flush(c);
    return c->fd >= 0;
}

void
fp_fcgi_conns_reap(fp_fcgi_conns_t *set, int64_t now, int64_t max_ms)
{
    for (size_t i = set->n; i-- > 0;) {
        if (i >= set->n)
            continue;
        fp_fcgi_conn_t *c = set->all[i];
        if (c->closing && c->out.bytes > 0 && now - c->closing_since > max_ms) {
            fp_log_info("connection fd %d: %zu bytes still unwritten %lld ms "
                        "after the end of the response: closing", c->fd,
                        c->out.bytes, (long long) (now - c->closing_since));
            fp_fcgi_conn_close(c);
        }
    }
}

void
fp_fcgi_conns_flush(fp_fcgi_conns_t *set)
{
    while (set->dirty) {
        fp_fcgi_conn_t *c = set->dirty;
        set->dirty = c->next_dirty;
        c->dirty = false;
        if (c->fd < 0)
            free(c);            /*  closed while listed  */
        else if (!c->want_out)
            s_flush(c);
    }
}

/*  Readable or hung up: the web server closed the connection (the client
 *  went away).  Anything it sends after the request is discarded.  */
static void
s_on_io(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    fp_fcgi_conn_t *c = arg;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char scratch[512];
        ssize_t n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            s_gone(c);
            return;
        }
    }
    if (events & EPOLLOUT) {
        c->want_out = false;
        s_flush(c);
    }
}

void
fp_fcgi_conns_destroy(fp_fcgi_conns_t **set_p)
{
    fp_fcgi_conns_t *set = *set_p;
    if (!set)
        return;
    *set_p = NULL;
    while (set->n > 0)
        fp_fcgi_conn_close(set->all[set->n - 1]);
    fp_fcgi_conns_flush(set);
    free(set->all);
    free(set);
}

#ifdef FP_TEST
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/un.h>

int
fp_fcgi_conn_test_read(int fd, fp_buf_t *in, int rid, fp_buf_t *out,
                       const char *until, int timeout_ms)
{
    int64_t deadline = fp_clock_ms() + timeout_ms;
    for (;;) {
        int type, r;
        const char *c;
        size_t clen;
        long n;
        while ((n = fp_fcgi_record_next(in->data, in->len, &type, &r, &c,
                                        &clen)) > 0) {
            if (r != rid)
                return -1;
            if (type == FP_FCGI_STDOUT)
                fp_buf_add(out, c, clen);
            fp_buf_consume(in, (size_t) n);
            if (type == FP_FCGI_END_REQUEST)
                return 1;
            if (until && out->len && strstr(out->data, until))
                return 0;
        }
        int left = (int) (deadline - fp_clock_ms());
        struct pollfd p = { .fd = fd, .events = POLLIN };
        char chunk[4096];
        if (n < 0 || poll(&p, 1, left > 0 ? left : 0) <= 0)
            return -1;
        ssize_t got = recv(fd, chunk, sizeof chunk, MSG_DONTWAIT);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
            return -1;
        if (got > 0)
            fp_buf_add(in, chunk, (size_t) got);
    }
}

bool
fp_fcgi_conn_test_eof(int fd, int timeout_ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    char c;
    if (poll(&p, 1, timeout_ms) <= 0)
        return false;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

int
fp_fcgi_conn_test_dial(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (fd >= 0 && connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

#define T_WAIT_MS 2000

/*  One connection and the web server's end of it.  */
typedef struct {
    fp_fcgi_conn_t *conn;
    int peer;
    fp_buf_t in, out;           /*  the peer's unparsed bytes, its STDOUT  */
    int gone;                   /*  times `gone` was called  */
} s_side_t;

static void
s_on_gone(fp_fcgi_conn_t *c, void *ctx)
{
    s_side_t *s = ctx;
    s->gone++;
    s->conn = NULL;
}

static void
s_open(fp_fcgi_conns_t *set, s_side_t *s, int rid)
{
    int sv[2];
    memset(s, 0, sizeof *s);
    fp_buf_init(&s->in);
    fp_buf_init(&s->out);
    s->peer = -1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        return;
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fp_fcgi_req_t req = { .fd = sv[0], .rid = rid };
    s->conn = fp_fcgi_conn_new(set, &req, s_on_gone, s);
    s->peer = sv[1];
    FP_CHECK(req.fd == -1 && s->conn->fd == sv[0], "the connection is taken "
             "over from the request");
}

static int
s_read(s_side_t *s, int rid, const char *until)
{
    return fp_fcgi_conn_test_read(s->peer, &s->in, rid, &s->out, until,
                                  T_WAIT_MS);
}

static void
s_close(s_side_t *s)
{
    if (s->peer >= 0)
        close(s->peer);
    fp_buf_free(&s->in);
    fp_buf_free(&s->out);
}

/*  Round trips: records written at the end of the round, the end closes
 *  the connection, several connections keep their own records.  */
static void
s_test_write(fp_loop_t *loop, fp_fcgi_conns_t *set)
{
    s_side_t a, b, c;
    char ch;
    s_open(set, &a, 7);
    fp_fcgi_conn_write(a.conn, "hello", 5);
    FP_CHECK(fp_fcgi_conn_queued(a.conn) == 16, "one padded STDOUT record "
             "queued");
    FP_CHECK(recv(a.peer, &ch, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN,
             "nothing written before the end of the round");
    fp_fcgi_conns_flush(set);
    FP_CHECK(s_read(&a, 7, "hello") == 0 && fp_fcgi_conn_queued(a.conn) == 0,
             "written by the end-of-round flush");
    fp_fcgi_conn_end(a.conn);
    fp_fcgi_conn_write(a.conn, "late", 4);
    FP_CHECK(fp_fcgi_conn_queued(a.conn) == 24, "nothing queued after the "
             "end");
    FP_CHECK(fp_fcgi_conns_count(set) == 1, "open until the end is written");
    fp_fcgi_conns_flush(set);
    FP_CHECK(s_read(&a, 7, NULL) == 1 && strcmp(a.out.data, "hello") == 0,
             "empty STDOUT and END_REQUEST");
    FP_CHECK(fp_fcgi_conn_test_eof(a.peer, T_WAIT_MS) &&
             fp_fcgi_conns_count(set) == 0 && a.gone == 0,
             "closed once the end is written, without `gone`");
    s_close(&a);

    s_open(set, &a, 1);
    s_open(set, &b, 2);
    s_open(set, &c, 3);
    fp_fcgi_conn_write(b.conn, "b1 ", 3);
    fp_fcgi_conn_write(a.conn, "a1 ", 3);
    fp_fcgi_conn_respond(c.conn, 404, "X-Why: test\r\n", "nope", 4);
    fp_fcgi_conn_write(b.conn, "b2", 2);
    fp_fcgi_conn_end(b.conn);
    fp_fcgi_conn_respond(a.conn, 200, NULL, NULL, 0);
    FP_CHECK(fp_fcgi_conns_count(set) == 3, "three connections");
    fp_fcgi_conns_flush(set);
    FP_CHECK(s_read(&a, 1, NULL) == 1 && s_read(&b, 2, NULL) == 1 &&
             s_read(&c, 3, NULL) == 1, "each peer gets only its request's "
             "records, then the end");
    FP_CHECK(strcmp(b.out.data, "b1 b2") == 0, "writes in order");
    FP_CHECK(strcmp(c.out.data, "Status: 404 Not Found\r\nX-Why: test\r\n"
                    "Content-Length: 4\r\n\r\nnope") == 0 &&
             strncmp(a.out.data, "a1 Status: 200 OK\r\nContent-Length: 0"
                     "\r\n\r\n", a.out.len) == 0, "whole responses");
    FP_CHECK(fp_fcgi_conn_test_eof(a.peer, T_WAIT_MS) &&
             fp_fcgi_conn_test_eof(b.peer, T_WAIT_MS) &&
             fp_fcgi_conn_test_eof(c.peer, T_WAIT_MS) &&
             fp_fcgi_conns_count(set) == 0, "all three closed");
    s_close(&a);
    s_close(&b);
    s_close(&c);
    (void) loop;
}

/*  The web server closing the connection, before or while a write.  */
static void
s_test_gone(fp_loop_t *loop, fp_fcgi_conns_t *set)
{
    s_side_t a, b, c;
    s_open(set, &a, 1);
    s_open(set, &b, 2);
    s_open(set, &c, 3);
    FP_CHECK(write(a.peer, "x", 1) == 1 && fp_loop_run(loop, 0) == 1 &&
             a.gone == 0 && a.conn, "bytes after the request are discarded");
    close(a.peer);
    a.peer = -1;
    for (int i = 0; i < 3 && !a.gone; i++)
        fp_loop_run(loop, T_WAIT_MS);
    FP_CHECK(a.gone == 1 && fp_fcgi_conns_count(set) == 2,
             "a closed peer is reported once and its connection closed");
    fp_loop_run(loop, 0);
    FP_CHECK(a.gone == 1, "once");

    close(b.peer);                      /*  not seen by the loop yet  */
    b.peer = -1;
    fp_fcgi_conn_write(b.conn, "x", 1);
    fp_fcgi_conns_flush(set);
    FP_CHECK(b.gone == 1 && fp_fcgi_conns_count(set) == 1,
             "a write to a closed peer ends the connection with `gone`");

    fp_fcgi_conn_write(c.conn, "now", 3);
    FP_CHECK(fp_fcgi_conn_flush_now(c.conn) && s_read(&c, 3, "now") == 0,
             "flush_now writes before the end of the round");
    close(c.peer);
    c.peer = -1;
    fp_fcgi_conn_write(c.conn, "x", 1);
    FP_CHECK(!fp_fcgi_conn_flush_now(c.conn) && c.gone == 1,
             "flush_now to a closed peer: false, `gone` called");
    fp_fcgi_conns_flush(set);           /*  frees c, still listed  */
    FP_CHECK(fp_fcgi_conns_count(set) == 0, "none left");
    s_close(&a);
    s_close(&b);
    s_close(&c);
}

/*  A peer that stops reading: EPOLLOUT while full, the reaper for an
 *  ended response that cannot be written.  */
static void
s_test_full(fp_loop_t *loop, fp_fcgi_conns_t *set)
{
    s_side_t a, b;
    static char big[60000];
    memset(big, 'x', sizeof big);
    s_open(set, &a, 1);
    for (int i = 0; i < 64 && !a.conn->want_out; i++) {
        fp_fcgi_conn_write(a.conn, big, sizeof big);
        fp_fcgi_conns_flush(set);
    }
    FP_CHECK(a.conn->want_out && fp_fcgi_conn_queued(a.conn) > 0,
             "a full socket: EPOLLOUT watched, bytes kept");
    fp_fcgi_conn_end(a.conn);
    int rc = -1;
    for (int i = 0; i < 10000 && rc != 1; i++) {
        /*  what the socket holds now; then the loop writes more  */
        rc = fp_fcgi_conn_test_read(a.peer, &a.in, 1, &a.out, NULL, 0);
        fp_buf_reset(&a.out);
        fp_loop_run(loop, 0);
        fp_fcgi_conns_flush(set);
    }
    FP_CHECK(rc == 1 && fp_fcgi_conn_test_eof(a.peer, T_WAIT_MS) &&
             fp_fcgi_conns_count(set) == 0, "written on EPOLLOUT as the peer "
             "reads, to the end");

    s_open(set, &b, 2);
    for (int i = 0; i < 64 && !b.conn->want_out; i++) {
        fp_fcgi_conn_write(b.conn, big, sizeof big);
        fp_fcgi_conns_flush(set);
    }
    fp_fcgi_conn_end(b.conn);
    fp_fcgi_conns_flush(set);
    int64_t since = b.conn->closing_since;
    fp_fcgi_conns_reap(set, since + 50, 100);
    FP_CHECK(fp_fcgi_conns_count(set) == 1, "not reaped before max_ms");
    int level = fp_log_set_level(FP_LOG_WARN);
    fp_fcgi_conns_reap(set, since + 101, 100);
    fp_log_set_level(level);
    FP_CHECK(fp_fcgi_conns_count(set) == 0 && b.gone == 0,
             "an unwritten end is reaped after max_ms, without `gone`");
    s_close(&a);
    s_close(&b);
}

/*  Closing while listed for the flush, and destroying a set with open
 *  connections.  */
static void
s_test_close(fp_loop_t *loop, fp_fcgi_conns_t **set_p)
{
    s_side_t a, b;
    s_open(*set_p, &a, 1);
    s_open(*set_p, &b, 2);
    fp_fcgi_conn_write(a.conn, "dropped", 7);
    fp_fcgi_conn_close(a.conn);
    fp_fcgi_conn_close(a.conn);         /*  idempotent while listed  */
    fp_fcgi_conns_flush(*set_p);
    FP_CHECK(fp_fcgi_conn_test_eof(a.peer, T_WAIT_MS) && a.gone == 0,
             "close drops what is queued; the peer sees only the end");
    fp_fcgi_conn_write(b.conn, "dropped", 7);
    fp_fcgi_conns_destroy(set_p);
    FP_CHECK(*set_p == NULL && fp_fcgi_conn_test_eof(b.peer, T_WAIT_MS) &&
             b.gone == 0 && fp_loop_count(loop) == 0,
             "destroy closes open connections without `gone`");
    s_close(&a);
    s_close(&b);
}

void
fp_fcgi_conn_test(void)
{
    char err[FP_ERR_LEN];
    fp_loop_t *loop = fp_loop_new(err);
    fp_fcgi_conns_t *set = fp_fcgi_conns_new(loop);
    s_test_write(loop, set);
    s_test_gone(loop, set);
    s_test_full(loop, set);
    s_test_close(loop, &set);
    fp_loop_destroy(&loop);
}
#endif
