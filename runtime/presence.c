/*  presence: a responder process's side of the broker's presence; see
 *  presence.h.
 */
#include "presence.h"
#include "log.h"
#include "mem.h"

#include <czmq.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

typedef struct {
    char *conn, *channel, *user_id;     /*  owned  */
    json_t *info;                       /*  owned user_info, or NULL  */
    int64_t max_members;                /*  the join's bound, 0 = none  */
} rec_t;

struct fp_presence {
    fp_hub_t *hub;                      /*  borrowed  */
    char instance[64];
    int64_t beat_ms, next_beat;
    zhashx_t *recs;                     /*  "conn\037channel" -> rec_t *  */
    fp_hub_req_t *beat;                 /*  pending beat, or NULL  */
};

static void
s_rec_free(void **item)
{
    rec_t *r = *item;
    if (r) {
        free(r->conn);
        free(r->channel);
        free(r->user_id);
        json_decref(r->info);
        free(r);
        *item = NULL;
    }
}

fp_presence_t *
fp_presence_new(fp_hub_t *hub, const char *transport, int64_t beat_ms)
{
    fp_presence_t *p = fp_calloc(1, sizeof *p);
    uint32_t rnd = 0;
    if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t) sizeof rnd)
        rnd = (uint32_t) zclock_usecs();
    snprintf(p->instance, sizeof p->instance, "%.16s-%ld-%08x", transport,
             (long) getpid(), rnd);
    p->hub = hub;
    p->beat_ms = beat_ms > 0 ? beat_ms : 10000;
    p->recs = zhashx_new();
    zhashx_set_destructor(p->recs, s_rec_free);
    return p;
}

static json_t *
s_body(const fp_presence_t *p, const char *op)
{
    return json_pack("{s:s, s:s}", "op", op, "instance", p->instance);
}

void
fp_presence_destroy(fp_presence_t **p_p)
{
    fp_presence_t *p = *p_p;
    if (!p)
        return;
    fp_hub_cancel(p->hub, &p->beat);
    if (zhashx_size(p->recs) > 0)
        fp_hub_request(p->hub, "PRESENCE", s_body(p, "drop"), NULL, NULL);
    zhashx_destroy(&p->recs);
    free(p);
    *p_p = NULL;
}

static void
s_key(const char *conn, const char *channel, char *key, size_t size)
{
    snprintf(key, size, "%s\037%s", conn, channel);
}

static fp_hub_req_t *
s_send_join(fp_presence_t *p, const rec_t *r, fp_hub_reply_fn *cb, void *arg)
{
    json_t *body = s_body(p, "join");
    json_object_set_new(body, "conn", json_string(r->conn));
    json_object_set_new(body, "channel", json_string(r->channel));
    json_object_set_new(body, "user_id", json_string(r->user_id));
    if (r->info)
        json_object_set(body, "user_info", r->info);
    if (r->max_members > 0)
        json_object_set_new(body, "max_members",
                            json_integer((json_int_t) r->max_members));
    if (r->max_members == FP_PRESENCE_ROSTER)
        json_object_set_new(body, "roster", json_true());
    return fp_hub_request(p->hub, "PRESENCE", body, cb, arg);
}

fp_hub_req_t *
fp_presence_join(fp_presence_t *p, const char *conn, const char *channel,
                 const char *user_id, const char *user_info,
                 int64_t max_members, fp_hub_reply_fn *cb, void *arg)
{
    char key[FP_PRESENCE_CONN_MAX + FP_CHANNEL_MAX + 2];
    s_key(conn, channel, key, sizeof key);
    rec_t *r = zhashx_lookup(p->recs, key);
    if (!r) {
        r = fp_calloc(1, sizeof *r);
        r->conn = fp_strdup(conn);
        r->channel = fp_strdup(channel);
        r->user_id = fp_strdup(user_id);
        r->info = user_info ? json_loads(user_info, JSON_DECODE_ANY, NULL)
                            : NULL;
        r->max_members = max_members;
        zhashx_insert(p->recs, key, r);
    }
    return s_send_join(p, r, cb, arg);
}

void
fp_presence_leave(fp_presence_t *p, const char *conn, const char *channel)
{
    char key[FP_PRESENCE_CONN_MAX + FP_CHANNEL_MAX + 2];
    s_key(conn, channel, key, sizeof key);
    if (!zhashx_lookup(p->recs, key))
        return;
    zhashx_delete(p->recs, key);
    json_t *body = s_body(p, "leave");
    json_object_set_new(body, "conn", json_string(conn));
    json_object_set_new(body, "channel", json_string(channel));
    fp_hub_request(p->hub, "PRESENCE", body, NULL, NULL);
}

fp_hub_req_t *
fp_presence_members(fp_presence_t *p, const char *channel,
                    fp_hub_reply_fn *cb, void *arg)
{
    return fp_hub_request(p->hub, "PRESENCE",
                          json_pack("{s:s, s:s}", "op", "members", "channel",
                                    channel), cb, arg);
}

/*  A beat's answer: a broker that does not know this process (it
 *  restarted, or expired it) gets every join again.  */
static void
s_beat_reply(void *arg, bool ok, json_t *meta, fp_event_t **events, size_t n)
{
    fp_presence_t *p = arg;
    (void) events;
    (void) n;
    p->beat = NULL;
    if (!ok || json_is_true(json_object_get(meta, "known")))
        return;
    if (zhashx_size(p->recs) > 0)
        fp_log_info("presence: the broker does not know %s: joining %zu "
                    "connections again", p->instance, zhashx_size(p->recs));
    for (rec_t *r = zhashx_first(p->recs); r; r = zhashx_next(p->recs))
        s_send_join(p, r, NULL, NULL);
}

void
fp_presence_tick(fp_presence_t *p, int64_t now)
{
    if (now < p->next_beat || p->beat)
        return;
    p->next_beat = now + p->beat_ms;
    if (zhashx_size(p->recs) == 0)
        return;                 /*  nothing the broker must keep  */
    p->beat = fp_hub_request(p->hub, "PRESENCE", s_body(p, "beat"),
                             s_beat_reply, p);
}
