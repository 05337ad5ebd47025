/*  libFuzzer target for the event parser (lib/event.c, fp_event_parse):
 *  the canonical event JSON the responders read from the broker's fanout
 *  and SINCE/STATE replies, and the broker from its store.
 *
 *  Input: the bytes of one event.  Checks: a parsed event has a valid
 *  epoch, channel, type and key, prev < seq, its JSON is the input, and
 *  building the same event with fp_event_new gives the same bytes (the
 *  layout is canonical); the snapshot form is valid JSON.
 */
#include "event.h"
#include "err.h"
#include "fuzz.h"

#include <string.h>

static void
s_check_event(fp_event_t *ev, const uint8_t *data, size_t size)
{
    FUZZ_CHECK(ev->json_len == size && memcmp(ev->json, data, size) == 0,
               "json is the input");
    FUZZ_CHECK(ev->prev < ev->seq, "prev < seq");
    FUZZ_CHECK(fp_channel_valid(ev->channel, strlen(ev->channel)), "channel");
    FUZZ_CHECK(!ev->key || fp_key_valid(ev->key), "key");
    const char *dp = strstr(ev->json, ",\"data\":");
    FUZZ_CHECK(dp != NULL, "data member");
    dp += 8;
    size_t dlen = (size_t) (ev->json + ev->json_len - 1 - dp);
    fp_event_t *built = fp_event_new(ev->epoch, ev->seq, ev->prev, ev->ts,
                                     ev->channel, ev->type, ev->key,
                                     ev->socket_id, dp, dlen);
    FUZZ_CHECK(built->json_len == ev->json_len &&
               memcmp(built->json, ev->json, ev->json_len) == 0,
               "fp_event_new(parsed fields) is not the input");
    fp_event_unref(&built);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = fuzz_cstr(data, size);
    char err[FP_ERR_LEN];
    fp_event_t *ev = fp_event_parse(s, size, err);

    if (ev) {
        s_check_event(ev, data, size);
        size_t n;
        char *snap = fp_event_snapshot_json(ev, &n);
        FUZZ_CHECK(snap && n > 0, "snapshot text");
        free(snap);
        FUZZ_CHECK(fp_event_size(ev) >= size, "size");
        fp_event_t *again = fp_event_ref(ev);
        fp_event_unref(&again);
        fp_event_unref(&ev);
        FUZZ_CHECK(ev == NULL, "unref clears");
    }
    free(s);
    return 0;
}
