/*  presence: the presence channels of an SSE stream.
 *
 *  A stream whose user (auth on: the token's sub or REMOTE_USER; route.c
 *  refuses presence channels without one) subscribes to a presence
 *  channel is a connection of that member (runtime/presence).  Each
 *  join's answer is sent as
 *
 *      event: presence
 *      data: {"channel":C,"members":[{"user_id","user_info"}...],
 *             "count":N,"seq":S}
 *
 *  and member_added / member_removed arrive as ordinary events of the
 *  channel; those at or below `seq` are already in the list.  A refused
 *  join (the channel is full) ends the stream with an error event.
 *
 *  The Mercure hub's subscriptions (mercure_subs.c) are presence members
 *  too, one connection per selector on mercure-channel, joined quietly.
 */
#include "ssed.h"
#include "json.h"
#include "mem.h"

#include <stdio.h>
#include <string.h>

static void
s_reply(void *arg, bool ok, json_t *meta, fp_event_t **events, size_t n);

/*  The stream's connection ids and its presence array of n.  */
static void
s_alloc(ssed_stream_t *s, size_t n)
{
    snprintf(s->conn_id, sizeof s->conn_id, "s%llu",
             (unsigned long long) ++s->d->next_conn_id);
    s->presence = fp_calloc(n, sizeof *s->presence);
    s->npresence = n;
}

void
ssed_presence_join(ssed_stream_t *s, const fp_strlist_t *channels)
{
    fp_presence_t *pres = fp_responder_presence(s->d->app);
    const fp_principal_t *p = s->client ? &s->client->p : NULL;
    if (!p || !p->user)
        return;                 /*  route.c refused presence channels  */
    size_t n = 0, k = 0;
    for (int i = 0; i < channels->count; i++)
        if (fp_channel_presence(channels->items[i]))
            n++;
    if (n == 0)
        return;
    s_alloc(s, n);
    for (int i = 0; i < channels->count; i++) {
        if (!fp_channel_presence(channels->items[i]))
            continue;
        ssed_presence_t *sp = &s->presence[k++];
        sp->stream = s;
        sp->channel = fp_strdup(channels->items[i]);
        snprintf(sp->conn, sizeof sp->conn, "%s", s->conn_id);
        sp->join = fp_presence_join(pres, sp->conn, sp->channel, p->user,
                                    p->user_info, 0, s_reply, sp);
    }
}

void
ssed_presence_join_each(ssed_stream_t *s, const char *channel, size_t n,
                        char *const *ids, char *const *infos)
{
    fp_presence_t *pres = fp_responder_presence(s->d->app);
    if (n == 0)
        return;
    s_alloc(s, n);
    for (size_t i = 0; i < n; i++) {
        ssed_presence_t *sp = &s->presence[i];
        sp->stream = s;
        sp->quiet = true;
        sp->channel = fp_strdup(channel);
        snprintf(sp->conn, sizeof sp->conn, "%s.%zu", s->conn_id, i);
        sp->join = fp_presence_join(pres, sp->conn, sp->channel, ids[i],
                                    infos[i], FP_PRESENCE_ROSTER, s_reply,
                                    sp);
    }
}

static void
s_reply(void *arg, bool ok, json_t *meta, fp_event_t **events, size_t n)
{
    ssed_presence_t *sp = arg;
    (void) events;
    (void) n;
    ssed_stream_t *s = sp->stream;     /*  alive: closing cancels  */
    sp->join = NULL;
    if (!ok) {
        const char *code = json_string_value(json_object_get(meta, "error"));
        const char *msg = json_string_value(json_object_get(meta, "message"));
        ssed_stream_fail(s, code ? code : "presence_failed",
                         msg ? msg : "the broker refused the presence join");
        return;
    }
    if (sp->quiet)
        return;
    json_t *o = json_pack("{s:s, s:O, s:O, s:O}", "channel", sp->channel,
                          "members", json_object_get(meta, "members"),
                          "count", json_object_get(meta, "count"),
                          "seq", json_object_get(meta, "seq"));
    size_t len;
    char *text = o ? fp_json_dump(o, &len) : NULL;
    json_decref(o);
    if (text)
        ssed_stream_sse(s, "presence", text, len);
    free(text);
}

void
ssed_presence_leave(ssed_stream_t *s)
{
    fp_presence_t *pres = fp_responder_presence(s->d->app);
    fp_hub_t *hub = fp_responder_hub(s->d->app);
    for (size_t i = 0; i < s->npresence; i++) {
        ssed_presence_t *sp = &s->presence[i];
        fp_hub_cancel(hub, &sp->join);
        fp_presence_leave(pres, sp->conn, sp->channel);
        free(sp->channel);
    }
    free(s->presence);
    s->presence = NULL;
    s->npresence = 0;
}
