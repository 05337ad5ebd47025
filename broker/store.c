/*  store: the durable log behind the broker's history (`store PATH`).
 *
 *  Every accepted event is appended as a record (common/wal.h) to the
 *  newest segment file before it is acknowledged or fanned out; the
 *  broker replays the segments on start (replay.c) and deletes old ones
 *  nobody needs (retain.c).  The records of one batch are gathered in a
 *  buffer and written with one write(); store-fsync decides when they
 *  reach the disk: after every batch (always), once a second (everysec)
 *  or when the kernel likes (no).
 *
 *  SEQ reservation: a SEQ that a client may have seen must never be
 *  assigned again, even when an unclean stop loses the unsynced tail.  So
 *  before the broker uses a SEQ beyond the newest durable reservation it
 *  writes and fsyncs a reservation record ("SEQs up to N may be in use");
 *  the next reservation is written early (half way), so that with
 *  everysec the tick's fsync usually covers it.  On start, SEQs continue
 *  after max(newest event replayed, newest reservation); a clean stop
 *  writes a reservation of exactly the head, so nothing is skipped.  The
 *  reservation records also carry `lost_upto` (see replay.c) and the
 *  fsync policy they were written under.
 *
 *  The LOCK file in the directory is flock()ed: two brokers never share
 *  a store.
 */
#include "broker.h"
#include "clock.h"
#include "log.h"
#include "mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define RESERVE_STEP 1000000

static const char *const s_policies[] = { "always", "everysec", "no" };
static fp_log_limit_t s_roll_log;

struct broker_store {
    char *path;                 /*  directory (owned)  */
    int lock_fd;                /*  LOCK, flock()ed while open  */
    int policy;                 /*  BROKER_FSYNC_*  */
    uint64_t segment_bytes;     /*  new data per segment  */
    char epoch[FP_EPOCH_MAX + 1];
    broker_seg_t *segs;         /*  oldest first; the last is active  */
    size_t nsegs, cap;
    uint64_t next_no;           /*  number for the next new segment  */
    int fd;                     /*  active segment, -1 until started  */
    fp_buf_t buf;               /*  records of the batch, not written  */
    broker_seg_t pending;       /*  their figures (max_seq, keyed ...)  */
    uint64_t records_pending;   /*  records in buf  */
    uint64_t top_seq;           /*  newest event SEQ written  */
    uint64_t res_added;         /*  newest reservation in buf or file  */
    uint64_t res_written;       /*  ... written to the file  */
    uint64_t res_synced;        /*  ... known to be on disk  */
    uint64_t lost_upto;         /*  carried in every reservation  */
    bool dirty;                 /*  written since the last fsync  */
    bool must_sync;             /*  buf uses SEQs beyond res_synced  */
    bool broken;                /*  a failed write is still in the file  */
    uint64_t bytes;             /*  all segments  */
    uint64_t records;           /*  records appended since start  */
    uint64_t fsyncs, errors, copies, deleted;
    int64_t last_fsync;         /*  ms since 1970, 0: never  */
    char problem[FP_ERR_LEN];   /*  the last write or fsync's failure, ""
                                 *  once one works again  */
};

/*  The segment being appended to (borrowed; valid until segs grows).  */
static broker_seg_t *
s_active(broker_store_t *st)
{
    return &st->segs[st->nsegs - 1];
}

/*  Append a copy of seg to the list; count its bytes.  */
static void
s_seg_add(broker_store_t *st, const broker_seg_t *seg)
{
    if (st->nsegs == st->cap) {
        st->cap = st->cap ? st->cap * 2 : 16;
        st->segs = fp_realloc(st->segs, st->cap * sizeof *st->segs);
    }
    st->segs[st->nsegs++] = *seg;
    st->bytes += seg->bytes;
    if (seg->no >= st->next_no)
        st->next_no = seg->no + 1;
}

/*  Create the directory if needed and take the LOCK (held until close).  */
static int
s_lock(broker_store_t *st, char *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/LOCK", st->path);
    if (mkdir(st->path, 0750) < 0 && errno != EEXIST) {
        snprintf(err, FP_ERR_LEN, "store: cannot create %s: %s", st->path,
                 strerror(errno));
        return -1;
    }
    st->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (st->lock_fd < 0) {
        snprintf(err, FP_ERR_LEN, "store: cannot open %s: %s", path,
                 strerror(errno));
        return -1;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, FP_ERR_LEN, "store %s is in use by another broker "
                 "(%s)", st->path, strerror(errno));
        return -1;
    }
    return 0;
}

/*  qsort order of segment numbers.  */
static int
s_by_no(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *) x, c = *(const uint64_t *) y;
    return a < c ? -1 : a > c;
}

/*  The segment numbers found in the directory, sorted, into *nos (caller
 *  frees); leftovers of an interrupted segment creation (*.seg.tmp) are
 *  removed.  */
static int
s_list(broker_store_t *st, uint64_t **nos_p, size_t *n, char *err)
{
    DIR *d = opendir(st->path);
    if (!d) {
        snprintf(err, FP_ERR_LEN, "store: cannot read %s: %s", st->path,
                 strerror(errno));
        return -1;
    }
    uint64_t *nos = NULL;
    size_t cap = 0;
    *n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned long long no;
        int end = 0;
        if (e->d_name[0] < '0' || e->d_name[0] > '9' ||
            sscanf(e->d_name, "%20llu.seg%n", &no, &end) != 1 || end != 24)
            continue;
        if (strcmp(e->d_name + 24, ".tmp") == 0) {
            fp_log_info("store: removing %s/%s (an unfinished segment)",
                        st->path, e->d_name);
            unlinkat(dirfd(d), e->d_name, 0);
            continue;
        }
        if (e->d_name[24] != '\0')
            continue;
        if (*n == cap)
            nos = fp_realloc(nos, (cap = cap ? cap * 2 : 64) * sizeof *nos);
        nos[(*n)++] = no;
    }
    closedir(d);
    if (*n > 0)
        qsort(nos, *n, sizeof *nos, s_by_no);
    *nos_p = nos;
    return 0;
}

/*  Read one segment's header: a newer format or a second epoch is fatal;
 *  an unreadable header marks the segment bad (replay reports it).  */
static int
s_header(broker_store_t *st, uint64_t no, char *err)
{
    char why[FP_ERR_LEN];
    fp_wal_header_t h;
    broker_seg_t seg = { .no = no };

    int rc = broker_seg_header(st->path, no, &h, &seg.bytes, why);
    if (rc == FP_WAL_EVERSION || rc == FP_WAL_ESHORT) {
        snprintf(err, FP_ERR_LEN, "store %s: segment %llu: %s", st->path,
                 (unsigned long long) no, why);
        return -1;
    }
    if (rc == 0 && st->epoch[0] && strcmp(st->epoch, h.epoch) != 0) {
        snprintf(err, FP_ERR_LEN, "store %s: segment %llu belongs to epoch "
                 "%s, the others to %s: not one store", st->path,
                 (unsigned long long) no, h.epoch, st->epoch);
        return -1;
    }
    if (rc == 0) {
        strcpy(st->epoch, h.epoch);
        seg.prior_seq = h.prior_seq;
    } else {
        fp_log_warnx("store %s: segment %llu: %s", st->path,
                     (unsigned long long) no, why);
        seg.bad = true;
    }
    s_seg_add(st, &seg);
    return 0;
}

/*  Open (or create) the store directory: lock it, list the segments and
 *  read their headers.  Copies the store's epoch (a new one for an empty
 *  store) into `epoch`.  Returns the store (caller owns it: close with
 *  broker_store_close), or NULL with err for a store that must not be
 *  used: locked, unreadable, a newer format, two epochs.  */
broker_store_t *
broker_store_open(const broker_conf_t *conf, char *epoch, char *err)
{
    broker_store_t *st = fp_calloc(1, sizeof *st);
    size_t n = 0;
    uint64_t *nos = NULL;

    st->path = fp_strdup(conf->store);
    st->policy = conf->store_fsync;
    st->segment_bytes = conf->store_segment_bytes;
    st->fd = st->lock_fd = -1;
    st->next_no = 1;
    fp_buf_init(&st->buf);
    if (s_lock(st, err) < 0 || s_list(st, &nos, &n, err) < 0)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if (s_header(st, nos[i], err) < 0)
            goto fail;
    free(nos);
    if (!st->epoch[0])
        fp_epoch_generate(st->epoch);
    strcpy(epoch, st->epoch);
    return st;
fail:
    free(nos);
    broker_store_close(&st, 0);
    return NULL;
}

/*  Move a segment whose header cannot be read out of the way.  */
static void
s_set_aside(broker_store_t *st, size_t i)
{
    char from[4096], to[4096];
    broker_seg_path(st->path, st->segs[i].no, "", from, sizeof from);
    broker_seg_path(st->path, st->segs[i].no, ".corrupt", to, sizeof to);
    if (rename(from, to) < 0)
        fp_log_warn("store: cannot rename %s", from);
    else
        fp_log_warnx("store: %s renamed to %s; its records are lost", from,
                     to);
    st->bytes -= st->segs[i].bytes;
    memmove(&st->segs[i], &st->segs[i + 1],
            (st->nsegs - i - 1) * sizeof *st->segs);
    st->nsegs--;
}

/*  Walk every record, oldest segment first.  The newest readable segment
 *  is the tail, where the next records will be appended: a torn or
 *  damaged end there is truncated.  Segments with a bad header are set
 *  aside (counted as damage).  Returns the number of segments read, or -1
 *  with err when a file cannot be read.  */
int
broker_store_replay(broker_store_t *st, broker_scan_fn *fn, void *arg,
                    char *err)
{
    size_t tail = st->nsegs;
    for (size_t i = 0; i < st->nsegs; i++)
        if (!st->segs[i].bad)
            tail = i;
    for (size_t i = 0; i < st->nsegs; i++) {
        broker_seg_t *seg = &st->segs[i];
        if (seg->bad) {
            fn(arg, NULL);
            tail -= i < tail;
            s_set_aside(st, i--);
            continue;
        }
        uint64_t before = seg->bytes;
        if (broker_seg_scan(st->path, seg, i == tail, fn, arg, err) < 0)
            return -1;
        st->bytes -= before - seg->bytes;
    }
    return (int) st->nsegs;
}

/*  The prior SEQ of the oldest segment: what was before it is gone.  */
uint64_t
broker_store_base(const broker_store_t *st)
{
    for (size_t i = 0; i < st->nsegs; i++)
        if (!st->segs[i].bad)
            return st->segs[i].prior_seq;
    return 0;
}

/*  Append a reservation record to out: SEQs up to `upto` may be in use.
 *  Its text: "lost N fsync POLICY", and " stop" at an orderly stop.  */
static void
s_reservation(const broker_store_t *st, fp_buf_t *out, uint64_t upto,
              bool stop)
{
    char line[96];
    int n = snprintf(line, sizeof line, "lost %llu fsync %s%s",
                     (unsigned long long) st->lost_upto,
                     s_policies[st->policy], stop ? " stop" : "");
    fp_wal_add(out, FP_WAL_RESERVE, upto, line, (size_t) n);
}

/*  Queue a reservation record in the batch.  */
static void
s_reserve(broker_store_t *st, uint64_t upto, bool stop)
{
    s_reservation(st, &st->buf, upto, stop);
    st->records_pending++;
    st->res_added = upto;
}

/*  Start a new segment after the active one (or the first one).  */
static int
s_new_segment(broker_store_t *st, char *err)
{
    fp_wal_header_t h = { 0 };
    fp_buf_t first;

    h.segno = st->next_no;
    h.prior_seq = st->top_seq;
    h.created = fp_clock_wall_ms();
    strcpy(h.epoch, st->epoch);
    fp_buf_init(&first);
    s_reservation(st, &first, st->res_written, false);
    int fd = broker_seg_create(st->path, &h, &first, err);
    if (fd >= 0) {
        broker_seg_t seg = { .no = h.segno, .prior_seq = h.prior_seq,
                             .bytes = FP_WAL_HEADER_LEN + first.len };
        if (st->fd >= 0)
            close(st->fd);
        st->fd = fd;
        s_seg_add(st, &seg);
        st->res_synced = st->res_written;
    }
    fp_buf_free(&first);
    return fd >= 0 ? 0 : -1;
}

/*  Open the newest segment for appending.  */
static int
s_open_active(broker_store_t *st, char *err)
{
    char path[4096];
    broker_seg_path(st->path, s_active(st)->no, "", path, sizeof path);
    st->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (st->fd < 0) {
        snprintf(err, FP_ERR_LEN, "store: cannot open %s: %s", path,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/*  After replay: open the newest segment for appending (or create the
 *  first one) and write a reservation of `seq` with `lost_upto`.  */
int
broker_store_start(broker_store_t *st, uint64_t seq, uint64_t lost_upto,
                   char *err)
{
    st->top_seq = seq;
    st->lost_upto = lost_upto;
    st->res_added = st->res_written = st->res_synced = seq;
    if (st->nsegs == 0)
        return s_new_segment(st, err);
    if (s_open_active(st, err) < 0)
        return -1;
    s_reserve(st, seq, false);
    return broker_store_flush(st, true, err);
}

/*  Queue ev's record in the batch buffer (a compaction copy if `copy`),
 *  with a reservation record first when ev->seq comes near the reserved
 *  range.  ev is borrowed; its JSON is copied.  */
void
broker_store_add(broker_store_t *st, const fp_event_t *ev, bool copy)
{
    int type = copy ? FP_WAL_COPY : ev->key ? FP_WAL_KEYED : FP_WAL_EVENT;
    if (!copy && ev->seq + RESERVE_STEP / 2 > st->res_added)
        s_reserve(st, ev->seq + RESERVE_STEP, false);
    if (!copy && ev->seq > st->res_synced)
        st->must_sync = true;
    size_t before = st->buf.len;
    fp_wal_add(&st->buf, type, ev->seq, ev->json, ev->json_len);
    st->records_pending++;
    if (type != FP_WAL_COPY && ev->seq > st->pending.max_seq)
        st->pending.max_seq = ev->seq;
    if (ev->seq > st->pending.top_seq)
        st->pending.top_seq = ev->seq;
    st->pending.keyed += type != FP_WAL_EVENT;
    st->pending.copy_bytes += copy ? st->buf.len - before : 0;
    st->copies += copy;
}

/*  Empty the batch buffer.  */
static void
s_clear(broker_store_t *st)
{
    fp_buf_reset(&st->buf);
    memset(&st->pending, 0, sizeof st->pending);
    st->records_pending = 0;
    st->must_sync = false;
}

/*  Forget the buffered records (after a failure).  */
static void
s_discard(broker_store_t *st)
{
    st->res_added = st->res_written;
    s_clear(st);
}

/*  Fill err with what failed on the active segment; counts the error and
 *  keeps it as the store's problem until a batch is written again.  */
static int
s_error(broker_store_t *st, const char *what, char *err)
{
    char path[4096];
    broker_seg_path(st->path, s_active(st)->no, "", path, sizeof path);
    snprintf(err, FP_ERR_LEN, "store: cannot %s %s: %s", what, path,
             strerror(errno));
    snprintf(st->problem, sizeof st->problem, "%s", err);
    st->errors++;
    return -1;
}

/*  Cut the active segment back to what was there before a failed write
 *  or fsync.  Until this works, the store refuses every batch.  */
static void
s_undo(broker_store_t *st)
{
    int saved = errno;
    st->broken = ftruncate(st->fd, (off_t) s_active(st)->bytes) < 0;
    errno = saved;
}

/*  write() the batch buffer to the active segment; on failure the file
 *  is cut back.  */
static int
s_write(broker_store_t *st, char *err)
{
    if (st->broken) {
        s_undo(st);
        if (st->broken)
            return s_error(st, "repair", err);
    }
    if (broker_seg_write(st->fd, st->buf.data, st->buf.len) < 0) {
        s_error(st, "write to", err);
        s_undo(st);
        return -1;
    }
    return 0;
}

/*  Bookkeeping after a successful fsync.  */
static void
s_synced(broker_store_t *st)
{
    st->dirty = false;
    st->res_synced = st->res_written;
    st->fsyncs++;
    st->last_fsync = fp_clock_wall_ms();
}

/*  fdatasync the active segment.  */
static int
s_sync(broker_store_t *st, char *err)
{
    if (fdatasync(st->fd) < 0)
        return s_error(st, "fsync", err);
    s_synced(st);
    return 0;
}

/*  The buffer went to the file: count it into the active segment.  */
static void
s_written(broker_store_t *st)
{
    broker_seg_t *seg = s_active(st);
    if (st->pending.max_seq > seg->max_seq)
        seg->max_seq = st->pending.max_seq;
    if (st->pending.max_seq > st->top_seq)
        st->top_seq = st->pending.max_seq;
    if (st->pending.top_seq > seg->top_seq)
        seg->top_seq = st->pending.top_seq;
    seg->keyed += st->pending.keyed;
    seg->copy_bytes += st->pending.copy_bytes;
    seg->bytes += st->buf.len;
    st->bytes += st->buf.len;
    st->records += st->records_pending;
    st->res_written = st->res_added;
    st->dirty = st->dirty || st->buf.len > 0;
    s_clear(st);
}

/*  Start a new segment once the active one holds segment_bytes of new
 *  data (compaction copies do not count, so copying cannot cascade).  */
static void
s_maybe_roll(broker_store_t *st)
{
    char err[FP_ERR_LEN];
    broker_seg_t *seg = s_active(st);

    if (seg->bytes - seg->copy_bytes < st->segment_bytes)
        return;
    if (st->dirty && st->policy != BROKER_FSYNC_NO && s_sync(st, err) < 0) {
        fp_log_warnx("%s", err);
        return;
    }
    if (s_new_segment(st, err) < 0) {
        st->errors++;
        if (fp_log_limit_ok(&s_roll_log))
            fp_log_warnx("%s (still appending to the full segment)", err);
    }
}

/*  Write the batch's records; fsync when `sync`, when store-fsync is
 *  always, or when the batch uses SEQs beyond the durable reservation.
 *  On failure the file is cut back and the batch forgotten: -1 with err,
 *  and the caller refuses the batch.  */
int
broker_store_flush(broker_store_t *st, bool sync, char *err)
{
    if (st->buf.len == 0 && (!sync || !st->dirty))
        return 0;
    bool need = sync || st->must_sync || st->policy == BROKER_FSYNC_ALWAYS;
    if (s_write(st, err) < 0) {
        s_discard(st);
        return -1;
    }
    if (need && fdatasync(st->fd) < 0) {
        s_error(st, "fsync", err);
        s_undo(st);
        s_discard(st);
        return -1;
    }
    st->problem[0] = '\0';
    s_written(st);
    if (need)
        s_synced(st);
    s_maybe_roll(st);
    return 0;
}

/*  The oldest segment if it is not the active one (borrowed), else NULL.  */
const broker_seg_t *
broker_store_oldest(const broker_store_t *st)
{
    return st->nsegs > 1 ? &st->segs[0] : NULL;
}

/*  Walk the oldest segment's records (read-only; damage is logged and
 *  reported to fn).  -1 if it cannot be read.  */
int
broker_store_scan_oldest(broker_store_t *st, broker_scan_fn *fn, void *arg)
{
    char err[FP_ERR_LEN];
    broker_seg_t copy = st->segs[0];
    if (broker_seg_scan(st->path, &copy, false, fn, arg, err) < 0) {
        fp_log_warnx("%s", err);
        return -1;
    }
    return 0;
}

/*  Delete the oldest segment (retain.c decided it is not needed).  */
int
broker_store_drop_oldest(broker_store_t *st)
{
    char path[4096];
    broker_seg_path(st->path, st->segs[0].no, "", path, sizeof path);
    if (unlink(path) < 0 && errno != ENOENT) {
        fp_log_warn("store: cannot delete %s", path);
        st->errors++;
        return -1;
    }
    fp_log_debug("store: deleted %s", path);
    st->bytes -= st->segs[0].bytes;
    st->deleted++;
    memmove(&st->segs[0], &st->segs[1], --st->nsegs * sizeof *st->segs);
    return 0;
}

/*  Once a second: fsync under everysec, then retention.  */
int
broker_store_on_timer(zloop_t *loop, int timer_id, void *arg)
{
    broker_t *b = arg;
    broker_store_t *st = b->store;
    char err[FP_ERR_LEN];

    if (st->policy == BROKER_FSYNC_EVERYSEC && st->dirty &&
        s_sync(st, err) < 0)
        fp_log_error("%s: acknowledged events may be lost", err);
    broker_retain(b);
    return 0;
}

/*  What keeps the store from taking events now (the last write or fsync
 *  failed; borrowed), or NULL when the last one worked.  */
const char *
broker_store_problem(const broker_store_t *st)
{
    return st->problem[0] ? st->problem : NULL;
}

/*  The store's figures for STATS; caller owns the object.  */
json_t *
broker_store_json(const broker_store_t *st)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                     " s:I, s:I, s:I}",
                     "path", st->path, "fsync", s_policies[st->policy],
                     "bytes", (json_int_t) st->bytes,
                     "segments", (json_int_t) st->nsegs,
                     "segment_bytes", (json_int_t) st->segment_bytes,
                     "records", (json_int_t) st->records,
                     "fsyncs", (json_int_t) st->fsyncs,
                     "last_fsync_ms", (json_int_t) st->last_fsync,
                     "errors", (json_int_t) st->errors,
                     "reserved_upto", (json_int_t) st->res_written,
                     "lost_upto", (json_int_t) st->lost_upto,
                     "compacted", (json_int_t) st->copies,
                     "segments_deleted", (json_int_t) st->deleted);
}

/*  Orderly stop: release the reservation down to `seq` (the head), so
 *  the next start continues right after it, and fsync.  */
void
broker_store_close(broker_store_t **st_p, uint64_t seq)
{
    broker_store_t *st = *st_p;
    char err[FP_ERR_LEN];

    if (!st)
        return;
    *st_p = NULL;
    if (st->fd >= 0) {
        s_reserve(st, seq, true);
        if (broker_store_flush(st, true, err) < 0)
            fp_log_error("%s", err);
        close(st->fd);
    }
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    fp_buf_free(&st->buf);
    free(st->segs);
    free(st->path);
    free(st);
}
