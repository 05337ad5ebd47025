/*  hub_req: requests from a hub to the broker's ROUTER socket.
 *
 *  Requests go out on a DEALER with a numeric "tag" in the body, which the
 *  broker echoes.  The DEALER is ZMQ_IMMEDIATE, so nothing queues up for a
 *  broker that is not there: a request that cannot be sent waits in the
 *  pending list.  JOIN and BACKFILL requests are idempotent (SINCE) and
 *  are resent until answered; user requests fail after the timeout with
 *  code "timeout" (sent, no answer) or "broker_unavailable" (never sent).
 */
#include "hub_int.h"
#include "error.h"
#include "clock.h"
#include "err.h"
#include "json.h"
#include "log.h"
#include "mem.h"

#include <string.h>

static void
s_try_send(fp_hub_t *hub, fp_hub_req_t *r)
{
    void *sock = zsock_resolve(hub->dealer);
    if (zmq_send(sock, r->cmd, strlen(r->cmd), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(sock, r->body, r->body_len, hub->token ? ZMQ_SNDMORE : 0);
    if (hub->token)
        zmq_send(sock, hub->token, strlen(hub->token), 0);
    r->sent_at = fp_clock_ms();
}

fp_hub_req_t *
hub_req_send(fp_hub_t *hub, int kind, const char *cmd, json_t *body,
             fp_hub_reply_fn *cb, void *arg, void (*forget)(void *arg))
{
    fp_hub_req_t *r = fp_calloc(1, sizeof *r);
    r->tag = ++hub->next_tag;
    r->kind = kind;
    r->cb = cb;
    r->arg = arg;
    r->forget = forget;
    snprintf(r->cmd, sizeof r->cmd, "%s", cmd);
    json_object_set_new(body, "tag", json_integer((json_int_t) r->tag));
    r->body = fp_json_dump(body, &r->body_len);
    json_decref(body);
    r->created = fp_clock_ms();
    r->prev = hub->reqs_tail;
    if (hub->reqs_tail)
        hub->reqs_tail->next = r;
    else
        hub->reqs = r;
    hub->reqs_tail = r;
    s_try_send(hub, r);
    return r;
}

static void
s_unlink(fp_hub_t *hub, fp_hub_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        hub->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        hub->reqs_tail = r->prev;
    r->prev = r->next = NULL;
}

void
hub_req_drop(fp_hub_t *hub, fp_hub_req_t *r)
{
    s_unlink(hub, r);
    if (r->forget && r->cb)
        r->forget(r->arg);
    free(r->body);
    free(r);
}

/*  Hand a reply (or a failure) to whoever asked.  */
static void
s_complete(fp_hub_t *hub, fp_hub_req_t *r, bool ok, json_t *meta,
           fp_event_t **evs, size_t n)
{
    s_unlink(hub, r);
    hub->depth++;
    if (r->cb)
        r->cb(r->arg, ok, meta, evs, n);
    hub->depth--;
    free(r->body);
    free(r);
}

void
hub_req_orphan(fp_hub_req_t *r)
{
    r->cb = NULL;
    r->arg = NULL;
    r->forget = NULL;
}

static fp_hub_req_t *
s_find(fp_hub_t *hub, json_t *meta)
{
    json_t *tag = json_object_get(meta, "tag");
    if (!json_is_integer(tag))
        return NULL;
    for (fp_hub_req_t *r = hub->reqs; r; r = r->next)
        if (r->tag == (uint64_t) json_integer_value(tag))
            return r;
    return NULL;
}

/*  Count the lines of an events frame, or (out != NULL) parse them into
 *  out, stopping at the first malformed one; returns the number.  */
static size_t
s_lines(const char *data, size_t len, fp_event_t **out)
{
    char err[FP_ERR_LEN];
    size_t n = 0;
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t) (end - p));
        size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
        if (l > 0) {
            if (out && !(out[n] = fp_event_parse(p, l, err)))
                return n;
            n++;
        }
        p += l + 1;
    }
    return n;
}

void
hub_req_on_reply(fp_hub_t *hub, zmsg_t *msg)
{
    char err[FP_ERR_LEN];
    zframe_t *status = zmsg_pop(msg), *mf = zmsg_pop(msg);
    json_t *meta = mf ? fp_json_parse((char *) zframe_data(mf),
                                      zframe_size(mf), err) : NULL;
    fp_hub_req_t *r = json_is_object(meta) ? s_find(hub, meta) : NULL;
    size_t n = 0, k = 0;
    bool ok = r && zframe_streq(status, "OK");

    for (zframe_t *f = zmsg_first(msg); f; f = zmsg_next(msg))
        n += s_lines((char *) zframe_data(f), zframe_size(f), NULL);
    fp_event_t **evs = fp_calloc(n ? n : 1, sizeof *evs);
    for (zframe_t *f = zmsg_first(msg); r && f && ok; f = zmsg_next(msg)) {
        size_t got = s_lines((char *) zframe_data(f), zframe_size(f), evs + k);
        k += got;
        if (got < s_lines((char *) zframe_data(f), zframe_size(f), NULL)) {
            fp_log_warnx("broker reply holds a malformed event");
            ok = false;
            fp_error_set(meta, "bad_reply", "malformed event in reply");
        }
    }
    if (r)
        s_complete(hub, r, ok, meta, evs, k);
    for (size_t i = 0; i < k; i++)
        fp_event_unref(&evs[i]);
    free(evs);
    json_decref(meta);
    zframe_destroy(&status);
    zframe_destroy(&mf);
}

static void
s_fail(fp_hub_t *hub, fp_hub_req_t *r, const char *code, const char *msg)
{
    json_t *meta = json_object();
    fp_error_set(meta, code, msg);
    s_complete(hub, r, false, meta, NULL, 0);
    json_decref(meta);
}

void
hub_req_tick(fp_hub_t *hub)
{
    int64_t now = fp_clock_ms(), timeout = (int64_t) hub->conf.request_timeout_ms;
    fp_hub_req_t *next;

    for (fp_hub_req_t *r = hub->reqs; r; r = next) {
        next = r->next;
        if (r->kind == REQ_USER) {
            if (r->sent_at == 0 && hub->broker_up)
                s_try_send(hub, r);
            if (r->sent_at == 0 && now - r->created > timeout)
                s_fail(hub, r, "broker_unavailable", "the broker is not "
                       "reachable");
            else if (r->sent_at && now - r->sent_at > timeout) {
                hub->stats.timeouts++;
                s_fail(hub, r, "timeout", "the broker did not answer");
            }
            continue;
        }
        if (r->sent_at && now - r->sent_at > timeout) {
            hub->stats.timeouts++;
            r->sent_at = 0;
        }
        if (r->sent_at == 0 && hub->broker_up)
            s_try_send(hub, r);
    }
}

void
hub_req_resend_all(fp_hub_t *hub)
{
    for (fp_hub_req_t *r = hub->reqs; r; r = r->next)
        if (r->kind != REQ_USER || r->sent_at == 0)
            s_try_send(hub, r);
}

void
hub_req_cancel_internal(fp_hub_t *hub)
{
    fp_hub_req_t *next;
    for (fp_hub_req_t *r = hub->reqs; r; r = next) {
        next = r->next;
        if (r->kind != REQ_USER)
            hub_req_drop(hub, r);
    }
}

void
hub_req_free_all(fp_hub_t *hub)
{
    while (hub->reqs) {
        fp_hub_req_t *r = hub->reqs;
        if (r->kind == REQ_USER && r->cb)
            s_fail(hub, r, "shutdown", "the process is shutting down");
        else
            hub_req_drop(hub, r);
    }
}

fp_hub_req_t *
fp_hub_request(fp_hub_t *hub, const char *cmd, json_t *body,
               fp_hub_reply_fn *cb, void *arg)
{
    if (!body)
        body = json_object();
    return hub_req_send(hub, REQ_USER, cmd, body, cb, arg, NULL);
}

void
fp_hub_cancel(fp_hub_t *hub, fp_hub_req_t **req_p)
{
    if (*req_p)
        hub_req_orphan(*req_p);
    *req_p = NULL;
}
