/*  ring: the bounded history of one channel.
 *
 *  A growable circular array of events in SEQ order, oldest first.  The
 *  ring holds one reference to each event.  Lookup "events after SEQ" is a
 *  binary search; trimming by count, bytes and age pops from the old end
 *  and remembers the newest SEQ it dropped, which is what decides whether
 *  a cursor can still be served or needs a reset.
 */
#ifndef FP_RING_H
#define FP_RING_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef struct {
    fp_event_t **items;         /*  circular array of owned references  */
    size_t cap;                 /*  slots allocated (power of two)  */
    size_t head;                /*  slot of the oldest event  */
    size_t count;               /*  events held  */
    size_t bytes;               /*  sum of fp_event_size()  */
} fp_ring_t;

/*  Initialise an empty ring.  */
void fp_ring_init(fp_ring_t *r);

/*  Drop every reference and free the array.  */
void fp_ring_free(fp_ring_t *r);

/*  Append ev (seq must be above the newest); the ring takes its own
 *  reference.  */
void fp_ring_push(fp_ring_t *r, fp_event_t *ev);

/*  Remove the oldest event and return the ring's reference to it (caller
 *  owns it); NULL when empty.  */
fp_event_t *fp_ring_pop(fp_ring_t *r);

/*  Event i (0 = oldest), borrowed; NULL past the end.  */
fp_event_t *fp_ring_at(const fp_ring_t *r, size_t i);

/*  Index of the first event with SEQ > seq (== count if none).  */
size_t fp_ring_after(const fp_ring_t *r, uint64_t seq);

/*  Pop old events while there are more than max_count, or more than
 *  max_bytes, or the oldest is older than min_ts (ms; 0 disables).  Keeps at
 *  least keep_min events whatever the bytes.  *dropped_upto is raised to
 *  the newest SEQ dropped.  Returns the number dropped.  */
size_t fp_ring_trim(fp_ring_t *r, size_t max_count, size_t max_bytes,
                    int64_t min_ts, uint64_t *dropped_upto);

#endif
