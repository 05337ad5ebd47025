/*  stream: one SSE stream on a handed-over FastCGI connection.
 *
 *  Output goes through the stream's outq and is flushed once per loop
 *  round for every stream that got something (the dirty list), so a burst
 *  of events becomes one writev.  A broadcast event is encoded once: its
 *  FCGI_STDOUT record for request id 1 (what every web server uses) is
 *  cached on the event and shared by all streams.  A stream that lets
 *  more than max-buffer bytes pile up (after writing what the socket takes
 *  at once) is cut: what is queued is still written, then the response
 *  ends, and the browser reconnects with the Last-Event-ID of the last
 *  event it got and resumes.  A catch-up larger than max-buffer thus
 *  arrives over several connections instead of never.  A cut stream that
 *  cannot drain within a heartbeat interval is closed.
 *  ssed_stream_close is the one way a connection ends.
 */
#include "ssed.h"
#include "sse.h"
#include "clock.h"
#include "fcgi_rec.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void s_on_io(fp_loop_t *loop, int fd, uint32_t events, void *arg);
static void s_flush(ssed_stream_t *s);
static void s_end(ssed_stream_t *s);

/* ------------------------------------------------------------ output */

static void
s_mark_dirty(ssed_stream_t *s)
{
    if (s->dirty)
        return;
    s->dirty = true;
    s->next_dirty = s->d->dirty;
    s->d->dirty = s;
}

/*  Queue a blob; cut the stream if the client stopped reading.  Returns
 *  false if the blob was not queued (the stream ends).  */
static bool
s_queue(ssed_stream_t *s, fp_blob_t *b)
{
    size_t max = s->d->conf.max_buffer;
    if (s->closing)
        return false;
    if (s->out.bytes > 0 && s->out.bytes + b->len > max && !s->want_out)
        s_flush(s);             /*  a burst: write what the socket takes  */
    if (s->fd < 0)
        return false;
    /*  an empty queue takes anything, even one event above max-buffer  */
    if (s->out.bytes > 0 && s->out.bytes + b->len > max) {
        fp_log_info("stream fd %d: client not reading (%zu bytes queued): "
                    "ending it, the browser will resume", s->fd,
                    s->out.bytes);
        s->d->stats.slow_cut++;
        s_end(s);
        return false;
    }
    fp_outq_push(&s->out, b);
    s->d->stats.bytes += b->len;
    s->last_write = fp_clock_ms();
    s_mark_dirty(s);
    return true;
}

/*  Wrap SSE text in FCGI_STDOUT records and queue it.  */
static bool
s_queue_text(ssed_stream_t *s, const char *text, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_fcgi_stdout(&b, s->rid, text, len);
    fp_blob_t *blob = fp_blob_new(b.data, b.len);
    fp_buf_free(&b);
    bool ok = s_queue(s, blob);
    fp_blob_unref(&blob);
    return ok;
}

static bool
s_queue_sse(ssed_stream_t *s, const char *id, const char *type,
            const char *data, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_sse_event(&b, id, type, data, len);
    bool ok = s_queue_text(s, b.data, b.len);
    fp_buf_free(&b);
    return ok;
}

/*  The record of an event for request id `rid`; for id 1 it is built once
 *  and cached on the event.  Caller owns the returned reference.  */
static fp_blob_t *
s_event_blob(fp_event_t *ev, int rid)
{
    if (rid == 1 && ev->cache)
        return fp_blob_ref(ev->cache);
    char id[FP_CURSOR_LEN];
    fp_buf_t sse, rec;
    fp_buf_init(&sse);
    fp_buf_init(&rec);
    fp_cursor_format(ev->epoch, ev->seq, id);
    fp_sse_event(&sse, id, ev->type, ev->json, ev->json_len);
    fp_fcgi_stdout(&rec, rid, sse.data, sse.len);
    fp_blob_t *blob = fp_blob_new(rec.data, rec.len);
    fp_buf_free(&sse);
    fp_buf_free(&rec);
    if (rid == 1) {
        ev->cache = fp_blob_ref(blob);
        ev->cache_free = fp_blob_cache_free;
    }
    return blob;
}

/* ------------------------------------------------------------ hub */

static void
s_event(fp_member_t *m, fp_event_t *ev, bool snapshot, void *ctx)
{
    ssed_stream_t *s = ctx;
    s->d->stats.events++;
    if (snapshot) {
        size_t len;
        char *json = fp_event_snapshot_json(ev, &len);
        s_queue_sse(s, NULL, ev->type, json, len);
        free(json);
        return;
    }
    fp_blob_t *blob = s_event_blob(ev, s->rid);
    s_queue(s, blob);
    fp_blob_unref(&blob);
}

static void
s_reset(fp_member_t *m, const char *channel, const char *reason,
        bool snapshot, void *ctx)
{
    ssed_stream_t *s = ctx;
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"channel\":");
    fp_json_append_str(&b, channel);
    fp_buf_adds(&b, ",\"reason\":");
    fp_json_append_str(&b, reason);
    fp_buf_addf(&b, ",\"snapshot\":%s}", snapshot ? "true" : "false");
    s->d->stats.resets++;
    s_queue_sse(s, NULL, "reset", b.data, b.len);
    fp_buf_free(&b);
}

static void
s_ready(fp_member_t *m, const char *cursor, void *ctx)
{
    ssed_stream_t *s = ctx;
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"cursor\":");
    fp_json_append_str(&b, cursor);
    fp_buf_adds(&b, "}");
    s_queue_sse(s, cursor, "ready", b.data, b.len);
    fp_buf_free(&b);
}

/*  End the response properly (empty FCGI_STDOUT, FCGI_END_REQUEST) and
 *  leave the hub; the connection closes once this is written.  */
static void
s_end(ssed_stream_t *s)
{
    fp_buf_t b;
    if (s->closing || !s->member)
        return;
    fp_buf_init(&b);
    fp_fcgi_end(&b, s->rid, 0);
    fp_outq_push_copy(&s->out, b.data, b.len);
    fp_buf_free(&b);
    fp_member_destroy(&s->member);
    s->d->nlive--;
    s->d->stats.closed++;
    s->closing = true;
    s->closing_since = fp_clock_ms();
    s_mark_dirty(s);
}

/*  The broker refused the join: say why, end the stream and ask the
 *  browser to wait long before retrying.  */
static void
s_failed(fp_member_t *m, const char *code, const char *msg, void *ctx)
{
    ssed_stream_t *s = ctx;
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "retry: 60000\n\n");
    fp_buf_adds(&b, "event: error\ndata: {\"code\":");
    fp_json_append_str(&b, code);
    fp_buf_adds(&b, ",\"message\":");
    fp_json_append_str(&b, msg ? msg : "");
    fp_buf_adds(&b, "}\n\n");
    s_queue_text(s, b.data, b.len);
    fp_buf_free(&b);
    s_end(s);
}

static const fp_member_cbs_t s_cbs = { s_event, s_reset, s_ready, s_failed };

/* ------------------------------------------------------------ lifecycle */

static ssed_stream_t *
s_new(ssed_t *d, fp_fcgi_req_t *req)
{
    ssed_stream_t *s = fp_calloc(1, sizeof *s);
    s->d = d;
    s->fd = req->fd;
    s->rid = req->rid;
    req->fd = -1;
    if (d->nstreams == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->streams = fp_realloc(d->streams, d->cap * sizeof *d->streams);
    }
    s->index = d->nstreams;
    d->streams[d->nstreams++] = s;
    s->last_write = fp_clock_ms();
    fp_loop_add(fp_app_loop(d->app), s->fd, EPOLLIN | EPOLLRDHUP, s_on_io, s);
    return s;
}

void
ssed_reply(ssed_t *d, fp_fcgi_req_t *req, int status, const char *headers,
           const char *code, const char *msg)
{
    fp_buf_t body, hdr, rec;
    fp_buf_init(&body);
    fp_buf_init(&hdr);
    fp_buf_init(&rec);
    fp_buf_adds(&body, "{\"error\":");
    fp_json_append_str(&body, code);
    fp_buf_adds(&body, ",\"message\":");
    fp_json_append_str(&body, msg);
    fp_buf_adds(&body, "}\n");
    fp_buf_addf(&hdr, "%sContent-Type: application/json\r\n"
                "Cache-Control: no-store\r\n", headers ? headers : "");
    fp_fcgi_response(&rec, req->rid, status, hdr.data, body.data, body.len);
    ssed_stream_t *s = s_new(d, req);
    fp_outq_push_copy(&s->out, rec.data, rec.len);
    s->closing = true;
    s->closing_since = fp_clock_ms();
    s_mark_dirty(s);
    d->stats.refused++;
    fp_fcgi_req_free(&req);
    fp_buf_free(&body);
    fp_buf_free(&hdr);
    fp_buf_free(&rec);
}

void
ssed_stream_open(ssed_t *d, fp_fcgi_req_t *req, const fp_strlist_t *channels,
                 const char *cursor, const char *headers)
{
    char err[FP_ERR_LEN];
    fp_buf_t head;

    fp_member_t *m = fp_member_new(fp_app_hub(d->app),
                                   (const char *const *) channels->items,
                                   (size_t) channels->count, cursor, &s_cbs,
                                   NULL, err);
    if (!m) {
        ssed_reply(d, req, 400, headers, "bad_request", err);
        return;
    }
    ssed_stream_t *s = s_new(d, req);
    fp_fcgi_req_free(&req);
    s->member = m;
    fp_member_set_ctx(m, s);
    d->nlive++;
    d->stats.opened++;
    fp_buf_init(&head);
    fp_buf_addf(&head, "Status: 200 OK\r\nContent-Type: text/event-stream; "
                "charset=utf-8\r\nCache-Control: no-cache, no-transform\r\n"
                "X-Accel-Buffering: no\r\n%s\r\n", headers ? headers : "");
    fp_sse_retry(&head, (unsigned) d->conf.retry);
    s_queue_text(s, head.data, head.len);
    fp_buf_free(&head);
}

void
ssed_stream_close(ssed_stream_t *s)
{
    ssed_t *d = s->d;
    if (s->fd < 0)
        return;
    fp_loop_del(fp_app_loop(d->app), s->fd);
    close(s->fd);
    s->fd = -1;
    if (s->member) {
        fp_member_destroy(&s->member);
        d->nlive--;
        d->stats.closed++;
    }
    fp_outq_clear(&s->out);
    d->streams[s->index] = d->streams[--d->nstreams];
    d->streams[s->index]->index = s->index;
    if (s->dirty)
        s->closing = true;      /*  freed when the dirty list reaches it  */
    else
        free(s);
}

/*  Flush one stream: done, wait for EPOLLOUT, or close.  */
static void
s_flush(ssed_stream_t *s)
{
    int rc = fp_outq_flush(&s->out, s->fd);
    if (rc < 0) {
        if (errno != EPIPE && errno != ECONNRESET)
            fp_log_warn("stream fd %d: write", s->fd);
        s->d->stats.gone++;
        ssed_stream_close(s);
    } else if (rc == 1 && s->closing) {
        ssed_stream_close(s);
    } else if ((rc == 0) != s->want_out) {
        s->want_out = rc == 0;
        fp_loop_mod(fp_app_loop(s->d->app), s->fd, EPOLLIN | EPOLLRDHUP |
                    (s->want_out ? EPOLLOUT : 0));
    }
}

void
ssed_flush_all(ssed_t *d)
{
    while (d->dirty) {
        ssed_stream_t *s = d->dirty;
        d->dirty = s->next_dirty;
        s->dirty = false;
        if (s->fd < 0) {
            free(s);            /*  closed while listed  */
            continue;
        }
        if (!s->want_out)
            s_flush(s);
    }
}

/*  The web server closed the connection (the browser went away), or
 *  the socket can take more output.  */
static void
s_on_io(fp_loop_t *loop, int fd, uint32_t events, void *arg)
{
    ssed_stream_t *s = arg;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        char scratch[512];
        ssize_t n = recv(fd, scratch, sizeof scratch, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
            s->d->stats.gone++;
            ssed_stream_close(s);
            return;
        }
    }
    if (events & EPOLLOUT) {
        s->want_out = false;
        s_flush(s);
    }
}

/*  Heartbeat comments for streams quiet for `heartbeat` ms: they keep
 *  every server's timeouts at bay and reveal clients that left.  Ended
 *  streams whose client has not taken the rest within that time are
 *  closed.  */
void
ssed_sweep(ssed_t *d, int64_t now)
{
    for (uint32_t i = d->nstreams; i-- > 0;) {
        if (i >= d->nstreams)
            continue;
        ssed_stream_t *s = d->streams[i];
        if (s->closing && now - s->closing_since >
            (int64_t) d->conf.heartbeat) {
            fp_log_info("stream fd %d: %zu bytes not taken since the end: "
                        "closing", s->fd, s->out.bytes);
            ssed_stream_close(s);
            continue;
        }
        if (!s->member || now - s->last_write < (int64_t) d->conf.heartbeat)
            continue;
        d->stats.heartbeats++;
        if (s->rid == 1)
            s_queue(s, d->heartbeat);
        else
            s_queue_text(s, ": hb\n\n", 6);
    }
}

/*  SIGTERM: end every stream with a proper end of response, so browsers
 *  reconnect (to another responder, or to this one once restarted).  */
void
ssed_stop_all(ssed_t *d)
{
    for (uint32_t i = 0; i < d->nstreams; i++)
        s_end(d->streams[i]);
}
