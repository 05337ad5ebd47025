/*  libFuzzer target for the store's record decoder (lib/wal.c):
 *  fp_wal_header_decode, fp_wal_next and fp_wal_resync as the broker
 *  walks a segment file (a corrupt store must never crash replay).
 *
 *  Input: the bytes of a segment: an 80-byte header, then records.
 *  Checks: a decoded header encodes back to the same fields; every
 *  record fp_wal_next returns lies inside the input and re-encodes (with
 *  fp_wal_add) to the same bytes; resync always moves forward and stops
 *  at a record that decodes or at the end; the walk ends.
 */
#include "buf.h"
#include "err.h"
#include "wal.h"
#include "fuzz.h"

#include <string.h>

static void
s_check_header(const uint8_t *data, size_t size)
{
    fp_wal_header_t h;
    char err[FP_ERR_LEN];
    unsigned char again[FP_WAL_HEADER_LEN];

    int rc = fp_wal_header_decode(data, size, &h, err);
    if (rc != 0) {
        FUZZ_CHECK(rc == FP_WAL_ECORRUPT || rc == FP_WAL_EVERSION, "rc");
        return;
    }
    FUZZ_CHECK(size >= FP_WAL_HEADER_LEN, "header longer than the input");
    fp_wal_header_encode(&h, again);
    FUZZ_CHECK(memcmp(again, data, 40) == 0, "header round trip");
    FUZZ_CHECK(strncmp((const char *) again + 40, h.epoch, FP_EPOCH_MAX) == 0,
               "epoch round trip");
}

static void
s_walk(const uint8_t *data, size_t size)
{
    size_t off = 0;
    char err[FP_ERR_LEN];
    fp_wal_rec_t rec;
    fp_buf_t b;

    while (off < size) {
        int rc = fp_wal_next(data + off, size - off, &rec, err);
        if (rc == 0) {
            FUZZ_CHECK(rec.size == FP_WAL_REC_HEAD + rec.len &&
                       rec.size <= size - off, "record outside the input");
            FUZZ_CHECK(rec.type >= FP_WAL_EVENT && rec.type <= FP_WAL_RESERVE,
                       "record type");
            fp_buf_init(&b);
            fp_wal_add(&b, rec.type, rec.seq, rec.data, rec.len);
            FUZZ_CHECK(b.len == rec.size && memcmp(b.data, data + off,
                       rec.size) == 0, "record round trip");
            fp_buf_free(&b);
            off += rec.size;
            continue;
        }
        FUZZ_CHECK(rc == FP_WAL_ECORRUPT || rc == FP_WAL_ESHORT, "rc");
        size_t next = fp_wal_resync(data, size, off + 1);
        FUZZ_CHECK(next > off && next <= size, "resync does not move on");
        if (next < size)
            FUZZ_CHECK(fp_wal_next(data + next, size - next, &rec, err) == 0,
                       "resync stopped at no record");
        off = next;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);   /*  exact bounds for ASan  */
    memcpy(copy, data, size);
    s_check_header(copy, size);
    if (size > FP_WAL_HEADER_LEN)
        s_walk(copy + FP_WAL_HEADER_LEN, size - FP_WAL_HEADER_LEN);
    s_walk(copy, size);
    free(copy);
    return 0;
}
