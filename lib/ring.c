/*  ring: the bounded history of one channel (see ring.h).  */
#include "ring.h"
#include "mem.h"

#include <assert.h>
#include <stdlib.h>

void
fp_ring_init(fp_ring_t *r)
{
    r->items = NULL;
    r->cap = r->head = r->count = r->bytes = 0;
}

void
fp_ring_free(fp_ring_t *r)
{
    fp_event_t *ev;
    while ((ev = fp_ring_pop(r)))
        fp_event_unref(&ev);
    free(r->items);
    fp_ring_init(r);
}

static void
s_grow(fp_ring_t *r)
{
    size_t cap = r->cap ? r->cap * 2 : 8;
    fp_event_t **items = fp_malloc(cap * sizeof *items);
    for (size_t i = 0; i < r->count; i++)
        items[i] = r->items[(r->head + i) & (r->cap - 1)];
    free(r->items);
    r->items = items;
    r->cap = cap;
    r->head = 0;
}

void
fp_ring_push(fp_ring_t *r, fp_event_t *ev)
{
    assert(r->count == 0 || fp_ring_at(r, r->count - 1)->seq < ev->seq);
    if (r->count == r->cap)
        s_grow(r);
    r->items[(r->head + r->count) & (r->cap - 1)] = fp_event_ref(ev);
    r->count++;
    r->bytes += fp_event_size(ev);
}

fp_event_t *
fp_ring_pop(fp_ring_t *r)
{
    if (r->count == 0)
        return NULL;
    fp_event_t *ev = r->items[r->head];
    r->head = (r->head + 1) & (r->cap - 1);
    r->count--;
    r->bytes -= fp_event_size(ev);
    if (r->count == 0)
        r->head = 0;
    return ev;
}

fp_event_t *
fp_ring_at(const fp_ring_t *r, size_t i)
{
    if (i >= r->count)
        return NULL;
    return r->items[(r->head + i) & (r->cap - 1)];
}

size_t
fp_ring_after(const fp_ring_t *r, uint64_t seq)
{
    size_t lo = 0, hi = r->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (fp_ring_at(r, mid)->seq <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

size_t
fp_ring_trim(fp_ring_t *r, size_t max_count, size_t max_bytes,
             int64_t min_ts, uint64_t *dropped_upto)
{
    size_t dropped = 0;
    while (r->count > 0) {
        fp_event_t *old = fp_ring_at(r, 0);
        if (r->count <= max_count && r->bytes <= max_bytes &&
            (min_ts <= 0 || old->ts >= min_ts))
            break;
        old = fp_ring_pop(r);
        if (old->seq > *dropped_upto)
            *dropped_upto = old->seq;
        fp_event_unref(&old);
        dropped++;
    }
    return dropped;
}

#ifdef FP_TEST
#include "test.h"

void
fp_ring_test(void)
{
    fp_ring_t r;
    fp_ring_init(&r);
    /*  seqs 1002..1200 step 2: every event has the same JSON size  */
    for (uint64_t s = 1; s <= 100; s++) {
        fp_event_t *ev = fp_event_new("e", 1000 + s * 2, 0,
                                      (int64_t) (100 + s), "c", "m", NULL,
                                      NULL, "1", 1);
        fp_ring_push(&r, ev);
        fp_event_unref(&ev);
    }
    FP_CHECK(r.count == 100 && fp_ring_at(&r, 0)->seq == 1002, "push");
    FP_CHECK(fp_ring_after(&r, 0) == 0, "after before start");
    FP_CHECK(fp_ring_after(&r, 1002) == 1, "after first");
    FP_CHECK(fp_ring_after(&r, 1003) == 1, "after gap");
    FP_CHECK(fp_ring_after(&r, 5000) == 100, "after end");
    uint64_t dropped = 0;
    FP_CHECK(fp_ring_trim(&r, 90, SIZE_MAX, 0, &dropped) == 10 &&
             dropped == 1020 && fp_ring_at(&r, 0)->seq == 1022,
             "trim by count");
    size_t each = fp_event_size(fp_ring_at(&r, 0));
    fp_ring_trim(&r, SIZE_MAX, each * 50, 0, &dropped);
    FP_CHECK(r.count == 50 && dropped == 1100, "trim by bytes");
    fp_ring_trim(&r, SIZE_MAX, SIZE_MAX, 161, &dropped);
    FP_CHECK(r.count == 40 && fp_ring_at(&r, 0)->ts == 161, "trim by age");
    /*  wrap-around: push after pops so the array wraps  */
    for (uint64_t s = 2001; s <= 2060; s++) {
        fp_event_t *ev = fp_event_new("e", s, 0, 0, "c", "m", NULL, NULL, "1",
                                      1);
        fp_ring_push(&r, ev);
        fp_event_unref(&ev);
    }
    FP_CHECK(r.count == 100 && fp_ring_after(&r, 2030) == 70 &&
             fp_ring_at(&r, 99)->seq == 2060, "wrapped ring ordered");
    fp_ring_free(&r);
    FP_CHECK(r.count == 0 && r.bytes == 0, "free");
}
#endif
