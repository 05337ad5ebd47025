/*  history: every channel's ring, and the limits over all of them.
 *
 *  Per channel, history is bounded by count and bytes when an event is
 *  added.  Over all channels, a binary min-heap orders the channels by
 *  their oldest event, so the periodic tick can drop the globally oldest
 *  events first: by age (history-age) and by total size (history-memory).
 *  Every drop raises the channel's dropped_upto, which SINCE compares with
 *  the client's cursor to decide between replay and reset.
 */
#include "broker.h"
#include "mem.h"

#define NO_POS ((size_t) -1)

static uint64_t
s_oldest(const chan_t *c)
{
    return fp_ring_at(&c->ring, 0)->seq;
}

static void
s_swap(broker_t *b, size_t i, size_t j)
{
    chan_t *t = b->heap[i];
    b->heap[i] = b->heap[j];
    b->heap[j] = t;
    b->heap[i]->heap_pos = i;
    b->heap[j]->heap_pos = j;
}

static void
s_up(broker_t *b, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (s_oldest(b->heap[parent]) <= s_oldest(b->heap[i]))
            break;
        s_swap(b, i, parent);
        i = parent;
    }
}

static void
s_down(broker_t *b, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < b->heap_len && s_oldest(b->heap[l]) < s_oldest(b->heap[m]))
            m = l;
        if (r < b->heap_len && s_oldest(b->heap[r]) < s_oldest(b->heap[m]))
            m = r;
        if (m == i)
            return;
        s_swap(b, i, m);
        i = m;
    }
}

static void
s_heap_insert(broker_t *b, chan_t *c)
{
    if (b->heap_len == b->heap_cap) {
        b->heap_cap = b->heap_cap ? b->heap_cap * 2 : 64;
        b->heap = fp_realloc(b->heap, b->heap_cap * sizeof *b->heap);
    }
    c->heap_pos = b->heap_len;
    b->heap[b->heap_len++] = c;
    s_up(b, c->heap_pos);
}

static void
s_heap_remove(broker_t *b, chan_t *c)
{
    size_t i = c->heap_pos;
    c->heap_pos = NO_POS;
    if (--b->heap_len == i)
        return;
    b->heap[i] = b->heap[b->heap_len];
    b->heap[i]->heap_pos = i;
    s_down(b, i);
    s_up(b, i);
}

/*  After the oldest events of c were dropped: move or remove it.  */
static void
s_heap_fix(broker_t *b, chan_t *c)
{
    if (c->ring.count == 0)
        s_heap_remove(b, c);
    else
        s_down(b, c->heap_pos);
}

void
broker_history_push(broker_t *b, chan_t *c, fp_event_t *ev)
{
    bool was_empty = c->ring.count == 0;
    fp_ring_push(&c->ring, ev);
    b->hist_bytes += fp_event_size(ev);
    b->hist_events++;
    if (was_empty)
        s_heap_insert(b, c);
}

/*  Drop the oldest events of c while over its count or byte limit.  */
void
broker_history_trim(broker_t *b, chan_t *c)
{
    size_t bytes = c->ring.bytes;
    size_t n = fp_ring_trim(&c->ring, (size_t) b->conf.history_count,
                            b->conf.history_bytes, 0, &c->dropped_upto);
    if (n == 0)
        return;
    b->hist_bytes -= bytes - c->ring.bytes;
    b->hist_events -= n;
    b->stats.trimmed += n;
    s_heap_fix(b, c);
}

/*  Drop the globally oldest events while they are too old or history as a
 *  whole is over history-memory.  */
void
broker_history_trim_global(broker_t *b, int64_t now)
{
    int64_t min_ts = b->conf.history_age ? now - (int64_t) b->conf.history_age
                                         : INT64_MIN;
    while (b->heap_len > 0) {
        chan_t *c = b->heap[0];
        fp_event_t *old = fp_ring_at(&c->ring, 0);
        if (old->ts >= min_ts && b->hist_bytes <= b->conf.history_memory)
            return;
        old = fp_ring_pop(&c->ring);
        if (old->seq > c->dropped_upto)
            c->dropped_upto = old->seq;
        b->hist_bytes -= fp_event_size(old);
        b->hist_events--;
        b->stats.trimmed++;
        fp_event_unref(&old);
        s_heap_fix(b, c);
    }
}
