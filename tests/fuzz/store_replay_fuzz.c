/*  libFuzzer target for the broker's store replay (broker/store.c and
 *  broker/segment.c: broker_store_open reads the segment headers,
 *  broker_store_replay walks the records, skips damage, truncates a
 *  torn tail and sets aside a segment with a bad header).  A corrupt
 *  store must never crash replay.
 *
 *  Input: the bytes of one segment file, written as segment 1 of a store
 *  directory made for this process.  The record callback does what
 *  broker/replay.c does with a record: parse the event (fp_event_parse)
 *  and refuse it when its SEQ is not the record's.  Checks: the store
 *  opens or refuses with a reason; replay returns; every record handed
 *  over lies inside the file; after a truncation the file is no longer
 *  than the input.
 */
#include "broker.h"
#include "err.h"
#include "log.h"
#include "fuzz.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char s_dir[256];
static size_t s_size;

/*  Compaction (broker/retain.c) is not reached by open, replay and
 *  close; store.c names it, so it stands here.  */
void
broker_retain(broker_t *b)
{
    abort();
}

static int
s_record(void *arg, const fp_wal_rec_t *rec)
{
    char err[FP_ERR_LEN];

    if (!rec)
        return 0;               /*  damage was counted  */
    FUZZ_CHECK(rec->size <= s_size && rec->len < rec->size, "record size");
    if (rec->type == FP_WAL_RESERVE)
        return 0;
    fp_event_t *ev = fp_event_parse(rec->data, rec->len, err);
    int rc = ev && ev->seq == rec->seq && (rec->type == FP_WAL_EVENT) ==
             (ev->key == NULL) ? 0 : -1;
    fp_event_unref(&ev);
    return rc;
}

static void
s_clean(void)
{
    char path[512];
    const char *names[] = { "00000000000000000001.seg",
                            "00000000000000000001.seg.corrupt", "LOCK" };
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", s_dir, names[i]);
        unlink(path);
    }
}

static void
s_setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(s_dir, sizeof s_dir, "%s/fpfuzz-store-%d", tmp && *tmp ? tmp
             : "/tmp", (int) getpid());
    FUZZ_CHECK(mkdir(s_dir, 0700) == 0, "cannot make the store directory");
    fp_log_init("store_replay_fuzz", fp_log_level_parse("error"));
    atexit(s_clean);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512], epoch[FP_EPOCH_MAX + 1], err[FP_ERR_LEN] = "";
    broker_conf_t conf = { .store_fsync = BROKER_FSYNC_NO,
                           .store_segment_bytes = 1 << 20 };
    struct stat sb;

    if (!s_dir[0])
        s_setup();
    snprintf(path, sizeof path, "%s/00000000000000000001.seg", s_dir);
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f && fwrite(data, 1, size, f) == size && fclose(f) == 0,
               "cannot write the segment");
    s_size = size;
    conf.store = s_dir;
    broker_store_t *st = broker_store_open(&conf, epoch, err);
    if (st) {
        FUZZ_CHECK(fp_epoch_valid(epoch), "store epoch");
        int n = broker_store_replay(st, s_record, NULL, err);
        FUZZ_CHECK(n >= 0 && n <= 1, "replay result");
        if (n == 1) {
            FUZZ_CHECK(stat(path, &sb) == 0 && (size_t) sb.st_size <= size,
                       "segment grew");
            (void) broker_store_base(st);
        }
        broker_store_close(&st, 0);
    } else {
        FUZZ_CHECK(err[0], "refusal without a reason");
    }
    s_clean();
    rmdir(s_dir);
    FUZZ_CHECK(mkdir(s_dir, 0700) == 0, "cannot make the store directory");
    return 0;
}
