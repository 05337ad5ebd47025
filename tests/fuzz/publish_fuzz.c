/*  libFuzzer target for publish bodies (lib/event.c, fp_publish_parse):
 *  POST PREFIX/publish of fastpush-poll, the broker's PUBLISH and PULL
 *  bodies, `fastpush publish`.
 *
 *  Input: one byte of flags (bit 0: allow "tag", as the broker does),
 *  then the body.  Checks: an accepted publish has valid names and
 *  compact JSON data that jansson reads; writing it back with
 *  fp_publish_append and parsing that again gives the same publish;
 *  a refusal leaves nothing allocated and says why.
 */
#include "event.h"
#include "err.h"
#include "fuzz.h"


static void
s_check_publish(const fp_publish_t *p)
{
    FUZZ_CHECK(fp_channel_valid(p->channel, strlen(p->channel)), "channel");
    FUZZ_CHECK(p->type && fp_type_valid(p->type), "type");
    FUZZ_CHECK(!p->key || fp_key_valid(p->key), "key");
    FUZZ_CHECK(p->data && strlen(p->data) == p->data_len, "data text");
    bool range;
    json_t *d = fuzz_json(p->data, p->data_len, &range);
    FUZZ_CHECK(d || range, "data is not JSON jansson reads");
    json_decref(d);
}

static bool
s_same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool allow_tag = data[0] & 1;
    char *s = fuzz_cstr(data + 1, size - 1);
    char err[FP_ERR_LEN] = "";
    fp_publish_t p, q;

    int rc = fp_publish_parse(s, size - 1, &p, allow_tag, err);
    if (rc == 0) {
        s_check_publish(&p);
        FUZZ_CHECK(allow_tag || !p.tag, "tag without allow_tag");
        fp_buf_t b;
        fp_buf_init(&b);
        fp_publish_append(&b, &p);
        FUZZ_CHECK(fp_publish_parse(b.data, b.len, &q, false, err) == 0,
                   "fp_publish_append output does not parse");
        FUZZ_CHECK(strcmp(p.channel, q.channel) == 0 && s_same(p.type, q.type)
                   && s_same(p.key, q.key) && p.data_len == q.data_len &&
                   memcmp(p.data, q.data, p.data_len) == 0, "round trip");
        fp_publish_clear(&q);
        fp_buf_free(&b);
    } else {
        FUZZ_CHECK(rc == FP_PUBLISH_EJSON || rc == FP_PUBLISH_EEVENT, "rc");
        FUZZ_CHECK(err[0] != '\0', "refusal without a reason");
    }
    fp_publish_clear(&p);
    free(s);
    return 0;
}
