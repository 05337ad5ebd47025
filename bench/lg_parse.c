/*  lg_parse: what the load generator reads and writes on the wire, with
 *  no I/O: HTTP response heads, chunked bodies, SSE events, WebSocket
 *  frames, bench tokens, and the latency histogram.  Every parser takes
 *  the bytes in whatever pieces the network delivers them.
 */
#include "lg.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------ HTTP head */

static void
s_copy_value(char *out, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t'))
        v++, n--;
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
        n--;
    if (n >= cap)
        n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

ssize_t
lg_head_parse(const char *buf, size_t len, lg_head_t *h)
{
    const char *end = NULL;
    for (size_t i = 0; i + 1 < len; i++)
        if (buf[i] == '\n' && (buf[i + 1] == '\n' ||
            (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))) {
            end = buf + i + (buf[i + 1] == '\n' ? 2 : 3);
            break;
        }
    if (len >= 5 && strncmp(buf, "HTTP/", 5) != 0)
        return -1;
    if (!end)
        return 0;
    memset(h, 0, sizeof *h);
    h->content_length = -1;
    const char *sp = memchr(buf, ' ', (size_t) (end - buf));
    if (!sp)
        return -1;
    h->status = atoi(sp + 1);
    const char *line = memchr(buf, '\n', (size_t) (end - buf));
    line++;
    while (line < end) {
        const char *nl = memchr(line, '\n', (size_t) (end - line));
        const char *colon = memchr(line, ':', (size_t) (nl - line));
        if (colon) {
            size_t nlen = (size_t) (colon - line);
            const char *v = colon + 1;
            size_t vlen = (size_t) (nl - v);
            char val[128];
            s_copy_value(val, sizeof val, v, vlen);
            if (nlen == 17 && !strncasecmp(line, "transfer-encoding", 17))
                h->chunked = strcasestr(val, "chunked") != NULL;
            else if (nlen == 14 && !strncasecmp(line, "content-length", 14))
                h->content_length = atoll(val);
            else if (nlen == 10 && !strncasecmp(line, "connection", 10))
                h->close = strcasestr(val, "close") != NULL;
            else if (nlen == 4 && !strncasecmp(line, "etag", 4))
                snprintf(h->etag, sizeof h->etag, "%s", val);
            else if (nlen == 13 && !strncasecmp(line, "last-modified", 13))
                snprintf(h->last_modified, sizeof h->last_modified, "%s",
                         val);
            else if (nlen == 20 &&
                     !strncasecmp(line, "sec-websocket-accept", 20))
                snprintf(h->ws_accept, sizeof h->ws_accept, "%s", val);
        }
        line = nl + 1;
    }
    if (h->status == 204 || h->status == 304 || h->status / 100 == 1) {
        h->content_length = 0;      /*  no body, whatever the headers say  */
        h->chunked = false;
    }
    return end - buf;
}

/* ------------------------------------------------------------ chunked */

enum { LG_CH_SIZE, LG_CH_EXT, LG_CH_DATA, LG_CH_DATA_END, LG_CH_TRAILER };

size_t
lg_dechunk(lg_dechunk_t *d, uint8_t *p, size_t n, size_t *used)
{
    size_t in = 0, out = 0;
    while (in < n && !d->done && !d->error) {
        uint8_t c = p[in];
        switch (d->state) {
        case LG_CH_SIZE:
            if (isxdigit(c)) {
                d->left = d->left * 16 + (uint64_t) (isdigit(c) ? c - '0' :
                                                     (tolower(c) - 'a' + 10));
                in++;
            } else if (c == '\n') {
                in++;
                d->state = d->left ? LG_CH_DATA : LG_CH_TRAILER;
            } else {
                d->state = LG_CH_EXT;   /*  ; extensions, or CR  */
            }
            break;
        case LG_CH_EXT:
            in++;
            if (c == '\n')
                d->state = d->left ? LG_CH_DATA : LG_CH_TRAILER;
            break;
        case LG_CH_DATA: {
            size_t take = n - in < d->left ? n - in : (size_t) d->left;
            memmove(p + out, p + in, take);
            out += take;
            in += take;
            d->left -= take;
            if (d->left == 0)
                d->state = LG_CH_DATA_END;
            break;
        }
        case LG_CH_DATA_END:
            in++;
            if (c == '\n')
                d->state = LG_CH_SIZE;
            else if (c != '\r')
                d->error = true;
            break;
        case LG_CH_TRAILER:     /*  trailer lines until an empty one  */
            in++;
            if (c == '\n') {
                if (d->left == 0)
                    d->done = true;
                d->left = 0;
            } else if (c != '\r') {
                d->left = 1;    /*  inside a trailer line  */
            }
            break;
        }
    }
    *used = in;
    return out;
}

/* ------------------------------------------------------------ SSE */

static void
s_grow(uint8_t **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    *buf = realloc(*buf, c);
    if (!*buf)
        abort();
    *cap = c;
}

void
lg_sse_feed(lg_sse_t *s, const uint8_t *p, size_t n, lg_msg_fn *fn,
            void *arg)
{
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (c == '\r') {
            if (s->last_nl && !s->last_cr)
                goto dispatch;
            s->last_nl = true;
            s->last_cr = true;
            continue;
        }
        if (c == '\n') {
            if (s->last_cr) {           /*  CRLF: the LF adds nothing  */
                s->last_cr = false;
                if (s->len == 0 && start == i)  /*  after a dispatch  */
                    start = i + 1;
                continue;
            }
            if (s->last_nl)
                goto dispatch;
            s->last_nl = true;
            continue;
        }
        s->last_nl = s->last_cr = false;
        continue;
dispatch:
        s_grow(&s->buf, &s->cap, s->len + (i + 1 - start));
        memcpy(s->buf + s->len, p + start, i + 1 - start);
        s->len += i + 1 - start;
        fn(arg, 1, s->buf, s->len);
        s->len = 0;
        start = i + 1;
        s->last_nl = false;
        s->last_cr = c == '\r';
    }
    if (start < n) {
        s_grow(&s->buf, &s->cap, s->len + (n - start));
        memcpy(s->buf + s->len, p + start, n - start);
        s->len += n - start;
    }
}

void
lg_sse_free(lg_sse_t *s)
{
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ WebSocket */

/*  Handle one whole frame at f (header hl bytes, payload plen).  */
static void
s_ws_frame(lg_ws_t *w, const uint8_t *f, size_t hl, uint64_t plen,
           lg_msg_fn *fn, void *arg)
{
    bool fin = f[0] & 0x80;
    int op = f[0] & 0x0f;
    const uint8_t *pl = f + hl;
    if (op >= 8) {
        fn(arg, op, pl, (size_t) plen);
        return;
    }
    if (op != 0 && w->mop == 0 && fin) {        /*  the usual case  */
        fn(arg, op, pl, (size_t) plen);
        return;
    }
    if (op != 0)
        w->mop = op, w->mlen = 0;
    else if (w->mop == 0) {
        w->error = true;
        return;
    }
    s_grow(&w->msg, &w->mcap, w->mlen + plen);
    memcpy(w->msg + w->mlen, pl, (size_t) plen);
    w->mlen += (size_t) plen;
    if (fin) {
        fn(arg, w->mop, w->msg, w->mlen);
        w->mop = 0;
        w->mlen = 0;
    }
}

/*  Length of the frame at p[0..n): header in *hl, payload in *plen;
 *  returns false if the header is not complete.  */
static bool
s_ws_head(const uint8_t *p, size_t n, size_t *hl, uint64_t *plen)
{
    if (n < 2)
        return false;
    uint64_t len = p[1] & 0x7f;
    size_t h = 2 + ((p[1] & 0x80) ? 4 : 0);
    if (len == 126) {
        if (n < 4)
            return false;
        len = (uint64_t) p[2] << 8 | p[3];
        h += 2;
    } else if (len == 127) {
        if (n < 10)
            return false;
        len = 0;
        for (int i = 0; i < 8; i++)
            len = len << 8 | p[2 + i];
        h += 8;
    }
    *hl = h;
    *plen = len;
    return true;
}

void
lg_ws_feed(lg_ws_t *w, const uint8_t *p, size_t n, lg_msg_fn *fn,
           void *arg)
{
    size_t hl;
    uint64_t plen;
    if (w->error)
        return;
    /*  whole frames straight from the input while nothing is pending  */
    while (w->len == 0 && s_ws_head(p, n, &hl, &plen) && hl + plen <= n) {
        if (p[1] & 0x80) {              /*  servers must not mask  */
            w->error = true;
            return;
        }
        s_ws_frame(w, p, hl, plen, fn, arg);
        p += hl + plen;
        n -= hl + (size_t) plen;
        if (w->error)
            return;
    }
    if (n == 0)
        return;
    s_grow(&w->buf, &w->cap, w->len + n);
    memcpy(w->buf + w->len, p, n);
    w->len += n;
    size_t off = 0;
    while (s_ws_head(w->buf + off, w->len - off, &hl, &plen) &&
           hl + plen <= w->len - off) {
        if (plen > (1u << 26)) {
            w->error = true;
            return;
        }
        s_ws_frame(w, w->buf + off, hl, plen, fn, arg);
        off += hl + (size_t) plen;
    }
    memmove(w->buf, w->buf + off, w->len - off);
    w->len -= off;
}

void
lg_ws_free(lg_ws_t *w)
{
    free(w->buf);
    free(w->msg);
    memset(w, 0, sizeof *w);
}

size_t
lg_ws_frame(uint8_t *out, int op, const void *p, size_t n, uint32_t mask)
{
    size_t h = 0;
    out[h++] = (uint8_t) (0x80 | op);
    if (n < 126) {
        out[h++] = (uint8_t) (0x80 | n);
    } else if (n < 65536) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t) (n >> 8);
        out[h++] = (uint8_t) n;
    } else {
        out[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            out[h++] = (uint8_t) ((uint64_t) n >> (8 * i));
    }
    uint8_t m[4] = { (uint8_t) (mask >> 24), (uint8_t) (mask >> 16),
                     (uint8_t) (mask >> 8), (uint8_t) mask };
    memcpy(out + h, m, 4);
    h += 4;
    const uint8_t *src = p;
    for (size_t i = 0; i < n; i++)
        out[h + i] = src[i] ^ m[i & 3];
    return h + n;
}

void
lg_ws_accept(const char *key, char out[64])
{
    char in[128];
    unsigned char md[SHA_DIGEST_LENGTH];
    int n = snprintf(in, sizeof in, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11",
                     key);
    SHA1((const unsigned char *) in, (size_t) n, md);
    EVP_EncodeBlock((unsigned char *) out, md, SHA_DIGEST_LENGTH);
}

/* ------------------------------------------------------------ tokens */

static bool
s_num(const uint8_t *p, size_t n, size_t *i, uint64_t *v, char end)
{
    size_t start = *i;
    uint64_t x = 0;
    while (*i < n && p[*i] >= '0' && p[*i] <= '9')
        x = x * 10 + (uint64_t) (p[(*i)++] - '0');
    if (*i == start || *i >= n || p[*i] != end)
        return false;
    (*i)++;
    *v = x;
    return true;
}

int
lg_tok_next(const uint8_t *p, size_t n, size_t *off, lg_tok_t *t)
{
    while (*off + 3 < n) {
        const uint8_t *f = memmem(p + *off, n - *off, "FPT", 3);
        if (!f)
            break;
        size_t i = (size_t) (f - p) + 3;
        uint64_t ph, seq, ns;
        *off = i;
        if (s_num(p, n, &i, &ph, '.') && s_num(p, n, &i, &seq, '.') &&
            s_num(p, n, &i, &ns, '.') && ph < LG_MAX_PHASES) {
            t->phase = (int) ph;
            t->seq = seq;
            t->ns = (int64_t) ns;
            *off = i;
            return 1;
        }
    }
    *off = n;
    return 0;
}

size_t
lg_tok_write(char *out, size_t size, int phase, uint64_t seq, int64_t ns)
{
    int n = sprintf(out, "FPT%d.%llu.%lld.", phase, (unsigned long long) seq,
                    (long long) ns);
    while ((size_t) n < size)
        out[n++] = 'x';
    out[n] = '\0';
    return (size_t) n;
}

int
lg_json_str(const uint8_t *p, size_t n, const char *key, char *out,
            size_t cap)
{
    char pat[80];
    int pl = snprintf(pat, sizeof pat, "\"%s\"", key);
    const uint8_t *f = memmem(p, n, pat, (size_t) pl);
    if (!f)
        return -1;
    size_t i = (size_t) (f - p) + (size_t) pl;
    while (i < n && (p[i] == ' ' || p[i] == ':'))
        i++;
    bool quoted = i < n && p[i] == '"';
    i += quoted;
    size_t o = 0;
    while (i < n && o + 1 < cap &&
           (quoted ? p[i] != '"' : (p[i] != ',' && p[i] != '}' &&
                                    p[i] != ' ' && p[i] != '\n')))
        out[o++] = (char) p[i++];
    out[o] = '\0';
    return o ? 0 : -1;
}

int
lg_sse_field(const uint8_t *p, size_t n, const char *name, char *out,
             size_t cap)
{
    size_t nl = strlen(name);
    for (size_t i = 0; i < n;) {
        size_t e = i;
        while (e < n && p[e] != '\n' && p[e] != '\r')
            e++;
        if (e - i > nl && memcmp(p + i, name, nl) == 0 && p[i + nl] == ':') {
            size_t v = i + nl + 1;
            v += v < e && p[v] == ' ';
            size_t o = e - v < cap ? e - v : cap - 1;
            memcpy(out, p + v, o);
            out[o] = '\0';
            return 0;
        }
        i = e + 1;
    }
    return -1;
}

/* ------------------------------------------------------------ histogram */

int
lg_hist_bucket(uint64_t us)
{
    const uint64_t sub = 1u << LG_SUB_BITS;
    if (us < sub)
        return (int) us;
    int e = 63 - __builtin_clzll(us) - LG_SUB_BITS;     /*  >= 0  */
    int b = (int) ((e + 1) << LG_SUB_BITS) + (int) ((us >> e) - sub);
    return b < LG_HBUCKETS ? b : LG_HBUCKETS - 1;
}

uint64_t
lg_hist_value(int b)
{
    const int sub = 1 << LG_SUB_BITS;
    if (b < sub)
        return (uint64_t) b;
    int e = (b >> LG_SUB_BITS) - 1;
    uint64_t m = (uint64_t) (b & (sub - 1)) + (uint64_t) sub;
    return ((m + 1) << e) - 1;
}

uint64_t
lg_hist_count(const uint32_t *h)
{
    uint64_t n = 0;
    for (int i = 0; i < LG_HBUCKETS; i++)
        n += h[i];
    return n;
}

uint64_t
lg_hist_quantile(const uint32_t *h, double q)
{
    uint64_t total = lg_hist_count(h);
    if (total == 0)
        return 0;
    uint64_t want = (uint64_t) (q * (double) total);
    if (want >= total)
        want = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < LG_HBUCKETS; i++) {
        seen += h[i];
        if (seen > want)
            return lg_hist_value(i);
    }
    return lg_hist_value(LG_HBUCKETS - 1);
}

/* ------------------------------------------------------------ tests */
#ifdef FP_TEST
#include "test.h"

typedef struct {
    int n;
    int ops[8];
    char msgs[8][256];
} got_t;

static void
s_got(void *arg, int op, const uint8_t *p, size_t n)
{
    got_t *g = arg;
    if (g->n < 8) {
        g->ops[g->n] = op;
        snprintf(g->msgs[g->n], sizeof g->msgs[0], "%.*s", (int) n, p);
    }
    g->n++;
}

void
fp_lg_parse_test(void)
{
    /*  head  */
    lg_head_t h;
    const char *r = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                    "Transfer-Encoding: chunked\r\nETag: \"7\"\r\n\r\nxyz";
    FP_CHECK(lg_head_parse(r, 20, &h) == 0, "incomplete head");
    FP_CHECK(lg_head_parse(r, strlen(r), &h) == (ssize_t) strlen(r) - 3,
             "head length");
    FP_CHECK(h.status == 200 && h.chunked && h.content_length == -1,
             "status, chunked");
    FP_CHECK(strcmp(h.etag, "\"7\"") == 0, "etag");
    FP_CHECK(lg_head_parse("SSH-2.0", 7, &h) == -1, "not HTTP");
    r = "HTTP/1.1 304 Not Modified\nContent-Length: 0\nConnection: close\n\n";
    FP_CHECK(lg_head_parse(r, strlen(r), &h) == (ssize_t) strlen(r) &&
             h.status == 304 && h.content_length == 0 && h.close,
             "LF-only head");
    r = "HTTP/1.1 304 Not Modified\r\nETag: \"e-9\"\r\n\r\n";
    FP_CHECK(lg_head_parse(r, strlen(r), &h) == (ssize_t) strlen(r) &&
             h.content_length == 0 && !h.chunked,
             "304 without Content-Length: no body (lighttpd, nginx)");

    /*  chunked, one byte at a time and all at once  */
    const char *body = "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\n\r\nNEXT";
    uint8_t buf[64];
    lg_dechunk_t d = { 0 };
    char out[64] = "";
    size_t o = 0, used;
    for (size_t i = 0; i < strlen(body) && !d.done; i++) {
        buf[0] = (uint8_t) body[i];
        size_t k = lg_dechunk(&d, buf, 1, &used);
        memcpy(out + o, buf, k);
        o += k;
    }
    out[o] = '\0';
    FP_CHECK(d.done && strcmp(out, "hello world") == 0, "dechunk bytewise");
    memset(&d, 0, sizeof d);
    memcpy(buf, body, strlen(body));
    o = lg_dechunk(&d, buf, strlen(body), &used);
    FP_CHECK(d.done && o == 11 && memcmp(buf, "hello world", 11) == 0 &&
             used == strlen(body) - 4, "dechunk whole, leaves the rest");

    /*  SSE: LF, CRLF, split anywhere  */
    const char *sse = ": hi\n\nid: 1\ndata: a\n\nevent: x\r\ndata: b\r\n\r\n"
                      "data: c\n";
    for (size_t split = 0; split < strlen(sse); split += 7) {
        lg_sse_t s = { 0 };
        got_t g = { 0 };
        lg_sse_feed(&s, (const uint8_t *) sse, split, s_got, &g);
        lg_sse_feed(&s, (const uint8_t *) sse + split, strlen(sse) - split,
                    s_got, &g);
        FP_CHECK(g.n == 3 && strcmp(g.msgs[1], "id: 1\ndata: a\n\n") == 0 &&
                 strcmp(g.msgs[2], "event: x\r\ndata: b\r\n\r") == 0,
                 "sse events at any split");
        lg_sse_free(&s);
    }

    /*  WebSocket: encode masked, decode unmasked, fragments, control  */
    uint8_t fr[300];
    size_t fl = lg_ws_frame(fr, 1, "hello", 5, 0x01020304);
    FP_CHECK(fl == 11 && fr[0] == 0x81 && fr[1] == (0x80 | 5) &&
             (fr[6] ^ 0x01) == 'h', "masked frame");
    uint8_t in[400];
    size_t n = 0;
    in[n++] = 0x01; in[n++] = 3; memcpy(in + n, "abc", 3); n += 3;
    in[n++] = 0x89; in[n++] = 1; in[n++] = 'p';
    in[n++] = 0x80; in[n++] = 2; memcpy(in + n, "de", 2); n += 2;
    in[n++] = 0x81; in[n++] = 126; in[n++] = 0; in[n++] = 200;
    memset(in + n, 'z', 200); n += 200;
    for (size_t split = 1; split < n; split += 13) {
        lg_ws_t w = { 0 };
        got_t g = { 0 };
        lg_ws_feed(&w, in, split, s_got, &g);
        lg_ws_feed(&w, in + split, n - split, s_got, &g);
        FP_CHECK(g.n == 3 && g.ops[0] == 9 && g.ops[1] == 1 &&
                 strcmp(g.msgs[1], "abcde") == 0 && strlen(g.msgs[2]) == 200,
                 "ws fragments and control at any split");
        lg_ws_free(&w);
    }
    char acc[64];
    lg_ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
    FP_CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0,
             "RFC 6455 accept example");

    /*  tokens: written, found in JSON escaping, several per body  */
    char tok[128];
    FP_CHECK(lg_tok_write(tok, 64, 2, 17, 123456789) == 64 &&
             strncmp(tok, "FPT2.17.123456789.xx", 20) == 0, "token write");
    const char *j = "{\"data\":\"FPT1.5.99.xxx\"}\n{\"data\":\"FPT\"}"
                    "{\"data\":\"FPT3.6.100.\"}";
    size_t off = 0;
    lg_tok_t t;
    FP_CHECK(lg_tok_next((const uint8_t *) j, strlen(j), &off, &t) == 1 &&
             t.phase == 1 && t.seq == 5 && t.ns == 99, "first token");
    FP_CHECK(lg_tok_next((const uint8_t *) j, strlen(j), &off, &t) == 1 &&
             t.phase == 3 && t.seq == 6 && t.ns == 100, "skips a bad one");
    FP_CHECK(lg_tok_next((const uint8_t *) j, strlen(j), &off, &t) == 0,
             "no more");
    char cur[32];
    j = "{\"events\":[],\"cursor\": \"e1-42\", \"n\":7}";
    FP_CHECK(lg_json_str((const uint8_t *) j, strlen(j), "cursor", cur,
                         sizeof cur) == 0 && strcmp(cur, "e1-42") == 0,
             "cursor string");
    FP_CHECK(lg_json_str((const uint8_t *) j, strlen(j), "n", cur,
                         sizeof cur) == 0 && strcmp(cur, "7") == 0,
             "cursor number");

    /*  SSE fields of one event block  */
    j = "id: e1-7\r\nevent: reset\ndata: {\"id\":1}\n\n";
    FP_CHECK(lg_sse_field((const uint8_t *) j, strlen(j), "id", cur,
                          sizeof cur) == 0 && strcmp(cur, "e1-7") == 0,
             "sse id field");
    FP_CHECK(lg_sse_field((const uint8_t *) j, strlen(j), "event", cur,
                          sizeof cur) == 0 && strcmp(cur, "reset") == 0,
             "sse event field");
    j = ": hb\n\ndata:x\n\n";
    FP_CHECK(lg_sse_field((const uint8_t *) j, strlen(j), "id", cur,
                          sizeof cur) == -1 &&
             lg_sse_field((const uint8_t *) j, strlen(j), "data", cur,
                          sizeof cur) == 0 && strcmp(cur, "x") == 0,
             "sse field absent, no space");

    /*  histogram: buckets are monotonic, values within 1.6 %  */
    bool mono = true, close = true;
    for (uint64_t v = 1; v < 100000000; v = v * 3 / 2 + 1) {
        int b = lg_hist_bucket(v);
        mono &= lg_hist_bucket(v + 1) >= b;
        close &= lg_hist_value(b) >= v &&
                 (double) lg_hist_value(b) <= (double) v * 1.016 + 1;
    }
    FP_CHECK(mono && close, "histogram buckets");
    static uint32_t hist[LG_HBUCKETS];
    for (uint64_t v = 1; v <= 1000; v++)
        hist[lg_hist_bucket(v * 100)]++;
    uint64_t p50 = lg_hist_quantile(hist, 0.5);
    FP_CHECK(p50 >= 50000 && p50 <= 51000, "p50");
    FP_CHECK(lg_hist_quantile(hist, 1.0) >= 100000, "max");
}
#endif
