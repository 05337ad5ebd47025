/*  reports: what the responders say about themselves.
 *
 *  Each fastpush-sse, -poll and -ws process sends REPORT {"transport",
 *  "pid", "stats": {...}} every few seconds; the broker keeps the latest
 *  per process and shows them in STATS, so one place (fastpush stats,
 *  the poll responder's /stats and /metrics) sees every transport; each
 *  entry counts the REPORTs that process sent ("reports").
 *  Reports older than 30 s are dropped: that process is gone.
 */
#include "broker.h"
#include "clock.h"
#include "conf.h"
#include "json.h"

#include <string.h>

#define REPORT_TTL_MS 30000
#define REPORT_MAX 1024

int
broker_report(broker_t *b, json_t *req, json_t **meta, char *code, char *err)
{
    const char *transport = json_string_value(json_object_get(req,
                                                              "transport"));
    json_t *pid = json_object_get(req, "pid");
    json_t *stats = json_object_get(req, "stats");
    char key[96];

    if (!transport || strlen(transport) > 16 || !json_is_integer(pid) ||
        !json_is_object(stats)) {
        snprintf(err, FP_ERR_LEN, "REPORT needs transport (string), pid "
                 "(integer) and stats (object)");
        return broker_fail(code, "bad_request");
    }
    if (!b->reports)
        b->reports = json_object();
    snprintf(key, sizeof key, "%s/%lld", transport,
             (long long) json_integer_value(pid));
    json_t *prev = json_object_get(b->reports, key);
    if (!prev && json_object_size(b->reports) >= REPORT_MAX) {
        snprintf(err, FP_ERR_LEN, "too many reporting processes");
        return broker_fail(code, "too_many");
    }
    json_int_t count = prev ? json_integer_value(json_object_get(prev,
                                                 "reports")) : 0;
    json_t *entry = json_pack("{s:s, s:O, s:I, s:I, s:O}",
                              "transport", transport, "pid", pid,
                              "ts", (json_int_t) fp_clock_wall_ms(),
                              "reports", count + 1, "stats", stats);
    json_object_set_new(b->reports, key, entry);
    *meta = json_object();
    return 0;
}

json_t *
broker_reports_json(broker_t *b)
{
    json_t *list = json_array();
    int64_t now = fp_clock_wall_ms();
    const char *key;
    json_t *v, *tmp;

    json_object_foreach_safe(b->reports, tmp, key, v) {
        if (now - json_integer_value(json_object_get(v, "ts")) >
            REPORT_TTL_MS) {
            json_object_del(b->reports, key);
            continue;
        }
        json_array_append(list, v);
    }
    return list;
}
