/*  libFuzzer target for the fastpush-ws frame parser (ws-bridge/frame.c)
 *  and permessage-deflate (ws-bridge/deflate.c).
 *
 *  Input: one byte that picks how the stream is cut into reads and
 *  whether permessage-deflate was negotiated (its top bit), then the
 *  bytes a client sends after the handshake.  The stream is parsed twice,
 *  once in one piece and once in small pieces, and the two runs must
 *  agree on everything a connection acts on: the messages (opcode and
 *  reassembled payload), the control frames and the error that ends the
 *  stream.  On the way every event is checked against the RFC: pieces fit
 *  the input, messages stay under the size limit, text messages are
 *  valid UTF-8, control payloads are at most 125 bytes, close codes are
 *  ones a peer may send, and a failed parser stays failed.  A compressed
 *  message (RSV1, only when negotiated) is inflated as conn.c does: it
 *  inflates within the limit or fails with 1007 / 1009, and compressing
 *  a message then inflating it gives it back.
 *
 *  Build and run: make fuzz (build-fuzz/ws_frame_fuzz, seed corpus in
 *  tests/fuzz/corpus/ws_frame).
 */
#include "wsb.h"
#include "err.h"
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE 4096
#define MAX_EVENTS 512

typedef struct {
    int type;                   /*  WSB_EV_DATA (whole message), CONTROL,
                                    ERROR  */
    int opcode;
    bool compressed;
    uint16_t code;
    size_t len;
    uint8_t data[MAX_MESSAGE];
} rec_t;

typedef struct {
    rec_t ev[MAX_EVENTS];
    int n;
    uint8_t msg[MAX_MESSAGE];   /*  message being reassembled  */
    size_t msg_len;
} run_t;

static wsb_deflate_t *s_z;

static void
s_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "ws_frame_fuzz: invariant broken: %s\n", what);
        abort();
    }
}

/*  A compressed message inflates within the limit or fails with 1007 or
 *  1009 (what conn.c closes with).  */
static void
s_inflate(const uint8_t *data, size_t len)
{
    const uint8_t *out;
    size_t olen;
    int rc = wsb_deflate_inflate(s_z, data, len, MAX_MESSAGE, &out, &olen);
    s_check(rc == 0 ? olen <= MAX_MESSAGE : rc == WSB_CLOSE_BAD_DATA ||
            rc == WSB_CLOSE_TOO_BIG, "inflate result");
}

/*  Compressing a message and inflating the frame's payload gives it
 *  back; the frame has RSV1 and is smaller than the message.  */
static void
s_round_trip(int opcode, const uint8_t *data, size_t len)
{
    static uint8_t copy[MAX_MESSAGE];
    memcpy(copy, data, len);
    fp_blob_t *f = wsb_deflate_frame(s_z, opcode, copy, len);
    if (!f)
        return;
    const uint8_t *p = (const uint8_t *) f->data, *out;
    size_t h = (p[1] & 0x7f) == 126 ? 4 : (p[1] & 0x7f) == 127 ? 10 : 2;
    size_t olen;
    s_check(p[0] == (0x80 | WSB_FRAME_RSV1 | opcode) && f->len < h + len,
            "compressed frame header");
    s_check(wsb_deflate_inflate(s_z, p + h, f->len - h, MAX_MESSAGE, &out,
                                &olen) == 0 && olen == len &&
            memcmp(out, copy, len) == 0, "deflate round trip");
    fp_blob_unref(&f);
}

/*  Record one event (data pieces are reassembled into messages).  */
static void
s_record(run_t *r, const wsb_ev_t *ev)
{
    if (ev->type == WSB_EV_DATA) {
        s_check(r->msg_len + ev->len <= MAX_MESSAGE, "message over the limit");
        memcpy(r->msg + r->msg_len, ev->data, ev->len);
        r->msg_len += ev->len;
        s_check(ev->opcode == WSB_OP_TEXT || ev->opcode == WSB_OP_BINARY,
                "data opcode");
        if (!ev->fin)
            return;
        if (ev->compressed) {
            s_inflate(r->msg, r->msg_len);
        } else {
            s_check(ev->opcode != WSB_OP_TEXT ||
                    fp_utf8_valid(r->msg, r->msg_len), "text not UTF-8");
            s_round_trip(ev->opcode, r->msg, r->msg_len);
        }
    } else if (ev->type == WSB_EV_CONTROL) {
        s_check(ev->len <= 125, "control payload over 125");
        s_check(ev->opcode >= WSB_OP_CLOSE && ev->opcode <= WSB_OP_PONG,
                "control opcode");
        if (ev->opcode == WSB_OP_CLOSE)
            s_check(ev->code == WSB_CLOSE_NO_STATUS ||
                    wsb_close_code_valid(ev->code), "close code");
    } else {
        s_check(ev->code == WSB_CLOSE_PROTOCOL ||
                ev->code == WSB_CLOSE_BAD_DATA ||
                ev->code == WSB_CLOSE_TOO_BIG, "error code");
    }
    if (r->n == MAX_EVENTS)
        return;
    rec_t *e = &r->ev[r->n++];
    e->type = ev->type;
    e->opcode = ev->opcode;
    e->compressed = ev->compressed;
    e->code = ev->type == WSB_EV_ERROR || (ev->type == WSB_EV_CONTROL &&
                                           ev->opcode == WSB_OP_CLOSE)
              ? ev->code : 0;
    if (ev->type == WSB_EV_DATA) {
        e->len = r->msg_len;
        memcpy(e->data, r->msg, r->msg_len);
        r->msg_len = 0;
    } else if (ev->type == WSB_EV_CONTROL) {
        e->len = ev->len;
        memcpy(e->data, ev->data, ev->len);
    } else {
        e->len = 0;
    }
}

/*  Parse buf in pieces of `chunk` bytes (0: all at once) into r.  */
static void
s_run(const uint8_t *in, size_t n, size_t chunk, bool z, run_t *r)
{
    wsb_parser_t p;
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, in, n);
    wsb_parser_init(&p, MAX_MESSAGE);
    p.rsv1_ok = z;
    r->n = 0;
    r->msg_len = 0;
    size_t off = 0;
    bool failed = false;
    while (off < n && !failed) {
        size_t piece = chunk ? chunk : n;
        if (piece > n - off)
            piece = n - off;
        size_t used = 0;
        while (used < piece && !failed) {
            wsb_ev_t ev;
            size_t k = wsb_parse(&p, buf + off + used, piece - used, &ev);
            s_check(k <= piece - used, "consumed more than given");
            used += k;
            if (ev.type == WSB_EV_NONE) {
                s_check(used == piece, "stopped without an event");
                continue;
            }
            if (ev.type == WSB_EV_DATA && ev.len)
                s_check(ev.data >= buf + off && ev.data + ev.len <= buf + off
                        + used, "data outside the input");
            s_record(r, &ev);
            if (ev.type == WSB_EV_ERROR) {
                wsb_ev_t again;
                uint8_t x = 0;
                s_check(wsb_parse(&p, &x, 1, &again) == 0 &&
                        again.type == WSB_EV_ERROR &&
                        again.code == ev.code, "failed parser revived");
                failed = true;
            }
        }
        off += piece;
    }
    free(buf);
}

static run_t s_a, s_b;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[FP_ERR_LEN];

    if (size < 1)
        return 0;
    if (!s_z && !(s_z = wsb_deflate_new(1, err)))
        abort();
    size_t chunk = (size_t) ((data[0] & 0x7f) % 17) + 1;
    bool z = data[0] & 0x80;
    s_run(data + 1, size - 1, 0, z, &s_a);
    s_run(data + 1, size - 1, chunk, z, &s_b);
    s_check(s_a.n == s_b.n, "event count depends on how input is cut");
    for (int i = 0; i < s_a.n; i++) {
        rec_t *a = &s_a.ev[i], *b = &s_b.ev[i];
        s_check(a->type == b->type && a->opcode == b->opcode &&
                a->compressed == b->compressed &&
                a->code == b->code && a->len == b->len &&
                memcmp(a->data, b->data, a->len) == 0,
                "events depend on how input is cut");
    }
    return 0;
}
