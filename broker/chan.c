/*  chan: the broker's channel table and keyed (compacted) state.
 *
 *  A channel exists once something is published or subscribed to it.  Idle
 *  channels (no history, no keys, no subscribers) are forgotten when the
 *  table passes max-channels; the newest SEQ they had is remembered in one
 *  watermark (evicted_upto) so that a cursor older than it gets an honest
 *  reset instead of a silent "nothing happened".
 */
#include "broker.h"
#include "conf.h"
#include "log.h"
#include "mem.h"

#include <stdlib.h>
#include <string.h>

static void
s_event_destroy(void **item)
{
    fp_event_t *ev = *item;
    fp_event_unref(&ev);
    *item = NULL;
}

static void
s_chan_destroy(void **item)
{
    chan_t *c = *item;
    if (!c)
        return;
    fp_ring_free(&c->ring);
    zhashx_destroy(&c->keys);
    free(c->name);
    free(c);
    *item = NULL;
}

void
broker_chan_table_init(broker_t *b)
{
    b->chans = zhashx_new();
    zhashx_set_destructor(b->chans, s_chan_destroy);
}

void
broker_chan_table_free(broker_t *b)
{
    zhashx_destroy(&b->chans);
    free(b->heap);
    b->heap = NULL;
    b->heap_len = b->heap_cap = 0;
    free(b->active);
    b->active = NULL;
    b->active_len = b->active_cap = 0;
}

chan_t *
broker_chan_get(broker_t *b, const char *name)
{
    return zhashx_lookup(b->chans, name);
}

static bool
s_idle(const chan_t *c)
{
    return c->ring.count == 0 && c->subscribers == 0 && !c->in_active &&
           c->staged == 0 && (!c->keys || zhashx_size(c->keys) == 0);
}

static int
s_by_age(const void *x, const void *y)
{
    const chan_t *a = *(chan_t *const *) x, *c = *(chan_t *const *) y;
    return a->last_ts < c->last_ts ? -1 : a->last_ts > c->last_ts;
}

void
broker_chan_evict_idle(broker_t *b)
{
    size_t n = zhashx_size(b->chans);
    size_t target = (size_t) b->conf.max_channels * 9 / 10;
    if (n <= (size_t) b->conf.max_channels)
        return;
    chan_t **idle = fp_malloc(n * sizeof *idle);
    size_t k = 0;
    for (chan_t *c = zhashx_first(b->chans); c; c = zhashx_next(b->chans))
        if (s_idle(c))
            idle[k++] = c;
    qsort(idle, k, sizeof *idle, s_by_age);
    for (size_t i = 0; i < k && n > target; i++, n--) {
        chan_t *c = idle[i];
        uint64_t upto = c->last_seq > c->dropped_upto ? c->last_seq
                                                      : c->dropped_upto;
        if (upto > b->evicted_upto)
            b->evicted_upto = upto;
        b->stats.evicted++;
        zhashx_delete(b->chans, c->name);
    }
    free(idle);
}

void
broker_chan_reset_all(broker_t *b)
{
    for (chan_t *c = zhashx_first(b->chans); c; c = zhashx_next(b->chans)) {
        fp_ring_free(&c->ring);
        fp_ring_init(&c->ring);
        zhashx_destroy(&c->keys);
        c->last_seq = c->dropped_upto = 0;
        c->heap_pos = (size_t) -1;
    }
    b->heap_len = 0;
    b->hist_bytes = b->hist_events = b->keyed_events = 0;
    b->evicted_upto = 0;
}

chan_t *
broker_chan_require(broker_t *b, const char *name, char *err)
{
    chan_t *c = zhashx_lookup(b->chans, name);
    if (c)
        return c;
    if (zhashx_size(b->chans) >= (size_t) b->conf.max_channels)
        broker_chan_evict_idle(b);
    if (zhashx_size(b->chans) >= (size_t) b->conf.max_channels) {
        snprintf(err, FP_ERR_LEN, "channel limit reached (%lld channels "
                 "with history or subscribers)",
                 (long long) b->conf.max_channels);
        return NULL;
    }
    c = fp_calloc(1, sizeof *c);
    c->name = fp_strdup(name);
    c->dropped_upto = b->evicted_upto;
    c->heap_pos = (size_t) -1;
    fp_ring_init(&c->ring);
    zhashx_insert(b->chans, name, c);
    return c;
}

size_t
broker_chan_key_count(const chan_t *c)
{
    return c->keys ? zhashx_size(c->keys) : 0;
}

/*  May c take an event with this key?  Keys new to c that wait in the
 *  open batch count too (a key repeated there counts more than once, so
 *  near the limit this errs on the side of refusing).  */
bool
broker_chan_key_allowed(broker_t *b, chan_t *c, const char *key)
{
    if (c->keys && zhashx_lookup(c->keys, key))
        return true;
    return broker_chan_key_count(c) + c->staged_keys <
           (size_t) b->conf.max_keys;
}

/*  The newest event for a key replaces the older one; an event whose data
 *  is null removes the key (a tombstone: it stays in history only).  */
int
broker_chan_set_key(broker_t *b, chan_t *c, fp_event_t *ev, char *err)
{
    static const char tomb[] = ",\"data\":null}";
    size_t tl = sizeof tomb - 1;
    bool tombstone = ev->json_len > tl &&
                     memcmp(ev->json + ev->json_len - tl, tomb, tl) == 0;

    if (!c->keys) {
        c->keys = zhashx_new();
        zhashx_set_destructor(c->keys, s_event_destroy);
    }
    if (tombstone) {
        zhashx_delete(c->keys, ev->key);
        return 0;
    }
    if (!broker_chan_key_allowed(b, c, ev->key)) {
        snprintf(err, FP_ERR_LEN, "channel '%s' already holds %lld keys",
                 c->name, (long long) b->conf.max_keys);
        return -1;
    }
    zhashx_update(c->keys, ev->key, fp_event_ref(ev));
    return 0;
}
