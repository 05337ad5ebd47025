/*  state: the keyed state of a channel.
 *
 *    GET PREFIX/state?channel=c
 *
 *  answers {"cursor", "channel", "events"}: the latest event per key, in
 *  SEQ order.  The ETag is the channel's newest SEQ, so a client holding
 *  the current state gets 304.  A client then follows the channel with a
 *  poll (or any transport) from `cursor`.
 */
#include "polld.h"
#include "event.h"
#include "http.h"
#include "json.h"
#include "mem.h"

#include <string.h>

static void
s_on_state(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    polld_req_t *r = arg;
    const char *epoch = json_string_value(json_object_get(meta, "epoch"));
    char etag[FP_CURSOR_LEN], hdr[160];

    r->hreq = NULL;
    if (!ok || !epoch) {
        polld_broker_error(r, meta);
        return;
    }
    fp_cursor_format(epoch, (uint64_t) json_integer_value(
                         json_object_get(meta, "last")), etag);
    snprintf(hdr, sizeof hdr, "Content-Type: application/json\r\n"
             "Cache-Control: no-cache\r\nETag: \"%s\"\r\n", etag);
    if (fp_http_etag_match(r->if_none_match, etag)) {
        polld_answer(r, 304, hdr, NULL, 0);
        return;
    }
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_adds(&b, "{\"cursor\":");
    fp_json_append_str(&b, json_string_value(json_object_get(meta, "cursor")));
    fp_buf_adds(&b, ",\"channel\":");
    fp_json_append_str(&b, r->channels.items[0]);
    fp_buf_adds(&b, ",\"events\":[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            fp_buf_addc(&b, ',');
        fp_buf_add(&b, evs[i]->json, evs[i]->json_len);
    }
    fp_buf_adds(&b, "]}\n");
    r->d->stats.events += n;
    polld_answer(r, 200, hdr, b.data, b.len);
    fp_buf_free(&b);
}

void
polld_state(polld_req_t *r, fp_fcgi_req_t *req)
{
    fp_query_t q;
    char err[FP_ERR_LEN];

    if (fp_query_parse(fp_fcgi_req_param(req, "QUERY_STRING"), 16, &q, err) < 0) {
        polld_error(r, 400, "bad_request", err);
        return;
    }
    const char *ch = fp_query_get(&q, "channel");
    if (!ch || fp_http_channels(ch, &r->channels, 1, err) < 0 ||
        r->channels.count != 1) {
        polld_error(r, 400, "bad_channel", ch ? err : "name one channel: "
                    "?channel=c");
        fp_query_free(&q);
        return;
    }
    if (polld_allow(r, FP_RIGHTS_SUBSCRIBE, &r->channels) < 0) {
        fp_query_free(&q);
        return;
    }
    const char *inm = fp_fcgi_req_param(req, "HTTP_IF_NONE_MATCH");
    r->if_none_match = inm ? fp_strdup(inm) : NULL;
    r->hreq = fp_hub_request(fp_responder_hub(r->d->app), "STATE",
                             json_pack("{s:s}", "channel",
                                       r->channels.items[0]),
                             s_on_state, r);
    fp_query_free(&q);
}
