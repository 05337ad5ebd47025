"""fastpush-ws RFC 6455 conformance, raw sockets against echo mode:
Autobahn categories 1-7 and 9 (framing, ping/pong, reserved bits,
opcodes, fragmentation, UTF-8, close, limits), plus the handshake, close
timers, heartbeats and slowloris."""
import socket
import struct
import time

from harness import Env, Tap
from wsclient import (OP_BIN, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, WS, Closed,
                      accept_key, close_payload, frame, start_ws)

t = Tap()


def echo_ok(port, op, payload, desc, **send_kw):
    c = WS.connect(port)
    try:
        c.send(op, payload, **send_kw)
        got = c.recv(timeout=20)
        ok = got == (op, payload if isinstance(payload, bytes) else payload.encode())
        c.send(OP_CLOSE, close_payload(1000))
        code, _ = c.recv_close()
        ok = ok and code == 1000 and c.wait_eof(3)
        t.ok(ok, desc, f"got op {got[0]} len {len(got[1])}")
    finally:
        c.close()


def fails(c, code, desc, before=()):
    """Expect the messages in `before`, then close `code`, then EOF."""
    try:
        for want in before:
            got = c.recv()
            if got != want:
                return t.ok(False, desc, f"got {got!r:.80} want {want!r:.80}")
        op, data = c.recv()
        got_code = struct.unpack("!H", data[:2])[0] if op == OP_CLOSE and len(data) >= 2 else None
        ok = op == OP_CLOSE and got_code == code
        eof = c.wait_eof(3)
        return t.ok(ok and eof, desc, f"op {op} code {got_code} payload {data[:60]!r} eof {eof}")
    except (Closed, TimeoutError) as e:
        return t.ok(False, desc, f"{e!r}")
    finally:
        c.close()


def cat1_framing(port):
    for n in (0, 125, 126, 127, 128, 65535, 65536):
        echo_ok(port, OP_TEXT, b"*" * n, f"1.1 text payload of {n} bytes echoed")
        echo_ok(port, OP_BIN, bytes([0xfe]) * n, f"1.2 binary payload of {n} bytes echoed")
    echo_ok(port, OP_TEXT, b"*" * 65536, "1.1.8 64 KiB text sent in 997-byte chops", chop=997)
    echo_ok(port, OP_BIN, b"\x00" * 65536, "1.2.8 64 KiB binary sent in 997-byte chops", chop=997)


def cat2_ping(port):
    for payload, what in ((b"", "empty"), (b"Hello, world!", "text"),
                          (bytes(range(8)) * 4, "binary"), (b"\xfe" * 125, "125-byte")):
        c = WS.connect(port)
        c.send(OP_PING, payload)
        t.eq(c.recv(), (OP_PONG, payload), f"2.x ping ({what}) answered by a pong with the same payload")
        c.close()
    c = WS.connect(port)
    c.send(OP_PING, b"chopped", chop=1)
    t.eq(c.recv(), (OP_PONG, b"chopped"), "2.6 ping sent byte by byte answered")
    c.send(OP_PONG, b"unsolicited")
    c.send(OP_PING, b"after")
    t.eq(c.recv(), (OP_PONG, b"after"), "2.7/2.8 unsolicited pong ignored")
    c.raw(b"".join(frame(OP_PING, b"p%d" % i) for i in range(10)))
    got = [c.recv() for _ in range(10)]
    t.eq(got, [(OP_PONG, b"p%d" % i) for i in range(10)], "2.10 ten pings, ten pongs in order")
    c.close()
    c = WS.connect(port)
    c.raw(frame(OP_PING, b"x" * 126))
    fails(c, 1002, "2.5 ping with a 126-byte payload fails with 1002")


def cat3_rsv(port):
    for rsv in range(1, 8):
        c = WS.connect(port)
        c.raw(frame(OP_TEXT, b"ok") + frame(OP_TEXT, b"bad", rsv=rsv) + frame(OP_PING, b"p"))
        fails(c, 1002, f"3.x RSV={rsv}: the valid message echoed, then 1002 and no pong",
              before=[(OP_TEXT, b"ok")])
    c = WS.connect(port)
    c.raw(frame(OP_PING, b"p", rsv=4))
    fails(c, 1002, "3.6 RSV on a ping fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_CLOSE, close_payload(1000), rsv=2))
    fails(c, 1002, "3.7 RSV on a close fails with 1002")


def cat4_opcodes(port):
    for op in (3, 4, 5, 6, 7, 11, 12, 13, 14, 15):
        c = WS.connect(port)
        c.raw(frame(OP_TEXT, b"first") + frame(op, b"x") + frame(OP_PING, b"p"))
        fails(c, 1002, f"4.x reserved opcode {op}: the valid message echoed, then 1002",
              before=[(OP_TEXT, b"first")])


def cat5_fragments(port):
    c = WS.connect(port)
    c.raw(frame(OP_PING, b"a", fin=False) + frame(OP_CONT, b"b"))
    fails(c, 1002, "5.1 fragmented ping fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_PONG, b"a", fin=False) + frame(OP_CONT, b"b"))
    fails(c, 1002, "5.2 fragmented pong fails with 1002")
    echo_ok(port, OP_TEXT, b"fragment1fragment2", "5.3 text in two fragments reassembled")
    for chop, what in ((None, "frame-wise"), (1, "octet-wise")):
        c = WS.connect(port)
        c.raw(frame(OP_TEXT, b"frag1", fin=False) + frame(OP_PING, b"in between") +
              frame(OP_CONT, b"frag2"), chop=chop)
        t.eq([c.recv(), c.recv()], [(OP_PONG, b"in between"), (OP_TEXT, b"frag1frag2")],
             f"5.6-5.8 ping inside a fragmented message answered first ({what})")
        c.close()
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"a", fin=False))
    time.sleep(0.3)
    c.raw(frame(OP_PING, b"p"))
    t.eq(c.recv(), (OP_PONG, b"p"), "5.19 ping answered while a message is open across a pause")
    c.raw(frame(OP_CONT, b"b", fin=False))
    time.sleep(0.3)
    c.raw(frame(OP_CONT, b"c"))
    t.eq(c.recv(), (OP_TEXT, b"abc"), "5.19 three fragments with pauses reassembled")
    c.close()
    for fin in (True, False):
        c = WS.connect(port)
        c.raw(frame(OP_CONT, b"orphan", fin=fin))
        fails(c, 1002, f"5.9/5.10 continuation without a message (fin={fin}) fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_CONT, b"orphan"), chop=1)
    fails(c, 1002, "5.11 orphan continuation sent byte by byte fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"a", fin=False) + frame(OP_TEXT, b"b"))
    fails(c, 1002, "5.17/5.18 a new text frame inside a fragmented message fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_BIN, b"a", fin=False) + frame(OP_BIN, b"b"))
    fails(c, 1002, "a new binary frame inside a fragmented message fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"", fin=False) + frame(OP_CONT, b"", fin=False) + frame(OP_CONT, b""))
    t.eq(c.recv(), (OP_TEXT, b""), "6.1 empty fragments make an empty message")
    c.close()


UTF8_VALID = [
    ("κόσμε".encode(), "Greek"), ("\U0001F600".encode(), "4-byte"), (b"\xef\xbf\xbf", "U+FFFF"),
    (b"\xef\xbf\xbe", "U+FFFE"), (b"\xf4\x8f\xbf\xbf", "U+10FFFF"), (b"\xed\x9f\xbf", "U+D7FF"),
    (b"\xee\x80\x80", "U+E000"), (b"\x00", "NUL"), (b"\xc2\x80", "U+0080"), (b"\xdf\xbf", "U+07FF"),
]
UTF8_INVALID = [
    (b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64", "surrogate"),
    (b"\xc0\xaf", "overlong /"), (b"\xe0\x80\xaf", "3-byte overlong"), (b"\xf0\x80\x80\xaf", "4-byte overlong"),
    (b"\xf4\x90\x80\x80", "above U+10FFFF"), (b"\xf8\x88\x80\x80\x80", "5-byte"), (b"\xfe", "FE"),
    (b"\xff", "FF"), (b"\x80", "lone continuation"), (b"\xc3", "truncated 2-byte"),
    (b"\xe2\x82", "truncated 3-byte"), (b"a\xed\xbf\xbfz", "low surrogate"), (b"\xc1\xbf", "C1 lead"),
]


def cat6_utf8(port):
    for data, what in UTF8_VALID:
        echo_ok(port, OP_TEXT, data, f"6.x valid UTF-8 ({what}) echoed")
    text = "Hello-µ@ßöäüàá-UTF-8!! κόσμε \U0001F600".encode()
    c = WS.connect(port)
    ok = True
    for split in range(1, len(text)):
        c.raw(frame(OP_TEXT, text[:split], fin=False) + frame(OP_CONT, text[split:]))
        ok = ok and c.recv() == (OP_TEXT, text)
    t.ok(ok, "6.2 valid UTF-8 split into two fragments at every byte (inside code points too)")
    c.raw(frame(OP_TEXT, text), chop=1)
    t.eq(c.recv(), (OP_TEXT, text), "6.2.4 valid UTF-8 sent byte by byte")
    c.close()
    for data, what in UTF8_INVALID:
        c = WS.connect(port)
        c.raw(frame(OP_TEXT, data))
        fails(c, 1007, f"6.x invalid UTF-8 ({what}) fails with 1007")
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"\xce\xba\xe1", fin=False) + frame(OP_CONT, b"\xbd\xb9\xcf\x83\xed\xa0\x80", fin=False))
    fails(c, 1007, "6.3 invalid UTF-8 in a continuation fails with 1007 before the message ends")
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80", fin=False))
    fails(c, 1007, "6.4.1 fail fast: 1007 at the first bad fragment, the message never finished")
    c = WS.connect(port)
    good, bad = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5", b"\xf4\x90\x80\x80"
    c.raw(frame(OP_TEXT, good + bad + b"edited" * 100, length=len(good) + len(bad) + 600)[:2 + 2 + 4 + len(good) + len(bad)])
    fails(c, 1007, "6.4.3 fail fast inside one frame: 1007 before the frame's payload is complete")
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"), chop=1)
    fails(c, 1007, "6.3.2 invalid UTF-8 sent byte by byte fails with 1007")
    c = WS.connect(port)
    c.raw(frame(OP_BIN, b"\xff\xfe"))
    t.eq(c.recv(), (OP_BIN, b"\xff\xfe"), "binary messages are not UTF-8 checked")
    c.close()


def cat7_close(port):
    c = WS.connect(port)
    c.raw(frame(OP_CLOSE, close_payload(1000)) + frame(OP_TEXT, b"after close") + frame(OP_PING, b"p"))
    op, data = c.recv()
    t.ok(op == OP_CLOSE and data[:2] == b"\x03\xe8", "7.1.1 close 1000 echoed")
    t.ok(c.wait_eof(3), "7.1.x nothing after the close reply; the server closes TCP", c.buf)
    c.close()
    c = WS.connect(port)
    c.send(OP_CLOSE, b"")
    t.eq(c.recv(), (OP_CLOSE, b""), "7.3.1 empty close answered with an empty close")
    t.ok(c.wait_eof(3), "7.3.1 then TCP closed")
    c.close()
    c = WS.connect(port)
    c.send(OP_CLOSE, b"\x03")
    fails(c, 1002, "7.3.2 close with a 1-byte payload fails with 1002")
    c = WS.connect(port)
    c.send(OP_CLOSE, close_payload(1000, b"x" * 123))
    op, data = c.recv()
    t.ok(op == OP_CLOSE and data[:2] == b"\x03\xe8" and c.wait_eof(3), "7.3.5 close with a 123-byte reason")
    c.close()
    c = WS.connect(port)
    c.raw(frame(OP_CLOSE, close_payload(1000, b"x" * 124)))
    fails(c, 1002, "7.3.6 close payload of 126 bytes fails with 1002")
    c = WS.connect(port)
    c.send(OP_CLOSE, close_payload(1000, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80"))
    fails(c, 1007, "7.5.1 close reason that is not UTF-8 fails with 1007")
    for code in (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
                 4000, 4999):
        c = WS.connect(port)
        c.send(OP_CLOSE, close_payload(code, b"bye"))
        op, data = c.recv()
        t.ok(op == OP_CLOSE and struct.unpack("!H", data[:2])[0] == code and c.wait_eof(3),
             f"7.7 valid close code {code} echoed, TCP closed", data)
        c.close()
    for code in (0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535):
        c = WS.connect(port)
        c.send(OP_CLOSE, close_payload(code))
        fails(c, 1002, f"7.9/7.13 invalid close code {code} fails with 1002")


def cat9_limits(port):
    big = b"x" * (1 << 20)
    echo_ok(port, OP_TEXT, big, "9.1 1 MiB text message echoed")
    echo_ok(port, OP_BIN, big, "9.2 1 MiB binary message echoed")
    echo_ok(port, OP_BIN, big, "9.5 1 MiB binary sent in 64-byte chops", chop=64)
    c = WS.connect(port)
    msg = bytes(range(256)) * (4 << 12)
    frags = [msg[i:i + 65536] for i in range(0, len(msg), 65536)]
    c.raw(b"".join(frame(OP_BIN if i == 0 else OP_CONT, f, fin=i == len(frags) - 1)
                   for i, f in enumerate(frags)))
    t.eq(c.recv(timeout=30) == (OP_BIN, msg), True, "9.3/9.4 4 MiB message in 64 KiB fragments reassembled")
    start = time.time()
    ok = True
    for i in range(200):
        c.send(OP_TEXT, b"r" * 4096)
        ok = ok and c.recv() == (OP_TEXT, b"r" * 4096)
    t.ok(ok, f"9.7 200 round trips of 4 KiB in {time.time() - start:.2f} s")
    c.close()
    c = WS.connect(port)
    c.raw(frame(OP_BIN, b"", length=5 << 20)[:14])
    fails(c, 1009, "a declared length above max-message fails with 1009 before any payload")
    c = WS.connect(port)
    c.raw(frame(OP_BIN, b"a" * (3 << 20), fin=False) + frame(OP_CONT, b"b" * (2 << 20)))
    fails(c, 1009, "fragments adding up past max-message fail with 1009")
    c = WS.connect(port)
    c.raw(bytes([0x82, 0xff]) + struct.pack("!Q", 1 << 63) + b"\0\0\0\0")
    fails(c, 1002, "a 64-bit length with the top bit set fails with 1002")
    c = WS.connect(port)
    c.raw(frame(OP_TEXT, b"plain", mask=False))
    fails(c, 1002, "an unmasked client frame fails with 1002")


def handshake_cases(port):
    c = WS.open(port)
    st = c.handshake(protocols=["other", "fastpush.v1"])
    t.eq((st, c.header("sec-websocket-accept"), c.header("sec-websocket-protocol")),
         (101, accept_key(c.key), "fastpush.v1"), "101 with the exact accept key; our subprotocol echoed")
    t.eq(c.header("sec-websocket-extensions"), None, "no extension accepted")
    c.close()
    c = WS.open(port)
    st = c.handshake(protocols=["other"], headers={"Sec-WebSocket-Extensions":
                                                    "permessage-deflate; client_max_window_bits"})
    t.ok(st == 101 and c.header("sec-websocket-protocol") is None and
         c.header("sec-websocket-extensions") == "permessage-deflate; "
         "server_no_context_takeover; client_no_context_takeover",
         "unknown subprotocol not answered; permessage-deflate taken without context "
         "takeover (test_ws_deflate.py has the rest)", c.response)
    c.close()
    c = WS.open(port)
    raw = c.request_bytes(key="dGhlIHNhbXBsZSBub25jZQ==")
    c.handshake(raw=raw)
    t.eq(c.header("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", "RFC 6455 accept test vector")
    c.close()
    cases = [
        ({"Sec-WebSocket-Version": "99"}, "/ws", 426, "version 99"),
        ({"Sec-WebSocket-Version": None}, "/ws", 426, "missing version"),
        ({"Sec-WebSocket-Key": "short"}, "/ws", 400, "bad key"),
        ({"Sec-WebSocket-Key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}, "/ws", 400, "key of 21 bytes"),
        ({"Sec-WebSocket-Key": None}, "/ws", 400, "missing key"),
        ({"Upgrade": None}, "/ws", 426, "missing Upgrade"),
        ({"Upgrade": "h2c"}, "/ws", 426, "Upgrade other than websocket"),
        ({"Connection": None}, "/ws", 400, "missing Connection"),
        ({"Connection": "keep-alive"}, "/ws", 400, "Connection without upgrade"),
        ({"Host": None}, "/ws", 400, "missing Host"),
        ({}, "/other", 404, "unknown path"),
    ]
    for headers, path, status, what in cases:
        c = WS.open(port)
        st = c.handshake(path=path, headers=headers)
        extra = ""
        if status == 426 and "version" in what:
            extra = c.header("sec-websocket-version")
        ok = st == status and (extra == "13" if "version" in what else True) and \
            b"fastpush-ws:" in getattr(c, "body", b"") and c.wait_eof(3)
        t.ok(ok, f"handshake {what} -> {status} with a text body, then closed", c.response)
        c.close()
    c = WS.open(port)
    st = c.handshake(headers={"Connection": "keep-alive, Upgrade", "Upgrade": "WebSocket"},
                     path="/ws?ticket=abc")
    t.eq(st, 101, "Connection token list, Upgrade case-insensitive, query string ignored for routing")
    c.close()
    c = WS.open(port)
    c.handshake(raw=b"POST /ws HTTP/1.1\r\nHost: x\r\n\r\n")
    t.eq((c.status, c.header("allow")), (405, "GET"), "POST -> 405 Allow: GET")
    c.close()
    c = WS.open(port)
    c.handshake(raw=WS(None).request_bytes().replace(b"HTTP/1.1", b"HTTP/1.0", 1))
    t.eq(c.status, 400, "HTTP/1.0 -> 400")
    c.close()
    c = WS.open(port)
    c.handshake(raw=b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    t.eq(c.status, 431, "header over max-header -> 431")
    c.close()
    c = WS.open(port)
    c.raw(b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000)
    c.read_response()
    t.eq(c.status, 431, "431 as soon as the header is too large, before it ends")
    c.close()
    c = WS.open(port)
    c.sock.sendall(c.request_bytes() + frame(OP_TEXT, b"pipelined"))
    c.read_response()
    t.eq(c.recv(), (OP_TEXT, b"pipelined"), "a frame sent with the request is processed")
    c.close()


def origin_cases(env):
    w = start_ws(env, "ws-origin", echo="on", origin=["https://app.example", "http://localhost:8080"],
                 allow_no_origin="off")
    for origin, want in (("https://app.example", 101), ("HTTPS://APP.EXAMPLE", 101),
                         ("http://localhost:8080", 101), ("https://evil.example", 403),
                         ("http://localhost:8081", 403), ("https://app.example.evil", 403),
                         ("null", 403), (None, 403)):
        c = WS.open(w.port)
        st = c.handshake(headers={"Origin": origin} if origin else {})
        t.eq(st, want, f"origin allowlist: {origin} -> {want}")
        c.close()
    t.ok("refused: 403 origin not allowed" in w.read_log(), "refusals are logged with the reason")


def slowloris_and_timers(env):
    w = start_ws(env, "ws-timers", echo="on", handshake_timeout="500ms", close_timeout="500ms",
                 heartbeat="300ms", heartbeat_misses=2, max_connections=3)
    c = WS.open(w.port)
    c.raw(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
    start = time.time()
    t.ok(c.wait_eof(3) and time.time() - start < 2, "slowloris: an unfinished request is dropped "
         f"after handshake-timeout ({time.time() - start:.2f} s)")
    c.close()
    c = WS.connect(w.port)
    op, data = c.recv(timeout=2)
    t.eq((op, data), (OP_PING, b""), "heartbeat: a silent client is pinged")
    code, _ = c.recv_close(timeout=3)
    t.eq(code, 1001, "heartbeat: a client that never answers is closed with 1001")
    t.ok(c.wait_eof(2), "... and its TCP connection closed after close-timeout")
    c.close()
    c = WS.connect(w.port)
    alive = True
    end = time.time() + 1.5
    while time.time() < end and alive:
        try:
            op, data = c.recv(timeout=0.5)
            if op == OP_PING:
                c.send(OP_PONG, data)
            elif op == OP_CLOSE:
                alive = False
        except TimeoutError:
            pass
    t.ok(alive, "heartbeat: a client answering pings stays open")
    c.send(OP_TEXT, b"still here")
    got = c.recv()
    while got[0] == OP_PING:            # heartbeat pings may come first
        c.send(OP_PONG, got[1])
        got = c.recv()
    t.eq(got, (OP_TEXT, b"still here"), "... and works")
    c.send(OP_CLOSE, close_payload(1000))
    c.recv_close()
    c.close()
    # close timer: we fail the connection; the client never answers the close
    c = WS.connect(w.port)
    c.raw(frame(OP_TEXT, b"x", mask=False))
    code, _ = c.recv_close()
    start = time.time()
    t.ok(code == 1002 and c.wait_eof(3), f"after a protocol error TCP is closed without waiting "
         f"for the client ({time.time() - start:.2f} s)")
    c.close()
    # max-connections
    held = [WS.connect(w.port) for _ in range(3)]
    c = WS.open(w.port)
    t.eq(c.handshake(), 503, "max-connections: the next handshake gets 503")
    c.close()
    for h in held:
        h.close()


t.note("Autobahn-style cases against echo mode")
with Env(t) as env:
    ws = start_ws(env, echo="on", max_message="4m")
    p = ws.port
    handshake_cases(p)
    cat1_framing(p)
    cat2_ping(p)
    cat3_rsv(p)
    cat4_opcodes(p)
    cat5_fragments(p)
    cat6_utf8(p)
    cat7_close(p)
    cat9_limits(p)
    origin_cases(env)
    slowloris_and_timers(env)
    t.ok(ws.alive(), "the bridge survived every case")
t.done()
