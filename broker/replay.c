/*  replay: rebuild the broker's state from the store on start.
 *
 *  Every event record goes through the live path's broker_publish_keep,
 *  so history limits apply as they did when it was published; a
 *  compaction copy only restores a key's latest value (if nothing newer
 *  for that key was replayed).  The epoch is the store's, SEQs continue
 *  after max(newest event, newest reservation) (store.c).
 *
 *  Lost ranges.  A client may hold a cursor into events that are gone:
 *
 *  - damage in the log (segment.c reports it): the events from there up
 *    to the next intact event may be lost;
 *  - an unclean stop under store-fsync everysec or no: events after the
 *    newest one replayed, up to the reservation, may have been fanned out
 *    and not reached the disk.  Under always nothing is sent before its
 *    fsync, so nothing that anyone saw can be missing.
 *
 *  Nobody knows which channels those events were on, so `lost_upto` (the
 *  newest SEQ that may be lost) raises every channel's dropped_upto and
 *  the watermark for unknown channels (evicted_upto): a cursor older than
 *  it gets an explicit reset, never a silent gap.  lost_upto is kept in
 *  the reservation records, so it survives later restarts.  Cursors older
 *  than the oldest segment's start are treated the same way.
 */
#include "broker.h"
#include "clock.h"
#include "log.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    broker_t *b;
    uint64_t max_seq;           /*  newest event SEQ replayed  */
    uint64_t reserved;          /*  SEQs reserved by the newest record  */
    bool reserved_always;       /*  ... written under store-fsync always  */
    bool reserved_clean;        /*  ... at an orderly stop  */
    uint64_t lost_upto;         /*  newest SEQ that may be lost  */
    uint64_t lost_before;       /*  ... as known before this start  */
    bool damaged;               /*  damage seen and no event since  */
    uint64_t damage;            /*  damaged stretches seen  */
    uint64_t records, events, copies, refused;
} replay_t;

static uint64_t
s_max(uint64_t a, uint64_t c)
{
    return a > c ? a : c;
}

/*  The event's channel, created if needed; NULL (and the event counts as
 *  lost) when max-channels is reached.  */
static chan_t *
s_chan(replay_t *r, const fp_event_t *ev)
{
    char err[FP_ERR_LEN];
    chan_t *c = broker_chan_require(r->b, ev->channel, err);
    if (!c) {
        if (r->refused++ == 0)
            fp_log_warnx("replay: %s; such events are dropped", err);
        r->lost_upto = s_max(r->lost_upto, ev->seq);
    }
    return c;
}

/*  An accepted event, in SEQ order: history, keyed state, last SEQ.  */
static int
s_event(replay_t *r, fp_event_t *ev)
{
    broker_t *b = r->b;

    if (ev->seq <= r->max_seq)
        return -1;
    if (r->damaged)
        r->lost_upto = s_max(r->lost_upto, ev->seq - 1);
    r->damaged = false;
    r->max_seq = b->seq = ev->seq;
    if (ev->ts > b->last_ts)
        b->last_ts = ev->ts;
    chan_t *c = s_chan(r, ev);
    if (!c)
        return 0;
    c->last_seq = ev->seq;
    broker_publish_keep(b, c, ev);
    r->events++;
    return 0;
}

/*  A compaction copy: the key's value unless a newer one was replayed.  */
static int
s_copy(replay_t *r, fp_event_t *ev)
{
    char err[FP_ERR_LEN];
    chan_t *c = s_chan(r, ev);

    if (!c)
        return 0;
    fp_event_t *cur = c->keys ? zhashx_lookup(c->keys, ev->key) : NULL;
    if (!cur || cur->seq < ev->seq)
        broker_chan_set_key(r->b, c, ev, err);
    c->last_seq = s_max(c->last_seq, ev->seq);
    if (ev->ts > c->last_ts)
        c->last_ts = ev->ts;
    r->copies++;
    return 0;
}

/*  A reservation record: "lost N fsync POLICY[ stop]".  */
static int
s_reservation(replay_t *r, const fp_wal_rec_t *rec)
{
    char line[96], policy[16], stop[16] = "";
    unsigned long long lost;

    if (rec->len >= sizeof line)
        return -1;
    memcpy(line, rec->data, rec->len);
    line[rec->len] = '\0';
    if (sscanf(line, "lost %llu fsync %15s %15s", &lost, policy, stop) < 2)
        return -1;
    r->reserved = rec->seq;
    r->reserved_always = strcmp(policy, "always") == 0;
    r->reserved_clean = strcmp(stop, "stop") == 0;
    r->lost_upto = s_max(r->lost_upto, lost);
    r->lost_before = s_max(r->lost_before, lost);
    return 0;
}

/*  One record of the store (broker_scan_fn).  */
static int
s_record(void *arg, const fp_wal_rec_t *rec)
{
    replay_t *r = arg;
    char err[FP_ERR_LEN];

    if (!rec) {
        r->damaged = true;
        r->damage++;
        return 0;
    }
    r->records++;
    if (rec->type == FP_WAL_RESERVE)
        return s_reservation(r, rec);
    fp_event_t *ev = fp_event_parse(rec->data, rec->len, err);
    int rc = -1;
    if (ev && ev->seq == rec->seq && strcmp(ev->epoch, r->b->epoch) == 0 &&
        (rec->type == FP_WAL_EVENT) == (ev->key == NULL))
        rc = rec->type == FP_WAL_COPY ? s_copy(r, ev) : s_event(r, ev);
    fp_event_unref(&ev);
    return rc;
}

/*  Raise every channel's reset watermark to lost_upto.  */
static void
s_lost(broker_t *b, uint64_t lost_upto)
{
    b->evicted_upto = s_max(b->evicted_upto, lost_upto);
    for (chan_t *c = zhashx_first(b->chans); c; c = zhashx_next(b->chans))
        c->dropped_upto = s_max(c->dropped_upto, lost_upto);
}

/*  After the last record: the unsynced tail, the head SEQ.  */
static void
s_finish(replay_t *r)
{
    broker_t *b = r->b;

    if (r->damaged)
        r->lost_upto = s_max(r->lost_upto, s_max(r->reserved, r->max_seq));
    else if (!r->reserved_clean && !r->reserved_always &&
             r->reserved > r->max_seq)
        r->lost_upto = s_max(r->lost_upto, r->reserved);
    b->seq = s_max(r->max_seq, r->reserved);
    s_lost(b, r->lost_upto);
    broker_history_trim_global(b, fp_clock_wall_ms());
    if (r->lost_upto > r->lost_before)
        fp_log_warnx("replay: events up to %s-%llu may be lost (%s): "
                     "older cursors get a reset", b->epoch,
                     (unsigned long long) r->lost_upto,
                     r->damage ? "damaged log" :
                     "unclean stop without store-fsync always");
}

/*  Replay the store into b (epoch already set from the store), log the
 *  figures, then open the store for appending.  Exits with status 1 if
 *  the store cannot be read or written.  */
void
broker_replay(broker_t *b)
{
    char err[FP_ERR_LEN];
    replay_t r = { .b = b };
    int64_t t0 = fp_clock_ms();

    b->evicted_upto = broker_store_base(b->store);
    int segs = broker_store_replay(b->store, s_record, &r, err);
    if (segs < 0)
        fp_fatalx("%s", err);
    s_finish(&r);
    if (broker_store_start(b->store, b->seq, r.lost_upto, err) < 0)
        fp_fatalx("%s", err);
    b->stats.replay_records = r.records;
    b->stats.replay_ms = (uint64_t) (fp_clock_ms() - t0);
    fp_log_info("store %s: replayed %llu records (%llu events, %llu keyed "
                "copies) from %d segments in %llu ms; head %s-%llu, %llu "
                "events in history, %zu channels", b->conf.store,
                (unsigned long long) r.records,
                (unsigned long long) r.events, (unsigned long long) r.copies,
                segs, (unsigned long long) b->stats.replay_ms, b->epoch,
                (unsigned long long) b->seq,
                (unsigned long long) b->hist_events, zhashx_size(b->chans));
}
