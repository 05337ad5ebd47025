/*  out: what the bridge queues for a client, and the dirty list.
 *
 *  The bottom of the bridge's calls: conn.c (socket, frames, closing),
 *  proto.c (client messages) and sub.c (events) queue through here, and
 *  this file calls none of them but one.  Nothing is written here: a
 *  queued frame marks the connection dirty and conn.c flushes the dirty
 *  ones once per round.  The two ways a send can end a connection (a slow
 *  consumer, an expired token) call conn.c's wsb_conn_end, so they take
 *  effect at once, exactly where they happen.
 */
#include "wsb.h"
#include "error.h"
#include "clock.h"
#include "pusher_msg.h"

#include <stdlib.h>

void
wsb_out_mark(wsb_conn_t *c)
{
    wsb_worker_t *w = c->w;
    if (c->dirty)
        return;
    c->dirty = true;
    c->dprev = NULL;
    c->dnext = w->dirty;
    if (w->dirty)
        w->dirty->dprev = c;
    w->dirty = c;
}

void
wsb_out_unmark(wsb_conn_t *c)
{
    if (!c->dirty)
        return;
    if (c->dprev)
        c->dprev->dnext = c->dnext;
    else
        c->w->dirty = c->dnext;
    if (c->dnext)
        c->dnext->dprev = c->dprev;
    c->dirty = false;
    c->dprev = c->dnext = NULL;
}

void
wsb_out_push(wsb_conn_t *c, fp_blob_t *b)
{
    fp_sendq_push(&c->out, b);
    c->w->stats.frames_out++;
    wsb_out_mark(c);
}

void
wsb_out_send(wsb_conn_t *c, fp_blob_t *frame)
{
    const wsb_conf_t *conf = c->w->conf;

    if (c->state != WSB_CS_OPEN)
        return;
    size_t before = c->out.bytes;
    wsb_out_push(c, frame);
    if (c->cut || c->out.bytes <= conf->max_queue)
        return;
    if (!c->over_since)
        c->over_since = c->w->now;
    if (before > conf->max_queue_hard ||
        c->w->now - c->over_since >= (int64_t) conf->slow_timeout)
        wsb_conn_end(c, WSB_END_SLOW);
}

void
wsb_out_text(wsb_conn_t *c, const char *text, size_t len)
{
    if (c->state != WSB_CS_OPEN)
        return;
    fp_blob_t *b = wsb_frame_blob(WSB_OP_TEXT, text, len);
    wsb_out_send(c, b);
    fp_blob_unref(&b);
}

void
wsb_out_add_ref(fp_buf_t *b, const char *ref)
{
    if (ref) {
        fp_buf_adds(b, ",\"ref\":");
        fp_buf_adds(b, ref);
    }
}

void
wsb_out_take(wsb_conn_t *c, char *text, size_t len)
{
    if (text)
        wsb_out_text(c, text, len);
    free(text);
}

void
wsb_out_error(wsb_conn_t *c, const char *code, const char *msg,
              const char *ref)
{
    fp_buf_t b;
    size_t len;

    if (c->papp) {
        char *text = fp_pusher_error(0, msg, &len);
        wsb_out_take(c, text, len);
        return;
    }
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"type\":\"error\",");
    fp_error_append(&b, code, msg);
    wsb_out_add_ref(&b, ref);
    fp_buf_addc(&b, '}');
    wsb_out_text(c, b.data, b.len);
    fp_buf_free(&b);
}

void
wsb_out_terminate(wsb_conn_t *c)
{
    wsb_conn_end(c, WSB_END_TERMINATED);
}

bool
wsb_out_expired(wsb_conn_t *c)
{
    if (!c->expires || fp_clock_ms() < c->expires)
        return false;
    wsb_conn_end(c, WSB_END_EXPIRED);
    return true;
}

void
wsb_out_sub_error(wsb_conn_t *c, const char *chan, const char *code,
                  const char *msg, int status, const char *ref)
{
    char nbuf[FP_PUSHER_NAME_MAX + 1];
    const char *name = c->papp ? fp_pusher_name(c->papp, chan, nbuf) : NULL;
    size_t len;

    if (!name) {
        wsb_out_error(c, code, msg, ref);
        return;
    }
    char *text = fp_pusher_subscription_error(name, code, msg, status, &len);
    wsb_out_take(c, text, len);
}
