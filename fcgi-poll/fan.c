/*  fan: several broker requests for one HTTP request, sent together,
 *  answered once the last reply is in (a Pusher trigger's publishes, one
 *  per channel; a Pusher channel list's PRESENCE members, one per
 *  channel).  The replies' META objects are kept in the order the bodies
 *  were given; the request going away (polld_req_free) cancels what is
 *  still pending.
 */
#include "polld.h"
#include "mem.h"

#include <stdlib.h>

typedef struct {
    polld_req_t *r;
    size_t i;
} s_slot_t;

struct polld_fan {
    fp_hub_req_t **reqs;        /*  one per body, NULL once answered  */
    s_slot_t *slots;            /*  ... the callbacks' arguments  */
    json_t **metas;             /*  ... the replies (owned)  */
    size_t n;
    size_t pending;
    json_t *failed;             /*  the first refusal's META, or NULL  */
    polld_fan_done_fn *done;
};

void
polld_fan_free(polld_req_t *r)
{
    polld_fan_t *f = r->fan;
    if (!f)
        return;
    for (size_t i = 0; i < f->n; i++) {
        fp_hub_cancel(fp_responder_hub(r->d->app), &f->reqs[i]);
        json_decref(f->metas[i]);
    }
    free(f->reqs);
    free(f->slots);
    free(f->metas);
    json_decref(f->failed);
    free(f);
    r->fan = NULL;
}

static void
s_on_reply(void *arg, bool ok, json_t *meta, fp_event_t **evs, size_t n)
{
    s_slot_t *slot = arg;
    polld_req_t *r = slot->r;
    polld_fan_t *f = r->fan;

    f->reqs[slot->i] = NULL;
    f->metas[slot->i] = json_incref(meta);
    if (!ok && !f->failed)
        f->failed = json_incref(meta);
    if (--f->pending == 0)
        f->done(r, f->metas, f->n, f->failed);
}

void
polld_fan_send(polld_req_t *r, const char *cmd, const json_t *bodies,
               polld_fan_done_fn *done)
{
    polld_fan_t *f = fp_calloc(1, sizeof *f);
    f->n = f->pending = json_array_size(bodies);
    f->reqs = fp_calloc(f->n ? f->n : 1, sizeof *f->reqs);
    f->slots = fp_calloc(f->n ? f->n : 1, sizeof *f->slots);
    f->metas = fp_calloc(f->n ? f->n : 1, sizeof *f->metas);
    f->done = done;
    r->fan = f;
    if (f->n == 0) {
        done(r, f->metas, 0, NULL);
        return;
    }
    for (size_t i = 0; i < f->n; i++) {
        f->slots[i] = (s_slot_t) { r, i };
        f->reqs[i] = fp_hub_request(fp_responder_hub(r->d->app), cmd,
                                    json_deep_copy(json_array_get(bodies, i)),
                                    s_on_reply, &f->slots[i]);
    }
}
