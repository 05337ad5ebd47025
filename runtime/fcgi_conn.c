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
