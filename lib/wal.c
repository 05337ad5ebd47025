/*  wal: the on-disk format of the broker's durable log (see wal.h).  */
#include "wal.h"
#include "conf.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

static const char s_magic[8] = { 'F', 'P', 'S', 'T', 'O', 'R', 'E', '\n' };

/*  Little-endian integers in and out.  */
static void
s_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char) (v >> (8 * i));
}

static void
s_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char) (v >> (8 * i));
}

static uint32_t
s_get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t
s_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t
s_crc(uint32_t crc, const void *p, size_t len)
{
    return (uint32_t) crc32(crc, p, (uInt) len);
}

void
fp_wal_header_encode(const fp_wal_header_t *h,
                     unsigned char out[FP_WAL_HEADER_LEN])
{
    memset(out, 0, FP_WAL_HEADER_LEN);
    memcpy(out, s_magic, sizeof s_magic);
    s_put32(out + 8, FP_WAL_VERSION);
    s_put32(out + 12, FP_WAL_HEADER_LEN);
    s_put64(out + 16, h->segno);
    s_put64(out + 24, h->prior_seq);
    s_put64(out + 32, (uint64_t) h->created);
    memcpy(out + 40, h->epoch, strnlen(h->epoch, FP_EPOCH_MAX));
    s_put32(out + 76, s_crc(0, out, 76));
}

/*  err = why; returns FP_WAL_ECORRUPT.  */
static int
s_corrupt(char *err, const char *why)
{
    snprintf(err, FP_ERR_LEN, "%s", why);
    return FP_WAL_ECORRUPT;
}

int
fp_wal_header_decode(const void *buf, size_t len, fp_wal_header_t *h,
                     char *err)
{
    const unsigned char *p = buf;

    memset(h, 0, sizeof *h);
    if (len < 16 || memcmp(p, s_magic, sizeof s_magic) != 0)
        return s_corrupt(err, "not a fastpush store segment (bad magic)");
    h->version = s_get32(p + 8);
    if (h->version > FP_WAL_VERSION) {
        snprintf(err, FP_ERR_LEN, "written by store format version %u; "
                 "this broker reads format version %d and older",
                 (unsigned) h->version, FP_WAL_VERSION);
        return FP_WAL_EVERSION;
    }
    if (h->version == 0 || s_get32(p + 12) != FP_WAL_HEADER_LEN ||
        len < FP_WAL_HEADER_LEN)
        return s_corrupt(err, "segment header is truncated or malformed");
    if (s_get32(p + 76) != s_crc(0, p, 76))
        return s_corrupt(err, "segment header CRC mismatch");
    h->segno = s_get64(p + 16);
    h->prior_seq = s_get64(p + 24);
    h->created = (int64_t) s_get64(p + 32);
    memcpy(h->epoch, p + 40, FP_EPOCH_MAX);
    h->epoch[FP_EPOCH_MAX] = '\0';
    if (!fp_epoch_valid(h->epoch))
        return s_corrupt(err, "segment header holds an invalid epoch");
    return 0;
}

void
fp_wal_add(fp_buf_t *out, int type, uint64_t seq, const char *data,
           size_t len)
{
    unsigned char head[FP_WAL_REC_HEAD];

    head[0] = 0xFE;
    head[1] = 0xFF;
    head[2] = (unsigned char) type;
    head[3] = 0;
    s_put32(head + 4, (uint32_t) len);
    s_put64(head + 8, seq);
    s_put32(head + 16, s_crc(s_crc(0, head, 16), data, len));
    fp_buf_reserve(out, sizeof head + len);
    fp_buf_add(out, head, sizeof head);
    fp_buf_add(out, data, len);
}

int
fp_wal_next(const void *buf, size_t len, fp_wal_rec_t *rec, char *err)
{
    const unsigned char *p = buf;

    if (len < FP_WAL_REC_HEAD) {
        if ((len >= 1 && p[0] != 0xFE) || (len >= 2 && p[1] != 0xFF))
            return s_corrupt(err, "no record marker");
        snprintf(err, FP_ERR_LEN, "partial record header (%zu bytes)", len);
        return FP_WAL_ESHORT;
    }
    if (p[0] != 0xFE || p[1] != 0xFF)
        return s_corrupt(err, "no record marker");
    if (p[2] < FP_WAL_EVENT || p[2] > FP_WAL_RESERVE || p[3] != 0)
        return s_corrupt(err, "unknown record type");
    uint32_t n = s_get32(p + 4);
    if (n > FP_WAL_MAX_PAYLOAD)
        return s_corrupt(err, "record length out of range");
    if (len - FP_WAL_REC_HEAD < n) {
        snprintf(err, FP_ERR_LEN, "partial record (%zu of %zu bytes)", len,
                 (size_t) n + FP_WAL_REC_HEAD);
        return FP_WAL_ESHORT;
    }
    if (s_get32(p + 16) != s_crc(s_crc(0, p, 16), p + FP_WAL_REC_HEAD, n))
        return s_corrupt(err, "record CRC mismatch");
    rec->type = p[2];
    rec->seq = s_get64(p + 8);
    rec->data = (const char *) p + FP_WAL_REC_HEAD;
    rec->len = n;
    rec->size = FP_WAL_REC_HEAD + (size_t) n;
    return 0;
}

size_t
fp_wal_resync(const void *buf, size_t len, size_t from)
{
    const unsigned char *p = buf;
    char err[FP_ERR_LEN];
    fp_wal_rec_t rec;

    while (from < len) {
        const unsigned char *m = memchr(p + from, 0xFE, len - from);
        if (!m)
            return len;
        from = (size_t) (m - p);
        if (fp_wal_next(m, len - from, &rec, err) == 0)
            return from;
        from++;
    }
    return len;
}

#ifdef FP_TEST
#include "test.h"

static void
s_test_header(void)
{
    char err[FP_ERR_LEN];
    unsigned char raw[FP_WAL_HEADER_LEN];
    fp_wal_header_t h = { 0 }, back;

    h.segno = 7;
    h.prior_seq = 1234;
    h.created = 1700000000000;
    strcpy(h.epoch, "abc123");
    fp_wal_header_encode(&h, raw);
    FP_CHECK(fp_wal_header_decode(raw, sizeof raw, &back, err) == 0 &&
             back.segno == 7 && back.prior_seq == 1234 &&
             back.version == FP_WAL_VERSION &&
             strcmp(back.epoch, "abc123") == 0, "header round trip");
    FP_CHECK(fp_wal_header_decode(raw, 40, &back, err) == FP_WAL_ECORRUPT,
             "short header");
    raw[50] ^= 1;
    FP_CHECK(fp_wal_header_decode(raw, sizeof raw, &back, err) ==
             FP_WAL_ECORRUPT && strstr(err, "CRC"), "header CRC");
    raw[8] = 2;
    FP_CHECK(fp_wal_header_decode(raw, sizeof raw, &back, err) ==
             FP_WAL_EVERSION && back.version == 2 && strstr(err, "version 2"),
             "future version");
    raw[0] = 'X';
    FP_CHECK(fp_wal_header_decode(raw, sizeof raw, &back, err) ==
             FP_WAL_ECORRUPT, "bad magic");
}

static void
s_test_records(void)
{
    char err[FP_ERR_LEN];
    fp_buf_t b;
    fp_wal_rec_t r;

    fp_buf_init(&b);
    fp_wal_add(&b, FP_WAL_EVENT, 5, "{\"a\":1}", 7);
    size_t first = b.len;
    fp_wal_add(&b, FP_WAL_KEYED, 6, "{\"b\":2}", 7);
    fp_wal_add(&b, FP_WAL_RESERVE, 100, "lost 0", 6);
    FP_CHECK(fp_wal_next(b.data, b.len, &r, err) == 0 && r.type ==
             FP_WAL_EVENT && r.seq == 5 && r.len == 7 && r.size == first &&
             memcmp(r.data, "{\"a\":1}", 7) == 0, "record round trip");
    FP_CHECK(fp_wal_next(b.data, first - 1, &r, err) == FP_WAL_ESHORT,
             "torn record");
    FP_CHECK(fp_wal_next(b.data, 5, &r, err) == FP_WAL_ESHORT,
             "torn header");
    b.data[first + FP_WAL_REC_HEAD + 2] ^= 0x20;
    FP_CHECK(fp_wal_next(b.data + first, b.len - first, &r, err) ==
             FP_WAL_ECORRUPT && strstr(err, "CRC"), "flipped payload byte");
    FP_CHECK(fp_wal_resync(b.data, b.len, first + 1) > first &&
             fp_wal_next(b.data + fp_wal_resync(b.data, b.len, first + 1),
                         b.len - fp_wal_resync(b.data, b.len, first + 1), &r,
                         err) == 0 && r.type == FP_WAL_RESERVE &&
             r.seq == 100, "resync skips the damaged record");
    FP_CHECK(fp_wal_resync(b.data, b.len - 1, first + 1) == b.len - 1,
             "resync finds nothing in a torn tail");
    char zeros[64] = { 0 };
    FP_CHECK(fp_wal_next(zeros, sizeof zeros, &r, err) == FP_WAL_ECORRUPT &&
             fp_wal_resync(zeros, sizeof zeros, 0) == sizeof zeros,
             "zeros are not records");
    fp_buf_free(&b);
}

void
fp_wal_test(void)
{
    s_test_header();
    s_test_records();
}
#endif
