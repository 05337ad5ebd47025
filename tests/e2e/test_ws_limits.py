"""fastpush-ws max-message at its exact boundary (issue 19): a message of
max-message bytes, after reassembly of its fragments, is accepted, one
byte more is refused with close 1009.  Echo mode and the JSON protocol,
one frame and several continuation frames, sent in 64 KiB and in
few-hundred-byte TCP pieces, with a small limit and a 1 MiB one."""
import json
import struct

from harness import Env, Tap
from wsclient import OP_BIN, OP_CLOSE, OP_CONT, OP_TEXT, WS, Closed, close_payload, frame, start_ws

t = Tap()

CHOPS = (65536, 300)


def frames(op, payload, nfrags):
    """payload as nfrags frames (uneven pieces, the last may be empty)."""
    if nfrags == 1:
        return frame(op, payload)
    cut = sorted({len(payload) * k // nfrags + (k % 2) for k in range(1, nfrags)})
    cut = [0] + [min(c, len(payload)) for c in cut] + [len(payload)]
    parts = [payload[a:b] for a, b in zip(cut, cut[1:])]
    return b"".join(frame(op if i == 0 else OP_CONT, p, fin=i == len(parts) - 1)
                    for i, p in enumerate(parts))


def close_code(op, data):
    return struct.unpack("!H", data[:2])[0] if op == OP_CLOSE and len(data) >= 2 else None


def ends_clean(c):
    """Our close 1000 is answered with 1000, then EOF."""
    c.send(OP_CLOSE, close_payload(1000))
    code, _ = c.recv_close(timeout=10)
    return code == 1000 and c.wait_eof(3)


def refused(c):
    """The next frame is close 1009, then EOF.  Returns (ok, what came)."""
    try:
        op, data = c.recv(timeout=20)
    except (Closed, TimeoutError) as e:
        return False, repr(e)
    code = close_code(op, data)
    return code == 1009 and c.wait_eof(3), f"op {op} code {code} len {len(data)}"


def exchange(port, payload, nfrags, chop, op=OP_TEXT):
    """A new connection that has sent payload as one message of nfrags
    frames, written in chop-byte pieces."""
    c = WS.connect(port)
    c.raw(frames(op, payload, nfrags), chop=chop)
    return c


def at_limit(port, kind, what, msg, more, nfrags, chop, says, answered):
    """msg (n bytes) gets its answer (answered(op, data): (ok, detail))
    and then a clean close; more (n + 1 bytes) is refused with 1009.
    kind, what, says: for the descriptions ("echo", "", "echoed byte for
    byte")."""
    how = f"{what}{'one frame' if nfrags == 1 else f'{nfrags} fragments'}, {chop}-byte pieces"
    desc = f"{kind}: {len(msg)} bytes ({how}) {says}"
    c = exchange(port, msg, nfrags, chop)
    try:
        ok, detail = answered(*c.recv(timeout=20))
        t.ok(ok and ends_clean(c), f"{desc}, then close 1000", detail)
    except (Closed, TimeoutError) as e:
        t.ok(False, desc, repr(e))
    finally:
        c.close()
    c = exchange(port, more, nfrags, chop)
    ok, what_came = refused(c)
    c.close()
    t.ok(ok, f"{kind}: {len(more)} bytes ({how}) refused with 1009", what_came)


def echo_cases(port, n):
    msg = (bytes(range(32, 127)) * (n // 95 + 1))[:n + 1]
    for nfrags in (1, 4):
        for chop in CHOPS:
            at_limit(port, "echo", "", msg[:n], msg, nfrags, chop, "echoed byte for byte",
                     lambda op, data: (
                         (op, data) == (OP_TEXT, msg[:n]),
                         f"op {op} len {len(data)} code {close_code(op, data)}"))
    c = exchange(port, b"\xfe" * n, 3, 65536, op=OP_BIN)
    got = c.recv(timeout=20)
    t.ok(got == (OP_BIN, b"\xfe" * n) and ends_clean(c), f"echo: {n}-byte binary message echoed")
    c.close()


def padded(obj, n):
    """obj as JSON text of exactly n bytes (spaces after it)."""
    text = json.dumps(obj, separators=(",", ":")).encode()
    assert len(text) <= n
    return text + b" " * (n - len(text))


def long_string(obj, n):
    """obj with a "pad" string member making the JSON text n bytes."""
    base = len(json.dumps(dict(obj, pad=""), separators=(",", ":")).encode())
    return json.dumps(dict(obj, pad="p" * (n - base)), separators=(",", ":")).encode()


def json_cases(port, n):
    msgs = {
        "ping padded with spaces": lambda k: padded({"type": "ping", "ref": 1}, k),
        "ping with a long string": lambda k: long_string({"type": "ping", "ref": 1}, k),
        "publish padded with spaces": lambda k: padded(
            {"type": "publish", "channel": "lim", "data": {"m": "hi"}, "ref": 1}, k),
    }
    for what, make in msgs.items():
        want = "published" if what.startswith("publish") else "pong"

        def answered(op, data):
            got = json.loads(data) if op == OP_TEXT else {"_close": close_code(op, data)}
            return got.get("type") == want and got.get("ref") == 1, got
        msg = make(n)
        assert len(msg) == n
        for nfrags in (1, 3):
            for chop in CHOPS:
                at_limit(port, "json", f"{what}, ", msg, make(n + 1), nfrags, chop,
                         f"answered {want}", answered)


with Env(t) as env:
    for limit in (1000, 1 << 20):
        ws = start_ws(env, f"ws-echo-{limit}", echo="on", max_message=str(limit))
        echo_cases(ws.port, limit)
        t.ok(ws.alive(), f"echo bridge with max-message {limit} still up")
    b = env.broker()
    for limit in (1000, 1 << 20):
        ws = start_ws(env, f"ws-json-{limit}", broker=b, publish="on", max_message=str(limit),
                      message_rate="0")
        json_cases(ws.port, limit)
        t.ok(ws.alive(), f"JSON bridge with max-message {limit} still up")
t.done()
