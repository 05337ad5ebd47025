"""fastpush-ws permessage-deflate (RFC 7692) through a real broker: the
offers it takes and declines, events compressed once per worker and the
same frame shared by every client that negotiated it, plain frames for
the others and for events that do not shrink, compressed client messages
(whole, fragmented, with a final block), the failures (RSV1 where it may
not be, RSV1 without the extension, bad deflate data, a message that
inflates past max-message, bad UTF-8 inside), and python3-websockets with
compression on both ways."""
import asyncio
import json
import re
import zlib

import websockets

from harness import Env, Tap, wait_for
from wsclient import OP_CLOSE, OP_CONT, OP_PING, OP_TEXT, WS, frame, start_ws

t = Tap()
OURS = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
TAIL = b"\x00\x00\xff\xff"


def compress(data, final=False):
    """A message compressed as RFC 7692 7.2.1 says (no context takeover)."""
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = z.compress(data) + (z.flush(zlib.Z_FINISH) if final else z.flush(zlib.Z_SYNC_FLUSH))
    return out if final else out[:-4] if out.endswith(TAIL) else out


def inflate(data):
    return zlib.decompressobj(-15).decompress(data + TAIL)


def offered(port, offer):
    c = WS.open(port)
    st = c.handshake(headers={"Sec-WebSocket-Extensions": offer} if offer is not None else None)
    ext = c.header("sec-websocket-extensions")
    c.close()
    return st, ext


def check_offers(w, off):
    cases = [
        ("permessage-deflate", OURS, "a bare offer"),
        ("permessage-deflate; client_max_window_bits", OURS, "Chromium's offer"),
        ("permessage-deflate; client_max_window_bits=10; server_no_context_takeover", OURS,
         "client window 10 and server_no_context_takeover"),
        ('permessage-deflate; server_max_window_bits="15"', OURS, "a quoted server window of 15"),
        ("x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover", OURS,
         "an unknown extension first, then ours"),
        ("permessage-deflate; server_max_window_bits=10, permessage-deflate", OURS,
         "a server window under 15 declined, the next offer taken"),
        ("permessage-deflate; server_max_window_bits=10", None, "only a server window of 10"),
        ("permessage-deflate; client_max_window_bits=16", None, "a client window of 16"),
        ("permessage-deflate; client_max_window_bits=08", None, "a window with a leading zero"),
        ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None,
         "a repeated parameter"),
        ("permessage-deflate; foo", None, "an unknown parameter"),
        ("permessage-deflate; server_no_context_takeover=1", None, "a value where none is allowed"),
        ("permessage-deflate;;", None, "a malformed list"),
        ('permessage-deflate; client_max_window_bits="10', None, "an open quote"),
        ("x-webkit-deflate-frame", None, "only an unknown extension"),
        (None, None, "no offer"),
    ]
    for offer, want, what in cases:
        st, ext = offered(w.port, offer)
        t.eq((st, ext), (101, want), f"offer: {what} -> {'accepted' if want else 'not answered'}")
    c = WS.open(w.port)
    raw = c.request_bytes().replace(b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: foo\r\n"
                                    b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n")
    st = c.handshake(raw=raw)
    t.eq((st, c.header("sec-websocket-extensions")), (101, OURS),
         "an offer on a second Sec-WebSocket-Extensions line is taken")
    c.close()
    st, ext = offered(off.port, "permessage-deflate")
    t.eq((st, ext), (101, None), "deflate off: the offer is not answered")


def dconnect(port):
    c = WS.connect(port, headers={"Sec-WebSocket-Extensions": "permessage-deflate"})
    assert c.header("sec-websocket-extensions") == OURS, c.response
    return c


def recv_raw(c, timeout=5.0):
    """The next data frame, pings skipped: (rsv1, op, payload)."""
    while True:
        c._need(1, timeout)
        rsv1 = bool(c.buf[0] & 0x40)
        fin, op, data = c.recv_frame(timeout)
        if op != OP_PING:
            return rsv1, op, data


def jtext(rsv1, data):
    return json.loads(inflate(data) if rsv1 else data)


def subscribe(c, channels, compressed=False):
    msg = json.dumps({"type": "subscribe", "channels": channels}).encode()
    if compressed:
        c.sock.sendall(frame(OP_TEXT, compress(msg), rsv=4))
    else:
        c.send(OP_TEXT, msg)
    rsv1, op, data = recv_raw(c)
    return json.loads(data)


def check_events(b, w):
    d1, d2, plain = dconnect(w.port), dconnect(w.port), WS.connect(w.port)
    for c in (d1, d2, plain):
        r = subscribe(c, ["big"])
        assert r.get("type") == "ready", r
    big = {"rows": [{"symbol": "ACME", "price": 101.25, "note": "steady"}] * 60}
    b.publish("big", big)
    b.publish("big", "x")
    got = {}
    for name, c in (("d1", d1), ("d2", d2), ("plain", plain)):
        got[name] = [recv_raw(c), recv_raw(c)]
    (z1, op1, f1), (s1, _, small1) = got["d1"]
    (z2, _, f2), (s2, _, _) = got["d2"]
    (zp, _, fp), (sp, _, smallp) = got["plain"]
    t.ok(z1 and op1 == OP_TEXT and len(f1) < len(fp) / 5,
         "a large event reaches a deflate client compressed (RSV1, text)",
         (z1, op1, len(f1), len(fp)))
    t.eq(inflate(f1), fp, "it inflates to the plain client's frame, byte for byte")
    t.ok(z2 and f1 == f2, "the second deflate client gets the same compressed bytes")
    t.ok(not zp and json.loads(fp)["data"] == big, "the client without the extension gets it plain")
    t.ok(s1 and s2 and not sp and inflate(small1) == smallp and json.loads(smallp)["data"] == "x",
         f"a small event ({len(smallp)} bytes, {len(small1)} compressed) is compressed too",
         (s1, s2, sp, small1, smallp))
    # a compressed subscribe, a fragmented compressed ping, a final block
    c = dconnect(w.port)
    r = subscribe(c, ["big"], compressed=True)
    t.eq(r.get("type"), "ready", "a compressed subscribe is understood")
    z = compress(json.dumps({"type": "ping", "ref": "frag" * 50}).encode())
    k = len(z) // 3
    c.sock.sendall(frame(OP_TEXT, z[:k], fin=False, rsv=4) + frame(OP_CONT, z[k:2 * k], fin=False) +
                   frame(OP_PING, b"mid") + frame(OP_CONT, z[2 * k:]))
    msgs = []
    for _ in range(2):
        c._need(1, 5)
        msgs.append(c.recv_frame())
    pong = next((m for m in msgs if m[1] == OP_TEXT), None)
    t.ok(pong and json.loads(pong[2]) == {"type": "pong", "ref": "frag" * 50},
         "a compressed message in three fragments with a ping between them", msgs)
    c.sock.sendall(frame(OP_TEXT, compress(b'{"type":"ping","ref":2}', final=True), rsv=4))
    t.eq(jtext(*recv_raw(c)[::2]), {"type": "pong", "ref": 2},
         "a message compressed with a final block (BFINAL) is understood")
    b.publish("big", big)
    for cc, name in ((d1, "first"), (c, "late")):
        rz, _, data = recv_raw(cc)
        t.ok(rz and json.loads(inflate(data))["data"] == big,
             f"the next event reaches the {name} deflate client compressed")
    for cc in (d1, d2, plain, c):
        cc.close()


def fails(c, code, desc):
    try:
        while True:
            op, data = c.recv(timeout=5)
            if op == OP_CLOSE:
                break
        got = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
        t.ok(got == code and c.wait_eof(3), desc, f"close {got} {data[2:]!r}")
    except Exception as e:      # noqa: BLE001 (reported as the failure)
        t.ok(False, desc, repr(e))
    finally:
        c.close()


def check_failures(w):
    c = dconnect(w.port)
    c.sock.sendall(frame(OP_TEXT, compress(b'{"type":"ping"}')[:3], fin=False, rsv=4) +
                   frame(OP_CONT, b"\x00", rsv=4))
    fails(c, 1002, "RSV1 on a continuation frame: close 1002")
    c = dconnect(w.port)
    c.sock.sendall(frame(OP_PING, b"hi", rsv=4))
    fails(c, 1002, "RSV1 on a ping: close 1002")
    c = WS.connect(w.port)
    c.sock.sendall(frame(OP_TEXT, compress(b'{"type":"ping"}'), rsv=4))
    fails(c, 1002, "RSV1 without the extension: close 1002")
    c = dconnect(w.port)
    c.sock.sendall(frame(OP_TEXT, b"\xff\xff\xff\xff not deflate", rsv=4))
    fails(c, 1007, "data that is not a deflate stream: close 1007")
    c = dconnect(w.port)
    bomb = compress(b'{"type":"ping","ref":"' + b" " * (2 << 20) + b'"}')
    t.ok(len(bomb) < 8192, "a 2 MiB message compresses under 8 KiB", len(bomb))
    c.sock.sendall(frame(OP_TEXT, bomb, rsv=4))
    fails(c, 1009, "a message that inflates past max-message (64k): close 1009")
    c = dconnect(w.port)
    c.sock.sendall(frame(OP_TEXT, compress(b'{"type":"ping","ref":"\xc3\x28"}'), rsv=4))
    fails(c, 1007, "compressed text that inflates to bad UTF-8: close 1007")
    c = dconnect(w.port)
    r = subscribe(c, ["after"], compressed=True)
    t.eq(r.get("type"), "ready", "the bridge serves deflate clients after those failures")
    c.close()


def check_python_websockets(b, w):
    async def run():
        async with websockets.connect(w.url, compression="deflate", max_size=None) as ws:
            ext = [type(e).__name__ for e in ws.extensions]
            await ws.send(json.dumps({"type": "subscribe", "channels": ["py"], "pad": "p" * 500}))
            ready = json.loads(await asyncio.wait_for(ws.recv(), 5))
            b.publish("py", {"text": "compress me " * 100})
            ev = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return ext, ready, ev
    ext, ready, ev = asyncio.run(run())
    t.eq(ext, ["PerMessageDeflate"], "python3-websockets negotiates permessage-deflate")
    t.eq(ready.get("type"), "ready", "its compressed subscribe is understood")
    t.eq(ev.get("data"), {"text": "compress me " * 100}, "it inflates the compressed event")


def check_stats(w, events_compressed):
    w.stop()
    m = re.findall(r"exit: .*deflated (\d+) \((\d+) bytes to (\d+)\)", w.read_log())
    t.ok(m and int(m[-1][0]) == events_compressed and int(m[-1][2]) < int(m[-1][1]),
         f"each event compressed once per worker ({events_compressed}), whatever the "
         "number of subscribers", m)


with Env(t) as env:
    b = env.broker()
    w = start_ws(env, broker=b)
    off = start_ws(env, "ws-off", broker=b, deflate="off")
    check_offers(w, off)
    check_events(b, w)
    check_failures(w)
    check_python_websockets(b, w)
    t.ok(w.alive(), "the bridge is still up")
    check_stats(w, 4)
t.done()
