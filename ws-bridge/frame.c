/*  frame: the RFC 6455 frame parser and encoder (no I/O).
 *
 *  The parser is an explicit state machine (lighttpd mod_wstunnel's
 *  shape): header bytes are collected one at a time if they come one at a
 *  time, payload is unmasked in place and handed out in pieces as it
 *  arrives, so a message is never buffered here.  Every rule that fails a
 *  connection is checked as early as the bytes allow: RSV bits, opcodes,
 *  masking, control frame size and fragmentation, the continuation state,
 *  the 64-bit length's top bit and the message size limit at the header;
 *  UTF-8 of text messages piece by piece (fail fast); close payloads when
 *  the frame is complete.  With permessage-deflate negotiated (rsv1_ok)
 *  RSV1 may mark the first frame of a data message: such a message is
 *  handed out compressed (ev->compressed) and conn.c checks its UTF-8
 *  once inflated.
 */
#include "wsb.h"
#include "mem.h"

#include <string.h>

void
wsb_parser_init(wsb_parser_t *p, uint64_t max_message)
{
    memset(p, 0, sizeof *p);
    p->max_message = max_message;
    p->state = WSB_PS_HEAD;
    p->need = 2;
    fp_utf8_init(&p->utf8);
}

/*  Enter the failed state and describe it in ev.  */
static size_t
s_fail(wsb_parser_t *p, wsb_ev_t *ev, size_t used, uint16_t code,
       const char *why)
{
    p->state = WSB_PS_FAILED;
    p->fail_code = code;
    p->fail_why = why;
    ev->type = WSB_EV_ERROR;
    ev->code = code;
    ev->why = why;
    return used;
}

bool
wsb_close_code_valid(unsigned code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}

int
wsb_close_check(const uint8_t *p, size_t n, uint16_t *code)
{
    if (n == 0) {
        *code = WSB_CLOSE_NO_STATUS;
        return 0;
    }
    if (n == 1)
        return WSB_CLOSE_PROTOCOL;
    *code = (uint16_t) (p[0] << 8 | p[1]);
    if (!wsb_close_code_valid(*code))
        return WSB_CLOSE_PROTOCOL;
    if (!fp_utf8_valid(p + 2, n - 2))
        return WSB_CLOSE_BAD_DATA;
    return 0;
}

/*  The first two bytes are in: check everything they decide.  */
static int
s_head(wsb_parser_t *p, const char **why)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];
    uint8_t len7 = b1 & 0x7f;

    p->fin = b0 >> 7;
    p->op = b0 & 0x0f;
    p->rsv1 = (b0 & 0x40) != 0;
    if (b0 & 0x30)
        return *why = "reserved bits set", WSB_CLOSE_PROTOCOL;
    if ((b0 & 0x40) && (!p->rsv1_ok || (p->op != WSB_OP_TEXT &&
                                         p->op != WSB_OP_BINARY)))
        return *why = p->rsv1_ok ? "RSV1 on a frame that does not start "
               "a message" : "reserved bits set", WSB_CLOSE_PROTOCOL;
    if (!(b1 & 0x80))
        return *why = "client frames must be masked", WSB_CLOSE_PROTOCOL;
    switch (p->op) {
    case WSB_OP_CONT:
        if (!p->msg_op)
            return *why = "continuation without a message",
                   WSB_CLOSE_PROTOCOL;
        break;
    case WSB_OP_TEXT:
    case WSB_OP_BINARY:
        if (p->msg_op)
            return *why = "new message inside a fragmented one",
                   WSB_CLOSE_PROTOCOL;
        break;
    case WSB_OP_CLOSE:
    case WSB_OP_PING:
    case WSB_OP_PONG:
        if (!p->fin)
            return *why = "fragmented control frame", WSB_CLOSE_PROTOCOL;
        if (len7 > 125)
            return *why = "control frame over 125 bytes", WSB_CLOSE_PROTOCOL;
        break;
    default:
        return *why = "reserved opcode", WSB_CLOSE_PROTOCOL;
    }
    p->len = len7;
    return 0;
}

/*  The header is complete: check the length, start the payload.  */
static int
s_start(wsb_parser_t *p, const char **why)
{
    if (p->op < WSB_OP_CLOSE) {
        uint64_t before = p->op == WSB_OP_CONT ? p->msg_len : 0;
        if (p->max_message && (p->len > p->max_message ||
                               before + p->len > p->max_message))
            return *why = "message too big", WSB_CLOSE_TOO_BIG;
        if (p->op != WSB_OP_CONT) {
            p->msg_op = p->op;
            p->msg_z = p->rsv1;
            p->msg_len = 0;
            fp_utf8_init(&p->utf8);
        }
        p->msg_len += p->len;
    }
    p->got = 0;
    p->state = WSB_PS_DATA;
    return 0;
}

/*  Collect header bytes into hdr until `need` are there.  */
static size_t
s_collect(wsb_parser_t *p, const uint8_t *in, size_t n)
{
    size_t k = (size_t) (p->need - p->have);
    if (k > n)
        k = n;
    memcpy(p->hdr + p->have, in, k);
    p->have = (uint8_t) (p->have + k);
    return k;
}

/*  The frame's payload ended: emit what it completes.  */
static size_t
s_frame_end(wsb_parser_t *p, wsb_ev_t *ev, size_t used)
{
    p->state = WSB_PS_HEAD;
    p->need = 2;
    p->have = 0;
    if (p->op >= WSB_OP_CLOSE) {
        ev->type = WSB_EV_CONTROL;
        ev->opcode = p->op;
        ev->data = p->ctl;
        ev->len = (size_t) p->len;
        if (p->op == WSB_OP_CLOSE) {
            int code = wsb_close_check(p->ctl, (size_t) p->len, &ev->code);
            if (code)
                return s_fail(p, ev, used, (uint16_t) code, code ==
                              WSB_CLOSE_BAD_DATA ? "close reason not UTF-8"
                              : "invalid close payload");
        }
        return used;
    }
    if (!p->fin)
        return used;
    if (p->msg_op == WSB_OP_TEXT && !p->msg_z &&
        !fp_utf8_complete(&p->utf8))
        return s_fail(p, ev, used, WSB_CLOSE_BAD_DATA,
                      "text message ends inside a character");
    ev->type = WSB_EV_DATA;
    ev->opcode = p->msg_op;
    ev->compressed = p->msg_z;
    ev->fin = true;
    ev->data = (const uint8_t *) "";
    ev->len = 0;
    p->msg_op = 0;
    return used;
}

/*  Unmask payload bytes in place; `off` is the offset in the frame.  */
static void
s_unmask(uint8_t *d, size_t n, const uint8_t mask[4], uint64_t off)
{
    size_t i = 0;
    uint8_t m[4];
    for (int k = 0; k < 4; k++)
        m[k] = mask[(off + (uint64_t) k) & 3];
    if (n >= 8) {
        uint64_t m64;
        uint8_t mm[8] = { m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3] };
        memcpy(&m64, mm, 8);
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            memcpy(&v, d + i, 8);
            v ^= m64;
            memcpy(d + i, &v, 8);
        }
    }
    for (; i < n; i++)
        d[i] ^= m[i & 3];
}

/*  Payload bytes of the current frame.  */
static size_t
s_payload(wsb_parser_t *p, uint8_t *in, size_t n, wsb_ev_t *ev)
{
    uint64_t left = p->len - p->got;
    size_t k = left < n ? (size_t) left : n;
    size_t bad;

    s_unmask(in, k, p->mask, p->got);
    if (p->op >= WSB_OP_CLOSE) {
        memcpy(p->ctl + p->got, in, k);
        p->got += k;
        return p->got == p->len ? s_frame_end(p, ev, k) : k;
    }
    if (p->msg_op == WSB_OP_TEXT && !p->msg_z &&
        fp_utf8_feed(&p->utf8, in, k, &bad) < 0)
        return s_fail(p, ev, k, WSB_CLOSE_BAD_DATA, "invalid UTF-8");
    p->got += k;
    ev->compressed = p->msg_z;
    if (p->got < p->len || !p->fin) {
        ev->type = WSB_EV_DATA;
        ev->opcode = p->msg_op;
        ev->fin = false;
        ev->data = in;
        ev->len = k;
        if (p->got == p->len) {
            p->state = WSB_PS_HEAD;
            p->need = 2;
            p->have = 0;
        }
        return k;
    }
    if (p->msg_op == WSB_OP_TEXT && !p->msg_z &&
        !fp_utf8_complete(&p->utf8))
        return s_fail(p, ev, k, WSB_CLOSE_BAD_DATA,
                      "text message ends inside a character");
    ev->type = WSB_EV_DATA;
    ev->opcode = p->msg_op;
    ev->fin = true;
    ev->data = in;
    ev->len = k;
    p->msg_op = 0;
    p->state = WSB_PS_HEAD;
    p->need = 2;
    p->have = 0;
    return k;
}

size_t
wsb_parse(wsb_parser_t *p, uint8_t *in, size_t n, wsb_ev_t *ev)
{
    size_t i = 0;
    const char *why = NULL;
    int code;

    memset(ev, 0, sizeof *ev);
    while (i < n) {
        switch (p->state) {
        case WSB_PS_FAILED:
            return s_fail(p, ev, i, p->fail_code, p->fail_why);
        case WSB_PS_HEAD:
            i += s_collect(p, in + i, n - i);
            if (p->have < p->need)
                return i;
            if ((code = s_head(p, &why)))
                return s_fail(p, ev, i, (uint16_t) code, why);
            p->have = 0;
            if (p->len >= 126) {
                p->need = p->len == 126 ? 2 : 8;
                p->state = WSB_PS_LEN;
            } else {
                p->need = 4;
                p->state = WSB_PS_MASK;
            }
            break;
        case WSB_PS_LEN:
            i += s_collect(p, in + i, n - i);
            if (p->have < p->need)
                return i;
            p->len = 0;
            for (int k = 0; k < p->need; k++)
                p->len = p->len << 8 | p->hdr[k];
            if (p->need == 8 && (p->len >> 63))
                return s_fail(p, ev, i, WSB_CLOSE_PROTOCOL,
                              "length with the top bit set");
            p->have = 0;
            p->need = 4;
            p->state = WSB_PS_MASK;
            break;
        case WSB_PS_MASK:
            i += s_collect(p, in + i, n - i);
            if (p->have < p->need)
                return i;
            memcpy(p->mask, p->hdr, 4);
            if ((code = s_start(p, &why)))
                return s_fail(p, ev, i, (uint16_t) code, why);
            if (p->len == 0) {
                i += s_frame_end(p, ev, 0);
                if (ev->type != WSB_EV_NONE)
                    return i;
            }
            break;
        case WSB_PS_DATA:
            i += s_payload(p, in + i, n - i, ev);
            if (ev->type != WSB_EV_NONE)
                return i;
            break;
        }
    }
    return i;
}

/* ------------------------------------------------------------ encoder */

size_t
wsb_frame_head(uint8_t *out, int opcode, uint64_t len)
{
    out[0] = (uint8_t) (0x80 | opcode);
    if (len < 126) {
        out[1] = (uint8_t) len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (uint8_t) (len >> 8);
        out[3] = (uint8_t) len;
        return 4;
    }
    out[1] = 127;
    for (int k = 0; k < 8; k++)
        out[2 + k] = (uint8_t) (len >> (56 - 8 * k));
    return 10;
}

fp_blob_t *
wsb_frame_blob(int opcode, const void *data, size_t len)
{
    uint8_t head[10];
    size_t h = wsb_frame_head(head, opcode, len);
    fp_buf_t b;
    fp_buf_init(&b);
    fp_buf_reserve(&b, h + len);
    fp_buf_add(&b, head, h);
    fp_buf_add(&b, data, len);
    fp_blob_t *blob = fp_blob_new(b.data, b.len);
    fp_buf_free(&b);
    return blob;
}

fp_blob_t *
wsb_close_blob(unsigned code, const char *reason)
{
    uint8_t pay[125];
    size_t n = 0;
    if (code) {
        pay[0] = (uint8_t) (code >> 8);
        pay[1] = (uint8_t) code;
        n = 2;
        size_t r = reason ? strlen(reason) : 0;
        if (r > 123)
            r = 123;
        while (r > 0 && !fp_utf8_valid((const uint8_t *) reason, r))
            r--;
        if (r)
            memcpy(pay + 2, reason, r);
        n += r;
    }
    return wsb_frame_blob(WSB_OP_CLOSE, pay, n);
}
