/*  deflate: permessage-deflate (RFC 7692), negotiated without context
 *  takeover either way.
 *
 *  The bridge answers an acceptable offer with server_no_context_takeover
 *  and client_no_context_takeover: every message is compressed on its
 *  own, both ways.  So an event is compressed once per worker and the
 *  same frame goes to every subscriber that negotiated the extension (the
 *  way sub.c shares plain frames), and a connection keeps no zlib state:
 *  one deflate and one inflate stream per worker serve all of them.  A
 *  message that does not get smaller goes out uncompressed (RSV1 is per
 *  message).  Client messages are inflated whole, once assembled, into a
 *  buffer bounded by max-message: the limit holds for what a message
 *  inflates to, not only for its compressed size.
 *
 *  zlib does the compression (RFC 1951 raw streams, Z_SYNC_FLUSH, the
 *  four-byte 00 00 ff ff tail removed and put back, RFC 7692 7.2).
 */
#include "wsb.h"
#include "err.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

struct wsb_deflate {
    z_stream d;                 /*  compresses events  */
    z_stream i;                 /*  inflates client messages  */
    fp_buf_t out;               /*  the last result of either  */
};

static const uint8_t s_tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* ------------------------------------------------------------ the offer */

enum {
    S_SERVER_NCT = 1, S_CLIENT_NCT = 2, S_SERVER_BITS = 4, S_CLIENT_BITS = 8
};

/*  Length of the RFC 7230 token at p (0 if none).  */
static size_t
s_token(const char *p)
{
    size_t n = 0;
    while (p[n] > ' ' && p[n] < 127 && !strchr("\"(),/:;<=>?@[\\]{}", p[n]))
        n++;
    return n;
}

static const char *
s_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static bool
s_is(const char *p, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(p, word, n) == 0;
}

/*  A parameter value: a token or a quoted string, copied to val (cut at
 *  its size, which no valid value reaches).  Returns the end, or NULL.  */
static const char *
s_value(const char *p, char *val, size_t size)
{
    size_t k = 0;
    if (*p != '"') {
        size_t n = s_token(p);
        if (!n)
            return NULL;
        for (size_t j = 0; j < n; j++)
            if (k + 1 < size)
                val[k++] = p[j];
        val[k] = '\0';
        return p + n;
    }
    for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && !*++p)
            return NULL;
        if (k + 1 < size)
            val[k++] = *p;
    }
    val[k] = '\0';
    return *p == '"' ? p + 1 : NULL;
}

/*  Window bits 8..15 (RFC 7692 7.1.2): digits only, no leading zero.  */
static int
s_bits(const char *v)
{
    if (!v || !*v || *v == '0' || strlen(v) > 2 ||
        strspn(v, "0123456789") != strlen(v))
        return -1;
    int b = atoi(v);
    return b >= 8 && b <= 15 ? b : -1;
}

/*  One parameter of a permessage-deflate offer; false when the offer
 *  cannot be accepted (unknown, repeated, a bad value, or a server
 *  window under 15: events are compressed with one 15-bit window for
 *  every connection).  */
static bool
s_param(const char *name, size_t n, const char *val, unsigned *seen)
{
    unsigned bit;
    bool ok;
    if (s_is(name, n, "server_no_context_takeover"))
        bit = S_SERVER_NCT, ok = !val;
    else if (s_is(name, n, "client_no_context_takeover"))
        bit = S_CLIENT_NCT, ok = !val;
    else if (s_is(name, n, "server_max_window_bits"))
        bit = S_SERVER_BITS, ok = s_bits(val) == 15;
    else if (s_is(name, n, "client_max_window_bits"))
        bit = S_CLIENT_BITS, ok = !val || s_bits(val) > 0;
    else
        return false;
    if (*seen & bit)
        return false;
    *seen |= bit;
    return ok;
}

/*  One extension of the list at p: sets *ok when it is an acceptable
 *  permessage-deflate offer.  Returns the end, or NULL if malformed.  */
static const char *
s_extension(const char *p, bool *ok)
{
    size_t n = s_token(p);
    unsigned seen = 0;
    char val[32];

    if (!n)
        return NULL;
    *ok = s_is(p, n, "permessage-deflate");
    for (p = s_ows(p + n); *p == ';'; p = s_ows(p)) {
        const char *name = s_ows(p + 1);
        n = s_token(name);
        if (!n)
            return NULL;
        p = s_ows(name + n);
        const char *v = NULL;
        if (*p == '=') {
            if (!(p = s_value(s_ows(p + 1), val, sizeof val)))
                return NULL;
            v = val;
        }
        *ok = *ok && s_param(name, n, v, &seen);
    }
    return p;
}

bool
wsb_deflate_offer(const char *value)
{
    const char *p = s_ows(value);
    while (*p) {
        bool ok = false;
        if (*p == ',') {
            p = s_ows(p + 1);
            continue;
        }
        if (!(p = s_extension(p, &ok)) || (*p && *p != ','))
            return false;
        if (ok)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ streams */

wsb_deflate_t *
wsb_deflate_new(int level, char *err)
{
    wsb_deflate_t *z = fp_calloc(1, sizeof *z);
    fp_buf_init(&z->out);
    if (deflateInit2(&z->d, level, Z_DEFLATED, -15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        free(z);
        snprintf(err, FP_ERR_LEN, "zlib: deflateInit2 failed");
        return NULL;
    }
    if (inflateInit2(&z->i, -15) != Z_OK) {
        deflateEnd(&z->d);
        free(z);
        snprintf(err, FP_ERR_LEN, "zlib: inflateInit2 failed");
        return NULL;
    }
    return z;
}

void
wsb_deflate_destroy(wsb_deflate_t **z_p)
{
    wsb_deflate_t *z = *z_p;
    if (!z)
        return;
    deflateEnd(&z->d);
    inflateEnd(&z->i);
    fp_buf_free(&z->out);
    free(z);
    *z_p = NULL;
}

/*  Run deflate over data into z->out after `room` bytes left for the
 *  frame header; -1 on a zlib error.  */
static int
s_compress(wsb_deflate_t *z, const void *data, size_t len, size_t room)
{
    fp_buf_reset(&z->out);
    fp_buf_reserve(&z->out, room + deflateBound(&z->d, len) + 16);
    z->out.len = room;
    deflateReset(&z->d);
    z->d.next_in = (Bytef *) data;
    z->d.avail_in = (uInt) len;
    for (;;) {
        z->d.next_out = (Bytef *) z->out.data + z->out.len;
        z->d.avail_out = (uInt) (z->out.cap - z->out.len - 1);
        int rc = deflate(&z->d, Z_SYNC_FLUSH);
        z->out.len = (size_t) ((char *) z->d.next_out - z->out.data);
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -1;
        if (z->d.avail_out > 0 && z->d.avail_in == 0)
            return 0;
        fp_buf_reserve(&z->out, 4096);
    }
}

fp_blob_t *
wsb_deflate_frame(wsb_deflate_t *z, int opcode, const void *data,
                  size_t len)
{
    if (len > UINT32_MAX / 2 || s_compress(z, data, len, 10) < 0)
        return NULL;
    size_t clen = z->out.len - 10;
    if (clen >= 4 && memcmp(z->out.data + z->out.len - 4, s_tail, 4) == 0)
        clen -= 4;
    if (clen >= len)
        return NULL;            /*  not worth it: send it plain  */
    uint8_t head[10];
    size_t h = wsb_frame_head(head, opcode | WSB_FRAME_RSV1, clen);
    memcpy(z->out.data + 10 - h, head, h);
    return fp_blob_new(z->out.data + 10 - h, h + clen);
}

/*  Feed n bytes to the inflater; output goes to z->out, at most max
 *  bytes.  0, Z_STREAM_END when a final block ended the message, or a
 *  close code.  */
static int
s_inflate(wsb_deflate_t *z, const uint8_t *in, size_t n, uint64_t max)
{
    z->i.next_in = (Bytef *) in;
    z->i.avail_in = (uInt) n;
    do {
        fp_buf_reserve(&z->out, 16384);
        z->i.next_out = (Bytef *) z->out.data + z->out.len;
        z->i.avail_out = (uInt) (z->out.cap - z->out.len - 1);
        int rc = inflate(&z->i, Z_SYNC_FLUSH);
        z->out.len = (size_t) ((char *) z->i.next_out - z->out.data);
        if (max && z->out.len > max)
            return WSB_CLOSE_TOO_BIG;
        if (rc == Z_STREAM_END)
            return Z_STREAM_END;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return WSB_CLOSE_BAD_DATA;
        if (rc == Z_BUF_ERROR && z->i.avail_in > 0 && z->i.avail_out > 0)
            return WSB_CLOSE_BAD_DATA;
    } while (z->i.avail_in > 0 || z->i.avail_out == 0);
    return 0;
}

int
wsb_deflate_inflate(wsb_deflate_t *z, const uint8_t *in, size_t n,
                    uint64_t max, const uint8_t **out, size_t *outlen)
{
    fp_buf_reset(&z->out);
    inflateReset(&z->i);
    if (n > UINT32_MAX / 2)
        return WSB_CLOSE_TOO_BIG;
    int rc = s_inflate(z, in, n, max);
    if (rc == 0)
        rc = s_inflate(z, s_tail, sizeof s_tail, max);
    if (rc != 0 && rc != Z_STREAM_END)
        return rc;
    z->out.data[z->out.len] = '\0';
    *out = (const uint8_t *) z->out.data;
    *outlen = z->out.len;
    return 0;
}
