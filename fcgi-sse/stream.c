/*  stream: one SSE stream = a handed-over connection (runtime/fcgi_conn) and a
 *  hub member (runtime/hub).
 *
 *  A broadcast event is encoded once: its FCGI_STDOUT record for request
 *  id 1 (what every web server uses) is cached on the event and the same
 *  blob is queued on every stream.  A stream that lets more than
 *  max-buffer bytes pile up is ended: the browser reconnects with its
 *  Last-Event-ID and resumes.  s_close is the one way a stream ends.
 */
#include "ssed.h"
#include "error.h"
#include "sse.h"
#include "clock.h"
#include "fcgi_record.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

/*  Forget the stream (the connection is closed or closing; it no longer
 *  reports to this stream).  */
static void
s_close(ssed_stream_t *s)
{
    ssed_t *d = s->d;
    s->conn->gone = NULL;
    s->conn->ctx = NULL;
    ssed_presence_leave(s);
    ssed_mercure_sub_free(&s->mercure);
    fp_member_destroy(&s->member);
    fp_access_client_free(d->authz, &s->client);
    d->streams[s->index] = d->streams[--d->nstreams];
    d->streams[s->index]->index = s->index;
    d->stats.closed++;
    free(s);
}

static void s_end(ssed_stream_t *s);
static void s_expire(ssed_stream_t *s);

/*  Queue a blob.  Past max-buffer, first write what the socket takes (a
 *  burst); if that is not enough the client is not keeping up: the stream
 *  ends after what is queued (so a big catch-up arrives over several
 *  connections, each resuming from the last event it got), and the
 *  browser reconnects.  An empty queue takes anything, even one event
 *  larger than max-buffer.  Returns false if the stream ended.  */
static bool
s_queue(ssed_stream_t *s, fp_blob_t *b)
{
    size_t max = s->d->conf.max_buffer;
    if (fp_fcgi_conn_queued(s->conn) > 0 &&
        fp_fcgi_conn_queued(s->conn) + b->len > max &&
        !fp_fcgi_conn_flush_now(s->conn))
        return false;           /*  gone: s was freed by s_gone  */
    if (fp_fcgi_conn_queued(s->conn) > 0 &&
        fp_fcgi_conn_queued(s->conn) + b->len > max) {
        fp_log_info("stream fd %d: client not reading (%zu bytes queued): "
                    "ending it, the browser will resume", s->conn->fd,
                    fp_fcgi_conn_queued(s->conn));
        s->d->stats.slow_cut++;
        s_end(s);
        return false;
    }
    fp_fcgi_conn_push(s->conn, b);
    s->d->stats.bytes += b->len;
    return true;
}

bool
ssed_stream_push(ssed_stream_t *s, fp_blob_t *b)
{
    return s_queue(s, b);
}

/*  Queue SSE text for this stream only, as FCGI_STDOUT records.  */
static void
s_queue_text(ssed_stream_t *s, const char *text, size_t len)
{
    fp_buf_t rec;
    fp_buf_init(&rec);
    fp_fcgi_record_stdout(&rec, s->conn->rid, text, len);
    fp_blob_t *blob = fp_blob_new(rec.data, rec.len);
    s_queue(s, blob);
    fp_blob_unref(&blob);
    fp_buf_free(&rec);
}

void
ssed_stream_text(ssed_stream_t *s, const char *text, size_t len)
{
    s_queue_text(s, text, len);
}

static void
s_queue_sse(ssed_stream_t *s, const char *id, const char *type,
            const char *data, size_t len)
{
    fp_buf_t b;
    fp_buf_init(&b);
    fp_sse_event(&b, id, type, data, len);
    s_queue_text(s, b.data, b.len);
    fp_buf_free(&b);
}

/*  The SSE `event:` field: none for "message", the type EventSource
 *  assumes without one (15 bytes less per event).  */
static const char *
s_type(const fp_event_t *ev)
{
    return strcmp(ev->type, FP_DEFAULT_TYPE) == 0 ? NULL : ev->type;
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
    fp_sse_event(&sse, id, s_type(ev), ev->json, ev->json_len);
    fp_fcgi_record_stdout(&rec, rid, sse.data, sse.len);
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

/*  Snapshot and late events carry no `id:` (the browser's Last-Event-ID
 *  must not move back); snapshot events also say so in their JSON.  */
static void
s_event(fp_member_t *m, fp_event_t *ev, unsigned flags, void *ctx)
{
    ssed_stream_t *s = ctx;
    if (s->expires && fp_clock_ms() >= s->expires) {
        s_expire(s);
        return;
    }
    if (s->mercure) {
        ssed_mercure_event(s, ev, flags);
        return;
    }
    s->d->stats.events++;
    if (flags & FP_EVENT_SNAPSHOT) {
        size_t len;
        char *json = fp_event_snapshot_json(ev, &len);
        s_queue_sse(s, NULL, s_type(ev), json, len);
        free(json);
        return;
    }
    if (flags & FP_EVENT_LATE) {
        s->d->stats.late++;
        s_queue_sse(s, NULL, s_type(ev), ev->json, ev->json_len);
        return;
    }
    fp_blob_t *blob = s_event_blob(ev, s->conn->rid);
    s_queue(s, blob);
    fp_blob_unref(&blob);
}

static void
s_reset(fp_member_t *m, const char *channel, const char *reason,
        bool snapshot, void *ctx)
{
    ssed_stream_t *s = ctx;
    fp_buf_t b;
    s->d->stats.resets++;
    if (s->mercure) {
        ssed_mercure_reset(s);
        return;
    }
    fp_buf_init(&b);
    fp_buf_addc(&b, '{');
    fp_event_reset_append(&b, channel, reason, snapshot);
    fp_buf_addc(&b, '}');
    s_queue_sse(s, NULL, "reset", b.data, b.len);
    fp_buf_free(&b);
}

static void
s_ready(fp_member_t *m, const char *cursor, void *ctx)
{
    ssed_stream_t *s = ctx;
    fp_buf_t b;
    if (s->mercure) {
        ssed_mercure_ready(s);
        return;
    }
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"cursor\":");
    fp_json_append_str(&b, cursor);
    fp_buf_adds(&b, "}");
    s_queue_sse(s, cursor, "ready", b.data, b.len);
    fp_buf_free(&b);
}

/*  End the response properly, so the browser reconnects, and forget the
 *  stream; the connection closes once the end is written (or is closed
 *  by fp_fcgi_conns_reap if it cannot be).  */
static void
s_end(ssed_stream_t *s)
{
    if (s->mercure)
        ssed_mercure_start(s, NULL);
    fp_fcgi_conn_end(s->conn);
    s_close(s);
}

void
ssed_stream_end(ssed_stream_t *s)
{
    s_end(s);
}

/*  The token ran out: say so, then end the stream.  The page gets a new
 *  token and opens a new stream from its last event id (the event that
 *  found the token expired was not sent, so the id is the browser's).  */
static void
s_expire(ssed_stream_t *s)
{
    static const char msg[] = "{\"error\":\"auth_expired\",\"message\":"
                              "\"the token expired: reconnect with a new "
                              "one and the last event id\"}";
    if (s->mercure)
        ssed_mercure_start(s, NULL);
    fp_access_expired(s->d->authz);
    s_queue_sse(s, NULL, "auth-expired", msg, sizeof msg - 1);
    s_end(s);
}

void
ssed_stream_sse(ssed_stream_t *s, const char *type, const char *data,
                size_t len)
{
    s_queue_sse(s, NULL, type, data, len);
}

/*  Say why, end the stream and ask the browser to wait long before
 *  retrying.  */
void
ssed_stream_fail(ssed_stream_t *s, const char *code, const char *msg)
{
    fp_buf_t b;
    if (s->mercure)
        ssed_mercure_start(s, NULL);
    fp_buf_init(&b);
    fp_buf_adds(&b, "retry: 60000\n\nevent: error\ndata: ");
    fp_error_object(&b, code, msg);
    fp_buf_adds(&b, "\n\n");
    fp_fcgi_conn_write(s->conn, b.data, b.len);
    fp_buf_free(&b);
    s_end(s);
}

/*  The broker refused the join.  */
static void
s_failed(fp_member_t *m, const char *code, const char *msg, void *ctx)
{
    ssed_stream_fail(ctx, code, msg);
}

static const fp_member_cbs_t s_cbs = { s_event, s_reset, s_ready, s_failed };

/* ------------------------------------------------------------ lifecycle */

static void
s_gone(fp_fcgi_conn_t *c, void *ctx)
{
    ssed_stream_t *s = ctx;
    s->d->stats.gone++;
    s_close(s);
}

void
ssed_reply(ssed_t *d, fp_fcgi_req_t *req, int status, const char *headers,
           const char *code, const char *msg)
{
    fp_buf_t body, hdr;
    fp_buf_init(&body);
    fp_buf_init(&hdr);
    fp_error_object(&body, code, msg);
    fp_buf_addc(&body, '\n');
    fp_buf_addf(&hdr, "%sContent-Type: application/json\r\n"
                "Cache-Control: no-store\r\n", headers ? headers : "");
    fp_fcgi_conn_t *c = fp_fcgi_conn_new(d->conns, req, NULL, NULL);
    fp_fcgi_conn_respond(c, status, hdr.data, body.data, body.len);
    d->stats.refused++;
    fp_fcgi_req_free(&req);
    fp_buf_free(&body);
    fp_buf_free(&hdr);
}

ssed_stream_t *
ssed_stream_new(ssed_t *d, fp_fcgi_req_t **req_p,
                const fp_strlist_t *channels, const char *cursor,
                int64_t expires, char *err)
{
    fp_member_t *m = fp_member_new(fp_responder_hub(d->app),
                                   (const char *const *) channels->items,
                                   (size_t) channels->count, cursor, &s_cbs,
                                   NULL, err);
    if (!m)
        return NULL;
    ssed_stream_t *s = fp_calloc(1, sizeof *s);
    s->d = d;
    s->member = m;
    s->expires = expires;
    s->conn = fp_fcgi_conn_new(d->conns, *req_p, s_gone, s);
    fp_member_set_ctx(m, s);
    fp_fcgi_req_free(req_p);
    if (d->nstreams == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->streams = fp_realloc(d->streams, d->cap * sizeof *d->streams);
    }
    s->index = d->nstreams;
    d->streams[d->nstreams++] = s;
    d->stats.opened++;
    return s;
}

void
ssed_stream_head(ssed_t *d, fp_buf_t *b, const char *headers)
{
    fp_buf_addf(b, "Status: 200 OK\r\nContent-Type: text/event-stream; "
                "charset=utf-8\r\nCache-Control: private, no-cache, no-transform\r\n"
                "X-Accel-Buffering: no\r\n%s\r\n", headers ? headers : "");
    fp_sse_retry(b, (unsigned) d->conf.retry);
}

void
ssed_stream_open(ssed_t *d, fp_fcgi_req_t *req, const fp_strlist_t *channels,
                 const char *cursor, const char *headers,
                 fp_access_client_t **client)
{
    char err[FP_ERR_LEN];
    fp_buf_t head;

    ssed_stream_t *s = ssed_stream_new(d, &req, channels, cursor,
                                       *client ? (*client)->expires : 0, err);
    if (!s) {
        fp_access_client_free(d->authz, client);
        ssed_reply(d, req, 400, headers, "bad_request", err);
        return;
    }
    s->client = *client;
    *client = NULL;
    fp_buf_init(&head);
    ssed_stream_head(d, &head, headers);
    fp_fcgi_conn_write(s->conn, head.data, head.len);
    fp_buf_free(&head);
    if (fp_responder_stopping(d->app))
        s_end(s);               /*  shutting down: the browser comes back  */
    else
        ssed_presence_join(s, channels);
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
        if (s->expires && now >= s->expires) {
            s_expire(s);
            continue;
        }
        if (s->mercure)
            ssed_mercure_start(s, NULL);
        if (now - s->conn->last_write < (int64_t) d->conf.heartbeat)
            continue;
        d->stats.heartbeats++;
        if (s->conn->rid == 1)
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
    while (d->nstreams > 0)
        s_end(d->streams[d->nstreams - 1]);
}
