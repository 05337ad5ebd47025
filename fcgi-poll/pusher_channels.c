/*  pusher_channels: what the Pusher HTTP API says about channels (signed:
 *  pusher_auth.c), from the broker's STATS and PRESENCE.
 *
 *    GET .../apps/ID/channels[?filter_by_prefix=P]
 *        {"channels": {"NAME": {}, ...}}: the app's occupied channels
 *    GET .../apps/ID/channels?filter_by_prefix=presence-&info=user_count
 *        {"channels": {"presence-NAME": {"user_count": N}, ...}}
 *    GET .../apps/ID/channels/NAME
 *        {"occupied": true|false}
 *    GET .../apps/ID/channels/presence-NAME?info=user_count
 *        {"occupied": true|false, "user_count": N}
 *    GET .../apps/ID/channels/presence-NAME/users
 *        {"users": [{"id": USER_ID}, ...]}
 *
 *  "Occupied" is the broker's view: a responder (fastpush-ws, -sse,
 *  -poll) holds a subscription to the channel.  A responder keeps a
 *  channel subscribed a little (its hub's linger) after its last client
 *  left, so a channel stays occupied that long.  A presence channel asked
 *  for its user_count is occupied when it has members.  The broker counts
 *  subscribing processes, not clients, so info=subscription_count is not
 *  known here (501 not_implemented).  The list's user counts take one
 *  PRESENCE request per listed channel (fan.c).  The list is
 *  the broker's 1000 busiest channels (STATS top), and empty when the
 *  broker has stats-channels off.  Members are the broker's (PRESENCE
 *  members): in cluster mode, those of the responders on that broker.
 */
#include "polld.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#define S_TOP 1000

static void
s_json(polld_req_t *r, fp_buf_t *b)
{
    polld_answer(r, 200, "Content-Type: application/json\r\n"
                 "Cache-Control: no-store\r\n", b->data, b->len);
    fp_buf_free(b);
}

/*  The list, from r->channels (after the prefix, items[0]): NAME:{} or,
 *  with the user counts (metas, PRESENCE members replies, in the same
 *  order), NAME:{"user_count":N}.  */
static void
s_list(polld_req_t *r, json_t **metas, size_t n, const json_t *failed)
{
    fp_buf_t b;
    if (failed) {
        polld_broker_error(r, failed);
        return;
    }
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"channels\":{");
    for (int i = 1; i < r->channels.count; i++) {
        char nbuf[FP_PUSHER_NAME_MAX + 1];
        fp_buf_adds(&b, i > 1 ? "," : "");
        fp_json_append_str(&b, fp_pusher_name(r->app, r->channels.items[i],
                                              nbuf));
        if (metas)
            fp_buf_addf(&b, ":{\"user_count\":%zu}", json_array_size(
                json_object_get(metas[i - 1], "members")));
        else
            fp_buf_adds(&b, ":{}");
    }
    fp_buf_adds(&b, "}}\n");
    s_json(r, &b);
}

/*  With info=user_count: one PRESENCE members per listed channel.  */
static void
s_count(polld_req_t *r)
{
    json_t *bodies = json_array();
    for (int i = 1; i < r->channels.count; i++)
        json_array_append_new(bodies, json_pack("{s:s, s:s}", "op",
                              "members", "channel", r->channels.items[i]));
    polld_fan_send(r, "PRESENCE", bodies, s_list);
    json_decref(bodies);
}

/*  STATS: the occupied channels of the app below the prefix (or the one
 *  channel) into r->channels, then the answer.  */
static void
s_on_stats(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    const char *want = r->channels.items[0];
    json_t *top = json_object_get(meta, "top");

    r->hreq = NULL;
    if (!ok) {
        polld_broker_error(r, meta);
        return;
    }
    for (size_t i = 0; i < json_array_size(top); i++) {
        json_t *c = json_array_get(top, i);
        const char *name = json_string_value(json_object_get(c, "channel"));
        char nbuf[FP_PUSHER_NAME_MAX + 1];
        if (!name || !fp_pusher_name(r->app, name, nbuf) ||
            json_integer_value(json_object_get(c, "subscribers")) < 1)
            continue;
        if (r->pusher_one ? strcmp(name, want) == 0
                          : strncmp(name, want, strlen(want)) == 0)
            fp_strlist_add(&r->channels, name);
    }
    if (r->pusher_one) {
        fp_buf_t b;
        fp_buf_init(&b);
        fp_buf_adds(&b, r->channels.count > 1 ? "{\"occupied\":true}\n"
                                              : "{\"occupied\":false}\n");
        s_json(r, &b);
    } else if (r->pusher_count) {
        s_count(r);
    } else {
        s_list(r, NULL, 0, NULL);
    }
}

static void
s_on_members(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    json_t *list = json_object_get(meta, "members");
    fp_buf_t b;

    r->hreq = NULL;
    if (!ok) {
        polld_broker_error(r, meta);
        return;
    }
    fp_buf_init(&b);
    if (r->pusher_users) {
        fp_buf_adds(&b, "{\"users\":[");
        for (size_t i = 0; i < json_array_size(list); i++) {
            fp_buf_adds(&b, i ? ",{\"id\":" : "{\"id\":");
            fp_json_append_str(&b, json_string_value(json_object_get(
                json_array_get(list, i), "user_id")));
            fp_buf_addc(&b, '}');
        }
        fp_buf_adds(&b, "]}\n");
    } else {
        fp_buf_addf(&b, "{\"occupied\":%s,\"user_count\":%zu}\n",
                    json_array_size(list) ? "true" : "false",
                    json_array_size(list));
    }
    s_json(r, &b);
}

/*  info=: "user_count" of a presence channel, or of the list filtered
 *  by a presence- prefix (*count set); "subscription_count" is not known.
 *  0, or -1 answered (400 unknown or misplaced, 501 unknown to
 *  fastpush).  */
static int
s_info(polld_req_t *r, const fp_query_t *q, const char *name, bool *count)
{
    const char *info = fp_query_get(q, "info");
    const char *filter = fp_query_get(q, "filter_by_prefix");
    const char *of = name ? name : filter ? filter : "";
    char one[64];

    *count = false;
    for (const char *p = info ? info : ""; *p;) {
        size_t len = strcspn(p, ",");
        snprintf(one, sizeof one, "%.*s", (int) (len < 63 ? len : 63), p);
        p += len + (p[len] == ',');
        if (strcmp(one, "user_count") == 0 &&
            fp_pusher_kind(of) == FP_PUSHER_PRESENCE) {
            *count = true;
        } else if (strcmp(one, "user_count") == 0) {
            polld_error(r, 400, "bad_request", name ? "info=user_count is "
                        "for presence channels" : "info=user_count needs "
                        "filter_by_prefix=presence-");
            return -1;
        } else if (strcmp(one, "subscription_count") == 0) {
            polld_error(r, 501, "not_implemented", "fastpush does not "
                        "know subscription_count (the broker counts "
                        "subscribing processes, not connections)");
            return -1;
        } else if (*one) {
            polld_error(r, 400, "bad_request", "info: user_count or "
                        "subscription_count");
            return -1;
        }
    }
    return 0;
}

/*  The fastpush channel (channels/NAME) or the prefix of the list
 *  ("ID:" + filter_by_prefix) into r->channels.  0, or -1 answered.  */
static int
s_target(polld_req_t *r, const char *name, const fp_query_t *q)
{
    const char *filter = fp_query_get(q, "filter_by_prefix");
    char ch[FP_CHANNEL_MAX + 1], err[FP_ERR_LEN];

    if (!name && (!filter || !*filter)) {
        snprintf(ch, sizeof ch, "%s:", r->app->id);
    } else if (fp_pusher_channel(r->app, name ? name : filter,
                                 strlen(name ? name : filter), ch, err) < 0) {
        polld_error(r, 400, "bad_channel", err);
        return -1;
    }
    fp_strlist_add(&r->channels, ch);
    r->pusher_one = name != NULL;
    return 0;
}

/*  Ask the broker: PRESENCE members (users, user_count) or STATS.  */
static void
s_ask(polld_req_t *r, bool members)
{
    const char *ch = r->channels.items[0];
    fp_hub_t *hub = fp_responder_hub(r->d->app);
    if (members)
        r->hreq = fp_hub_request(hub, "PRESENCE", json_pack(
            "{s:s, s:s}", "op", "members", "channel", ch), s_on_members, r);
    else
        r->hreq = fp_hub_request(hub, "STATS", r->pusher_one
            ? json_pack("{s:s, s:i}", "channel", ch, "top", 1)
            : json_pack("{s:i}", "top", S_TOP), s_on_stats, r);
}

void
polld_pusher_channels(polld_req_t *r, fp_fcgi_req_t *req, const char *rest)
{
    char err[FP_ERR_LEN], name[FP_PUSHER_NAME_MAX + 1];
    fp_query_t q;
    const char *slash = *rest == '/' ? strchr(rest + 1, '/') : NULL;
    size_t nlen = *rest == '/' ? (slash ? (size_t) (slash - rest - 1)
                                        : strlen(rest + 1)) : 0;
    bool count;

    r->pusher_users = slash && strcmp(slash, "/users") == 0;
    if ((*rest == '/' && (nlen == 0 || nlen > FP_PUSHER_NAME_MAX)) ||
        (slash && !r->pusher_users)) {
        polld_error(r, 404, "not_found", "channels, channels/NAME or "
                    "channels/NAME/users");
        return;
    }
    snprintf(name, sizeof name, "%.*s", (int) nlen, nlen ? rest + 1 : "");
    if (r->pusher_users && fp_pusher_kind(name) != FP_PUSHER_PRESENCE) {
        polld_error(r, 400, "bad_request", "users are known for presence "
                    "channels only");
        return;
    }
    if (fp_query_parse(fp_fcgi_req_param(req, "QUERY_STRING"), 32, &q,
                       err) < 0) {
        polld_error(r, 400, "bad_request", err);
        return;
    }
    if (s_info(r, &q, nlen ? name : NULL, &count) == 0 &&
        s_target(r, nlen ? name : NULL, &q) == 0) {
        r->pusher_count = count;
        s_ask(r, r->pusher_users || (count && nlen));
    }
    fp_query_free(&q);
}
