/*  libFuzzer target for the fastpush-ws frame parser (ws-bridge/frame.c).
 *
 *  Input: one byte that picks how the stream is cut into reads, then the
 *  bytes a client sends after the handshake.  The stream is parsed twice,
 *  once in one piece and once in small pieces, and the two runs must
 *  agree on everything a connection acts on: the messages (opcode and
 *  reassembled payload), the control frames and the error that ends the
 *  stream.  On the way every event is checked against the RFC: pieces fit
 *  the input, messages stay under the size limit, text messages are
 *  valid UTF-8, control payloads are at most 125 bytes, close codes are
 *  ones a peer may send, and a failed parser stays failed.
 *
 *  Build and run: make fuzz (build-fuzz/ws_frame_fuzz, seed corpus in
 *  tests/fuzz/corpus/ws_frame).
 */
#include "wsb.h"
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

static void
s_check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "ws_frame_fuzz: invariant broken: %s\n", what);
        abort();
    }
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
        if (ev->opcode == WSB_OP_TEXT)
            s_check(fp_utf8_valid(r->msg, r->msg_len), "text not UTF-8");
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
s_run(const uint8_t *in, size_t n, size_t chunk, run_t *r)
{
    wsb_parser_t p;
    uint8_t *buf = malloc(n ? n : 1);
    memcpy(buf, in, n);
    wsb_parser_init(&p, MAX_MESSAGE);
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
    if (size < 1)
        return 0;
    size_t chunk = (size_t) (data[0] % 17) + 1;
    s_run(data + 1, size - 1, 0, &s_a);
    s_run(data + 1, size - 1, chunk, &s_b);
    s_check(s_a.n == s_b.n, "event count depends on how input is cut");
    for (int i = 0; i < s_a.n; i++) {
        rec_t *a = &s_a.ev[i], *b = &s_b.ev[i];
        s_check(a->type == b->type && a->opcode == b->opcode &&
                a->code == b->code && a->len == b->len &&
                memcmp(a->data, b->data, a->len) == 0,
                "events depend on how input is cut");
    }
    return 0;
}
