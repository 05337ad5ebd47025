/*  segment: one file of the durable log, STORE/NNNNNNNNNNNNNNNNNNNN.seg.
 *
 *  A segment is created whole or not at all: header and first records go
 *  to NAME.seg.tmp, which is fsynced and renamed, and the directory is
 *  fsynced.  Reading maps the file and walks its records (common/wal.c).
 *  Damage is reported here, with the file and byte offset:
 *
 *  - a record that fails its checks is skipped up to the next valid
 *    record (found by its marker, length and CRC), and the caller's
 *    function is told (rec NULL) so it can account for what was lost;
 *  - in the newest segment (`tail`), damage with no valid record after it
 *    is a torn tail: the file is truncated at the last good record.  A
 *    tail that merely ends inside a record (a write cut short) is not
 *    damage; anything else there is.
 */
#include "broker.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    const char *name;           /*  file path, for messages  */
    const char *data;           /*  mapped file  */
    size_t len;
    bool tail;                  /*  the newest segment  */
    broker_seg_t *seg;
    broker_scan_fn *fn;
    void *arg;
    size_t truncate_at;         /*  torn tail found here, or len  */
} scan_t;

/*  DIR/NNNNNNNNNNNNNNNNNNNN.seg plus suffix into out.  */
void
broker_seg_path(const char *dir, uint64_t no, const char *suffix, char *out,
                size_t len)
{
    snprintf(out, len, "%s/%020llu.seg%s", dir, (unsigned long long) no,
             suffix);
}

/*  err = "what path: strerror(errno)"; returns -1.  */
static int
s_fail(char *err, const char *what, const char *path)
{
    snprintf(err, FP_ERR_LEN, "%s %s: %s", what, path, strerror(errno));
    return -1;
}

int
broker_seg_write(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t) n;
    }
    return 0;
}

/*  Open path for reading and fstat it into sb.  Returns the descriptor,
 *  or -1 with err ("cannot read PATH: ...").  */
static int
s_open_read(const char *path, struct stat *sb, char *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, sb) < 0) {
        s_fail(err, "cannot read", path);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/*  fsync the directory so that a rename or a new file survives a crash.  */
static int
s_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/*  Create segment h->segno holding the header and `records`, durably.
 *  Returns its descriptor, open for appending, or -1 with err.  */
int
broker_seg_create(const char *dir, const fp_wal_header_t *h,
                  const fp_buf_t *records, char *err)
{
    char tmp[4096], path[4096];
    unsigned char head[FP_WAL_HEADER_LEN];

    broker_seg_path(dir, h->segno, ".tmp", tmp, sizeof tmp);
    broker_seg_path(dir, h->segno, "", path, sizeof path);
    fp_wal_header_encode(h, head);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC,
                  0640);
    if (fd < 0)
        return s_fail(err, "cannot create", tmp);
    if (broker_seg_write(fd, head, sizeof head) < 0 ||
        broker_seg_write(fd, records->data, records->len) < 0 ||
        fdatasync(fd) < 0 || rename(tmp, path) < 0 || s_sync_dir(dir) < 0) {
        s_fail(err, "cannot create", path);
        close(fd);
        unlink(tmp);
        return -1;
    }
    return fd;
}

/*  Read the header of segment `no` and the file size.  Returns 0,
 *  FP_WAL_ECORRUPT or FP_WAL_EVERSION with err, or -2 (FP_WAL_ESHORT)
 *  when the file cannot be read at all.  */
int
broker_seg_header(const char *dir, uint64_t no, fp_wal_header_t *h,
                  uint64_t *size, char *err)
{
    char path[4096];
    unsigned char head[FP_WAL_HEADER_LEN];
    struct stat sb;

    broker_seg_path(dir, no, "", path, sizeof path);
    int fd = s_open_read(path, &sb, err);
    if (fd < 0)
        return FP_WAL_ESHORT;
    ssize_t n = pread(fd, head, sizeof head, 0);
    close(fd);
    *size = (uint64_t) sb.st_size;
    int rc = fp_wal_header_decode(head, n > 0 ? (size_t) n : 0, h, err);
    if (rc == 0 && h->segno != no) {
        snprintf(err, FP_ERR_LEN, "header names segment %llu",
                 (unsigned long long) h->segno);
        rc = FP_WAL_ECORRUPT;
    }
    return rc;
}

/*  Count a valid record into the segment's figures.  */
static void
s_count(broker_seg_t *seg, const fp_wal_rec_t *rec)
{
    if (rec->type == FP_WAL_RESERVE)
        return;
    if (rec->type != FP_WAL_COPY && rec->seq > seg->max_seq)
        seg->max_seq = rec->seq;
    if (rec->seq > seg->top_seq)
        seg->top_seq = rec->seq;
    if (rec->type == FP_WAL_KEYED || rec->type == FP_WAL_COPY)
        seg->keyed++;
    if (rec->type == FP_WAL_COPY)
        seg->copy_bytes += rec->size;
}

/*  Damaged bytes at off: report them and return where to go on.  */
static size_t
s_damage(scan_t *s, size_t off, int rc, const char *why)
{
    size_t next = fp_wal_resync(s->data, s->len, off + 1);
    if (next == s->len && s->tail) {
        fp_log_warnx("%s: %s at byte %zu (%s): truncated there, %zu bytes "
                     "dropped", s->name, rc == FP_WAL_ESHORT ? "torn tail"
                     : "damaged tail", off, why, s->len - off);
        s->truncate_at = off;
        if (rc != FP_WAL_ESHORT)
            s->fn(s->arg, NULL);
        return next;
    }
    fp_log_warnx("%s: corrupt record at byte %zu (%s): skipped %zu bytes "
                 "%s", s->name, off, why, next - off,
                 next == s->len ? "to the end of the segment"
                                : "to the next valid record");
    s->fn(s->arg, NULL);
    return next;
}

/*  Hand every record after the header to s->fn; skip damage.  */
static void
s_walk(scan_t *s)
{
    char why[FP_ERR_LEN];
    fp_wal_rec_t rec;
    size_t off = FP_WAL_HEADER_LEN;

    while (off < s->len) {
        int rc = fp_wal_next(s->data + off, s->len - off, &rec, why);
        if (rc < 0) {
            off = s_damage(s, off, rc, why);
            continue;
        }
        if (s->fn(s->arg, &rec) < 0) {
            snprintf(why, sizeof why, "record %llu of type %d is not valid "
                     "here", (unsigned long long) rec.seq, rec.type);
            fp_log_warnx("%s: bad record at byte %zu (%s): skipped %zu "
                         "bytes", s->name, off, why, rec.size);
            s->fn(s->arg, NULL);
        } else {
            s_count(s->seg, &rec);
        }
        off += rec.size;
    }
}

/*  Walk every record of seg, calling fn.  The segment's figures (max_seq,
 *  keyed, bytes ...) are recomputed.  With `tail`, a torn or damaged end
 *  is truncated.  Returns 0, or -1 with err if the file cannot be read.  */
int
broker_seg_scan(const char *dir, broker_seg_t *seg, bool tail,
                broker_scan_fn *fn, void *arg, char *err)
{
    char path[4096];
    struct stat sb;

    broker_seg_path(dir, seg->no, "", path, sizeof path);
    int fd = s_open_read(path, &sb, err);
    if (fd < 0)
        return -1;
    scan_t s = { path, NULL, (size_t) sb.st_size, tail, seg, fn, arg,
                 (size_t) sb.st_size };
    void *map = s.len ? mmap(NULL, s.len, PROT_READ, MAP_PRIVATE, fd, 0)
                      : MAP_FAILED;
    close(fd);
    if (map == MAP_FAILED)
        return s_fail(err, "cannot map", path);
    madvise(map, s.len, MADV_SEQUENTIAL);
    s.data = map;
    seg->max_seq = seg->top_seq = seg->keyed = seg->copy_bytes = 0;
    s_walk(&s);
    munmap(map, s.len);
    seg->bytes = s.truncate_at;
    if (s.truncate_at < s.len && truncate(path, (off_t) s.truncate_at) < 0)
        return s_fail(err, "cannot truncate", path);
    return 0;
}
