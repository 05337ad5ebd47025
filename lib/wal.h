/*  wal: the on-disk format of the broker's durable log.
 *
 *  The log is a directory of segment files.  Each segment starts with a
 *  header of FP_WAL_HEADER_LEN bytes:
 *
 *      0   8  magic "FPSTORE\n"
 *      8   4  format version (FP_WAL_VERSION)
 *      12  4  header length (80)
 *      16  8  segment number (also the file name)
 *      24  8  prior SEQ: the newest SEQ assigned before the segment began
 *      32  8  creation time, ms since 1970
 *      40 32  epoch, NUL-padded
 *      72  4  zero
 *      76  4  CRC-32 of bytes 0..75
 *
 *  then records, each FP_WAL_REC_HEAD bytes of header and a payload:
 *
 *      0   2  0xFE 0xFF (bytes that UTF-8 text never holds)
 *      2   1  type (FP_WAL_EVENT ...)
 *      3   1  zero
 *      4   4  payload length
 *      8   8  SEQ (of the event; of the reservation for FP_WAL_RESERVE)
 *      16  4  CRC-32 of bytes 0..15 and the payload
 *
 *  Every payload is UTF-8 text (event JSON, or a reservation line), so the
 *  two marker bytes only ever start a record: after damage, the next valid
 *  record is found by looking for them and checking length and CRC.
 *  Integers are little-endian.  The CRC is zlib's crc32.
 */
#ifndef FP_WAL_H
#define FP_WAL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cursor.h"

#define FP_WAL_VERSION 1
#define FP_WAL_HEADER_LEN 80
#define FP_WAL_REC_HEAD 20
#define FP_WAL_MAX_PAYLOAD ((64u << 20) + (64u << 10))

/*  Record types.  */
enum {
    FP_WAL_EVENT = 1,           /*  an accepted event without key  */
    FP_WAL_KEYED = 2,           /*  an accepted event with a key  */
    FP_WAL_COPY = 3,            /*  a keyed event re-appended by compaction  */
    FP_WAL_RESERVE = 4          /*  SEQs reserved up to `seq`  */
};

/*  Results of the decoders besides 0.  */
#define FP_WAL_ECORRUPT -1      /*  not valid here (err says why)  */
#define FP_WAL_ESHORT -2        /*  the bytes end inside the record  */
#define FP_WAL_EVERSION -3      /*  a header of a newer format version  */

typedef struct {
    uint32_t version;
    uint64_t segno;             /*  segment number  */
    uint64_t prior_seq;         /*  newest SEQ before the segment began  */
    int64_t created;            /*  ms since 1970  */
    char epoch[FP_EPOCH_MAX + 1];
} fp_wal_header_t;

typedef struct {
    int type;                   /*  FP_WAL_EVENT ...  */
    uint64_t seq;
    const char *data;           /*  payload, borrowed from the buffer  */
    size_t len;                 /*  payload bytes  */
    size_t size;                /*  header and payload bytes  */
} fp_wal_rec_t;

/*  Write the segment header h into out (version FP_WAL_VERSION).  */
void fp_wal_header_encode(const fp_wal_header_t *h,
                          unsigned char out[FP_WAL_HEADER_LEN]);

/*  Read a segment header from the first len bytes of buf.  Returns 0,
 *  FP_WAL_EVERSION (h->version says which) or FP_WAL_ECORRUPT, with a
 *  reason in err (FP_ERR_LEN bytes).  */
int fp_wal_header_decode(const void *buf, size_t len, fp_wal_header_t *h,
                         char *err);

/*  Append one record to out.  */
void fp_wal_add(fp_buf_t *out, int type, uint64_t seq, const char *data,
                size_t len);

/*  Read the record at the start of buf (len bytes available) into rec,
 *  whose data points into buf.  Returns 0, FP_WAL_ESHORT or
 *  FP_WAL_ECORRUPT with a reason in err.  */
int fp_wal_next(const void *buf, size_t len, fp_wal_rec_t *rec, char *err);

/*  Offset of the first valid record at or after `from` in buf, or len if
 *  there is none.  */
size_t fp_wal_resync(const void *buf, size_t len, size_t from);

#endif
