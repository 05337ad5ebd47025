/*  print: how the client shows events, resets and statistics.  */
#include "cli.h"
#include "conf.h"
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*  One JSON value on its own line (compact); j borrowed.  */
void
cli_print_json(json_t *j)
{
    char *text = fp_json_dump(j, NULL);
    printf("%s\n", text);
    free(text);
}

void
cli_print_event(const cli_t *cli, const char *json, size_t len,
                bool snapshot)
{
    char err[FP_ERR_LEN];

    if (cli->json) {
        if (snapshot)
            printf("{\"snapshot\":true,%.*s\n", (int) len - 1, json + 1);
        else
            printf("%.*s\n", (int) len, json);
        fflush(stdout);
        return;
    }
    json_t *ev = fp_json_parse(json, len, err);
    json_t *data = json_object_get(ev, "data");
    char *text = data ? fp_json_dump(data, NULL) : NULL;
    const char *key = json_string_value(json_object_get(ev, "key"));
    printf("%s%s  %s  %s%s%s  %s\n", snapshot ? "[snapshot] " : "",
           json_string_value(json_object_get(ev, "id")),
           json_string_value(json_object_get(ev, "channel")),
           json_string_value(json_object_get(ev, "event")),
           key ? "  key=" : "", key ? key : "", text ? text : "");
    fflush(stdout);
    free(text);
    json_decref(ev);
}

/*  Print the events of a reply (one per line in each frame); the first
 *  nsnap are snapshot events.  Returns how many.  */
size_t
cli_print_events(const cli_t *cli, zmsg_t *frames, size_t nsnap)
{
    size_t i = 0;
    for (zframe_t *f = zmsg_first(frames); f; f = zmsg_next(frames)) {
        const char *p = (const char *) zframe_data(f);
        const char *end = p + zframe_size(f);
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t) (end - p));
            size_t l = nl ? (size_t) (nl - p) : (size_t) (end - p);
            if (l > 0)
                cli_print_event(cli, p, l, i++ < nsnap);
            p += l + 1;
        }
    }
    return i;
}

void
cli_print_reset(const cli_t *cli, const char *channel, const char *reason,
                bool snapshot)
{
    if (cli->json) {
        json_t *j = json_pack("{s:{s:s, s:s, s:b}}", "reset", "channel",
                              channel, "reason", reason, "snapshot", snapshot);
        cli_print_json(j);
        json_decref(j);
    } else {
        printf("RESET  %s  (%s)%s\n", channel, reason,
               snapshot ? ": keyed snapshot follows" : "");
    }
    fflush(stdout);
}

static long long
s_get(json_t *stats, const char *group, const char *name)
{
    return json_integer_value(json_object_get(json_object_get(stats, group),
                                              name));
}

void
cli_print_stats(json_t *st)
{
    printf("broker %s  epoch %s  head %lld  up %.1f s\n",
           json_string_value(json_object_get(st, "version")),
           json_string_value(json_object_get(st, "epoch")),
           (long long) json_integer_value(json_object_get(st, "head")),
           json_integer_value(json_object_get(st, "uptime_ms")) / 1000.0);
    printf("events     published %lld (pull %lld), rejected %lld "
           "(unauthorized %lld, rate-limited %lld)\n",
           s_get(st, "events", "published"),
           s_get(st, "events", "published_pull"),
           s_get(st, "events", "rejected"),
           s_get(st, "events", "unauthorized"),
           s_get(st, "events", "rate_limited"));
    printf("history    %lld events, %lld bytes of %lld, trimmed %lld, "
           "%lld keys\n", s_get(st, "history", "events"),
           s_get(st, "history", "bytes"), s_get(st, "history", "memory_limit"),
           s_get(st, "history", "trimmed"), s_get(st, "history", "keys"));
    printf("requests   since %lld (%lld events), resets %lld, snapshots "
           "%lld, bad %lld\n", s_get(st, "requests", "since"),
           s_get(st, "requests", "since_events"),
           s_get(st, "requests", "resets"), s_get(st, "requests", "snapshots"),
           s_get(st, "requests", "bad"));
    printf("channels   %lld (limit %lld, evicted %lld), %lld subscriptions\n",
           s_get(st, "channels", "count"), s_get(st, "channels", "limit"),
           s_get(st, "channels", "evicted"),
           s_get(st, "channels", "subscribers"));
    json_t *store = json_object_get(st, "store");
    if (json_is_object(store)) {
        char *text = fp_json_dump(store, NULL);
        printf("store      %s\n", text);
        free(text);
    }
    size_t k;
    json_t *r;
    json_array_foreach(json_object_get(st, "responders"), k, r) {
        char *text = fp_json_dump(json_object_get(r, "stats"), NULL);
        printf("responder  %s[%lld]  %s\n",
               json_string_value(json_object_get(r, "transport")),
               (long long) json_integer_value(json_object_get(r, "pid")),
               text);
        free(text);
    }
    json_t *top = json_object_get(st, "top");
    if (json_array_size(top) == 0)
        return;
    printf("\n%-32s %6s %8s %10s %6s %10s %10s\n", "CHANNEL", "SUBS",
           "HISTORY", "BYTES", "KEYS", "LAST", "PUBLISHED");
    size_t i;
    json_t *c;
    json_array_foreach(top, i, c)
        printf("%-32s %6lld %8lld %10lld %6lld %10lld %10lld\n",
               json_string_value(json_object_get(c, "channel")),
               (long long) json_integer_value(json_object_get(c, "subscribers")),
               (long long) json_integer_value(json_object_get(c, "history")),
               (long long) json_integer_value(json_object_get(c, "bytes")),
               (long long) json_integer_value(json_object_get(c, "keys")),
               (long long) json_integer_value(json_object_get(c, "last_seq")),
               (long long) json_integer_value(json_object_get(c, "published")));
}
