/*  retain: keep the store's disk use bounded.
 *
 *  The oldest segment is deleted once no channel needs it: every event in
 *  it is older than every channel's oldest event in history (the history
 *  heap's top).  History limits (count, bytes, age, memory: history.c)
 *  thus bound the log too.  Only whole segments go, oldest first, never
 *  the active one.
 *
 *  Keyed state outlives history, so before a segment goes it is
 *  compacted: its keyed records are read back, and those that are still
 *  the current value of their key are re-appended to the active segment
 *  as copies (same event, same SEQ), fsynced, and only then is the
 *  segment deleted.  If part of the segment cannot be read, every current
 *  keyed event up to the segment's newest SEQ is copied instead, so a
 *  damaged segment can cost disk space but never a key.
 */
#include "broker.h"
#include "log.h"

#define RETAIN_PER_TICK 8

typedef struct {
    broker_t *b;
    bool damaged;               /*  part of the segment was unreadable  */
} compact_t;

/*  The current value of ev's key, or NULL.  */
static fp_event_t *
s_current(broker_t *b, const char *channel, const char *key)
{
    chan_t *c = broker_chan_get(b, channel);
    return c && c->keys && key ? zhashx_lookup(c->keys, key) : NULL;
}

/*  One record of the segment (broker_scan_fn): copy it if current.  */
static int
s_record(void *arg, const fp_wal_rec_t *rec)
{
    compact_t *k = arg;
    char err[FP_ERR_LEN];

    if (!rec) {
        k->damaged = true;
        return 0;
    }
    if (rec->type != FP_WAL_KEYED && rec->type != FP_WAL_COPY)
        return 0;
    fp_event_t *ev = fp_event_parse(rec->data, rec->len, err);
    if (!ev)
        return -1;
    fp_event_t *cur = s_current(k->b, ev->channel, ev->key);
    if (cur && cur->seq == rec->seq)
        broker_store_add(k->b->store, cur, true);
    fp_event_unref(&ev);
    return 0;
}

/*  Copy every current keyed event up to `top` (damaged segment).  */
static void
s_copy_all(broker_t *b, uint64_t top)
{
    for (chan_t *c = zhashx_first(b->chans); c; c = zhashx_next(b->chans)) {
        if (!c->keys)
            continue;
        for (fp_event_t *ev = zhashx_first(c->keys); ev;
             ev = zhashx_next(c->keys))
            if (ev->seq <= top)
                broker_store_add(b->store, ev, true);
    }
}

/*  Re-append the oldest segment's current keyed events; 0 once they are
 *  on disk.  */
static int
s_compact(broker_t *b, const broker_seg_t *seg)
{
    char err[FP_ERR_LEN];
    compact_t k = { b, false };
    uint64_t top = seg->top_seq;

    if (broker_store_scan_oldest(b->store, s_record, &k) < 0)
        k.damaged = true;
    if (k.damaged)
        s_copy_all(b, top);
    if (broker_store_flush(b->store, true, err) < 0) {
        fp_log_warnx("retention: %s (segment kept)", err);
        return -1;
    }
    return 0;
}

/*  The oldest SEQ any channel's history still holds.  */
static uint64_t
s_needed(const broker_t *b)
{
    if (b->heap_len == 0)
        return UINT64_MAX;
    return fp_ring_at(&b->heap[0]->ring, 0)->seq;
}

/*  Delete (after compaction) the oldest segments no channel needs, a few
 *  per call (the store's one-second timer).  */
void
broker_retain(broker_t *b)
{
    const broker_seg_t *seg;

    for (int i = 0; i < RETAIN_PER_TICK; i++) {
        seg = broker_store_oldest(b->store);
        if (!seg || seg->max_seq >= s_needed(b))
            return;
        if ((seg->keyed > 0 && s_compact(b, seg) < 0) ||
            broker_store_drop_oldest(b->store) < 0)
            return;
    }
}
