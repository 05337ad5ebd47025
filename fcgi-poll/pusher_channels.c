/*  pusher_channels: what the Pusher HTTP API says about channels (signed:
 *  pusher_auth.c), from the broker's STATS.
 *
 *    GET .../apps/ID/channels[?filter_by_prefix=P]
 *        {"channels": {"NAME": {}, ...}}: the app's occupied channels
 *    GET .../apps/ID/channels/NAME
 *        {"occupied": true|false}
 *    GET .../apps/ID/channels/NAME/users              (501, see below)
 *
 *  "Occupied" is the broker's view: a responder (fastpush-ws, -sse,
 *  -poll) holds a subscription to the channel.  A responder keeps a
 *  channel subscribed a little (its hub's linger) after its last client
 *  left, so a channel stays occupied that long.  The broker counts
 *  subscribing processes, not clients, so info=subscription_count and
 *  info=user_count (and the users of a presence channel) are not known
 *  here: they are answered 501 not_implemented.  The list is the
 *  broker's 1000 busiest channels (STATS top), and empty when the broker
 *  has stats-channels off.
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

static void
s_on_stats(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    const char *want = r->channels.items[0];
    bool one = r->pusher_one;
    json_t *top = json_object_get(meta, "top");
    fp_buf_t b;
    bool first = true;

    r->hreq = NULL;
    if (!ok) {
        polld_broker_error(r, meta);
        return;
    }
    fp_buf_init(&b);
    fp_buf_adds(&b, one ? "{\"occupied\":" : "{\"channels\":{");
    for (size_t i = 0; i < json_array_size(top); i++) {
        json_t *c = json_array_get(top, i);
        const char *name = json_string_value(json_object_get(c, "channel"));
        const char *pn = name ? fp_pusher_name(r->app, name) : NULL;
        if (!pn || json_integer_value(json_object_get(c, "subscribers")) < 1)
            continue;
        if (one ? strcmp(name, want) != 0
                     : strncmp(name, want, strlen(want)) != 0)
            continue;
        if (!one) {
            fp_buf_adds(&b, first ? "" : ",");
            fp_json_append_str(&b, pn);
            fp_buf_adds(&b, ":{}");
        }
        first = false;
    }
    fp_buf_adds(&b, one ? (first ? "false}\n" : "true}\n") : "}}\n");
    s_json(r, &b);
}

/*  info=...: nothing we can answer yet besides none.  0, or -1 answered. */
static int
s_info(polld_req_t *r, const fp_query_t *q)
{
    const char *info = fp_query_get(q, "info");
    if (!info || !*info)
        return 0;
    polld_error(r, 501, "not_implemented", "info=user_count and "
                "info=subscription_count are not known to fastpush: the "
                "broker counts subscribing processes, not connections");
    return -1;
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

void
polld_pusher_channels(polld_req_t *r, fp_fcgi_req_t *req, const char *rest)
{
    char err[FP_ERR_LEN];
    fp_query_t q;
    const char *name = *rest == '/' ? rest + 1 : NULL;
    const char *end = name ? strchr(name, '/') : NULL;

    if (end && strcmp(end, "/users") == 0) {
        polld_error(r, 501, "not_implemented", "the members of presence "
                    "channels are not known to fastpush-poll yet");
        return;
    }
    if (end || (name && !*name)) {
        polld_error(r, 404, "not_found", "channels, channels/NAME or "
                    "channels/NAME/users");
        return;
    }
    if (fp_query_parse(fp_fcgi_req_param(req, "QUERY_STRING"), 32, &q,
                       err) < 0) {
        polld_error(r, 400, "bad_request", err);
        return;
    }
    if (s_info(r, &q) == 0 && s_target(r, name, &q) == 0) {
        json_t *body = r->pusher_one
            ? json_pack("{s:s, s:i}", "channel", r->channels.items[0],
                        "top", 1)
            : json_pack("{s:i}", "top", S_TOP);
        r->hreq = fp_hub_request(fp_responder_hub(r->d->app), "STATS", body,
                                 s_on_stats, r);
    }
    fp_query_free(&q);
}
