"""fastpush-ws JSON protocol through a real broker: subscribe from a
cursor, live events, resets, keyed snapshots, publish, errors that keep
the connection open, unsubscribe, the slow-reader cut with its cursor,
SIGTERM, a broker restart mid-stream, and several workers on one port."""
import json
import signal
import struct
import time

from harness import Env, Tap, wait_for
from wsclient import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WS, close_payload, frame, start_ws

t = Tap()


def jsend(c, obj):
    c.send(OP_TEXT, json.dumps(obj).encode() if not isinstance(obj, (bytes, str)) else obj)


def jrecv(c, timeout=5.0):
    """The next JSON message (pings answered); None on timeout."""
    end = time.time() + timeout
    while True:
        try:
            op, data = c.recv(timeout=max(0.01, end - time.time()))
        except TimeoutError:
            return None
        if op == OP_PING:
            c.send(OP_PONG, data)
            continue
        if op == OP_CLOSE:
            return {"_close": struct.unpack("!H", data[:2])[0] if len(data) >= 2 else None}
        return json.loads(data)


def jcollect(c, until, timeout=5.0):
    """Messages until until(msg) is true for one (inclusive)."""
    out = []
    end = time.time() + timeout
    while time.time() < end:
        m = jrecv(c, end - time.time())
        if m is None:
            break
        out.append(m)
        if until(m):
            break
    return out


def is_type(ty):
    return lambda m: m.get("type") == ty


def ready_of(msgs):
    return next((m for m in msgs if m.get("type") == "ready"), None)


def events(msgs):
    return [m for m in msgs if "id" in m and "type" not in m]


def subscribe(c, channels, since=None, ref=None, timeout=5.0):
    msg = {"type": "subscribe", "channels": channels}
    if since is not None:
        msg["since"] = since
    if ref is not None:
        msg["ref"] = ref
    jsend(c, msg)
    return jcollect(c, is_type("ready"), timeout)


def check_live_and_cursor(env, b, w):
    epoch = b.request("PING")[1]["epoch"]
    c = WS.connect(w.port, protocols=["fastpush.v1"])
    got = subscribe(c, ["news", "sport"], ref={"n": 1})
    r = ready_of(got)
    t.ok(r and r["channels"] == ["news", "sport"] and r["ref"] == {"n": 1} and
         r["cursor"].startswith(epoch + "-"), "subscribe from now: ready with channels, cursor, ref", got)
    sub = b.subscriber("news")
    time.sleep(0.2)
    b.publish("news", {"a": 1})
    b.publish("other", 0)
    b.publish("sport", "text", event="score")
    raw = sub.recv_multipart() if sub.poll(2000) else [b"", b"{}"]
    while b'"sync"' in raw[1] and sub.poll(2000):
        raw = sub.recv_multipart()
    evs = jcollect(c, lambda m: m.get("channel") == "sport")
    t.eq([(e["channel"], e["data"]) for e in evs], [("news", {"a": 1}), ("sport", "text")],
         "live events of the subscribed channels only, in order")
    c.send(OP_TEXT, b'{"type":"ping","ref":7}')
    op, text = c.recv()
    t.eq(json.loads(text), {"type": "pong", "ref": 7}, "ping -> pong with ref")
    t.ok(evs and json.dumps(evs[0], separators=(",", ":")).encode() == raw[1],
         "the event is the broker's canonical JSON, byte for byte", (evs[:1], raw))
    t.eq(evs[1]["event"], "score", "event type kept")
    sub.close()
    # resume from a cursor in a new connection: missed events, then ready
    cursor = evs[0]["id"]
    b.publish("news", {"a": 2})
    c2 = WS.connect(w.port)
    got = subscribe(c2, ["news", "sport"], since=cursor)
    t.eq([e["data"] for e in events(got)], ["text", {"a": 2}],
         "subscribe since a cursor: the missed events first, then ready")
    t.eq(ready_of(got)["cursor"], f"{epoch}-{b.request('PING')[1]['head']}", "ready carries the head cursor")
    c3 = WS.connect(w.port)
    got = subscribe(c3, ["news"], since="earliest")
    t.eq([e["data"] for e in events(got)], [{"a": 1}, {"a": 2}], "since earliest: the whole history")
    t.eq(jrecv(c).get("data"), {"a": 2}, "the first connection got that event live")
    b.publish("news", {"a": 3})
    for cc, name in ((c, "first"), (c2, "resumed"), (c3, "earliest")):
        m = jrecv(cc)
        t.eq(m and m.get("data"), {"a": 3}, f"live event reaches the {name} connection once")
        t.eq(jrecv(cc, 0.2), None, f"... and nothing else ({name})")

    def ws_report():
        reps = b.request("STATS")[1].get("responders", [])
        return next((r for r in reps if r["transport"] == "ws" and
                     r["stats"]["streams"] == 3), None)
    rep = wait_for(ws_report, 7, 0.2)
    t.ok(rep and rep["stats"]["upgraded"] >= 3 and rep["stats"]["broker_up"],
         "the bridge reports its connections to the broker (STATS responders)",
         b.request("STATS")[1].get("responders"))
    for cc in (c, c2, c3):
        cc.close()


def check_resets_and_snapshot(env):
    b = env.broker("broker-r", history_count=3)
    w = start_ws(env, "ws-r", broker=b)
    epoch = b.request("PING")[1]["epoch"]
    for i in range(6):
        b.publish("tr", i)
    c = WS.connect(w.port)
    got = subscribe(c, ["tr"], since=f"{epoch}-1", ref="r1")
    resets = [m for m in got if m.get("type") == "reset"]
    t.eq(resets, [{"type": "reset", "channel": "tr", "reason": "trimmed", "snapshot": False, "ref": "r1"}],
         "a trimmed cursor gets an explicit reset")
    t.eq([e["data"] for e in events(got)], [3, 4, 5], "then what history still has")
    c.close()
    c = WS.connect(w.port)
    got = subscribe(c, ["tr"], since="zzzz-3")
    t.eq([m.get("reason") for m in got if m.get("type") == "reset"], ["epoch"],
         "a cursor of another epoch gets an epoch reset")
    c.close()
    for k, v in (("x", 1), ("y", 1), ("x", 2), ("z", 1), ("w", 1)):
        b.publish("kv", {"v": v}, key=k)
    c = WS.connect(w.port)
    got = subscribe(c, ["kv"], since=f"{epoch}-1")
    r = [m for m in got if m.get("type") == "reset"]
    snaps = [m for m in got if m.get("snapshot") is True and "id" in m]
    t.ok(r and r[0]["snapshot"] is True, "keyed channel: reset with snapshot", got)
    t.eq(sorted((m["key"], m["data"]["v"]) for m in snaps), [("w", 1), ("x", 2), ("y", 1), ("z", 1)],
         "the snapshot is the latest value per key")
    t.ok(all(list(m.keys())[0] == "snapshot" for m in snaps), "snapshot events start with \"snapshot\":true")
    c.close()


def check_errors(env, b, w):
    c = WS.connect(w.port)
    cases = [
        (b"{not json", "invalid_json"),
        (b"[1,2]", "bad_request"),
        (b'{"ref":1}', "bad_request"),
        (b'{"type":"frobnicate","ref":"x"}', "unknown_type"),
        (b'{"type":"subscribe","channels":"news"}', "bad_request"),
        (b'{"type":"subscribe","channels":[]}', "bad_request"),
        (b'{"type":"subscribe","channels":["bad name"]}', "bad_channel"),
        (b'{"type":"subscribe","channels":["' + b"x" * 129 + b'"]}', "bad_channel"),
        (b'{"type":"subscribe","channels":["a","a"]}', "bad_channel"),
        (b'{"type":"subscribe","channels":["a"],"since":"nonsense"}', "bad_cursor"),
        (b'{"type":"subscribe","channels":["a"],"since":"abc-007"}', "bad_cursor"),
        (b'{"type":"subscribe","channels":["a"],"since":5}', "bad_cursor"),
        (b'{"type":"unsubscribe","channels":["never"]}', "not_subscribed"),
        (b'{"type":"publish","channel":"a","data":1}', "forbidden"),
        (b'{"type":"ping","ref":"' + b"r" * 300 + b'"}', "bad_request"),
    ]
    for text, code in cases:
        c.send(OP_TEXT, text)
        m = jrecv(c)
        t.ok(m and m.get("type") == "error" and m.get("error") == code and m.get("message"),
             f"{text[:40]!r} -> error {code}", m)
    time.sleep(1.1)                     # a full budget
    c.raw(b"".join(frame(OP_TEXT, b'{"type":"ping"}') for _ in range(130)))
    got = [jrecv(c) for _ in range(130)]
    limited = [m for m in got if m and m.get("error") == "rate_limited"]
    t.ok(20 <= len(limited) <= 32 and len([m for m in got if m and m.get("type") == "pong"]) + len(limited) == 130,
         f"message-rate 100: a burst of 130 pings -> {len(limited)} rate_limited errors", got[-3:])
    time.sleep(1.1)
    c.send(0x2, b"\x01\x02")
    m = jrecv(c)
    t.eq(m and m.get("error"), "bad_request", "a binary message -> error")
    c.send(OP_TEXT, b'{"type":"frobnicate","ref":[1,"x"]}')
    t.eq(jrecv(c).get("ref"), [1, "x"], "errors carry the message's ref")
    got = subscribe(c, ["a"])
    t.ok(ready_of(got), "the connection is still usable after every error")
    jsend(c, {"type": "subscribe", "channels": ["b", "a"]})
    t.eq(jrecv(c).get("error"), "already_subscribed", "a channel subscribed twice -> error")
    for i in range(16):
        jsend(c, {"type": "subscribe", "channels": [f"s{i}"]})
    m = jcollect(c, lambda m: m.get("type") == "error", timeout=3)
    t.eq(m and m[-1].get("error"), "limit_exceeded", "max-subscriptions -> limit_exceeded")
    jsend(c, {"type": "subscribe", "channels": [f"m{i}" for i in range(65)]})
    m = jcollect(c, lambda m: m.get("type") == "error", timeout=3)
    t.eq(m and m[-1].get("error"), "limit_exceeded", "max-channels -> limit_exceeded")
    c.close()


def check_unsubscribe(env, b, w):
    c = WS.connect(w.port)
    subscribe(c, ["u1", "u2", "u3"], ref="s")
    jsend(c, {"type": "unsubscribe", "channels": ["u2"], "ref": "un"})
    m = jcollect(c, is_type("unsubscribed"))
    t.eq(m[-1], {"type": "unsubscribed", "channels": ["u2"], "ref": "un"}, "partial unsubscribe acknowledged")
    jcollect(c, is_type("ready"), timeout=3)
    for ch in ("u1", "u2", "u3"):
        b.publish(ch, ch)
    evs = jcollect(c, lambda m: m.get("channel") == "u3")
    t.eq([e.get("data") for e in evs], ["u1", "u3"], "remaining channels keep flowing, the removed one stops")
    jsend(c, {"type": "unsubscribe", "channels": ["u1", "u3"]})
    t.eq(jrecv(c).get("channels"), ["u1", "u3"], "unsubscribe the rest")
    b.publish("u1", "late")
    t.eq(jrecv(c, 0.5), None, "nothing after unsubscribing")
    c.close()


def check_publish(env, b):
    w = start_ws(env, "ws-pub", broker=b, publish="on")
    c = WS.connect(w.port)
    subscribe(c, ["pubc"])
    jsend(c, {"type": "publish", "channel": "pubc", "event": "chat", "data": {"m": "hi"}, "ref": 9})
    got = jcollect(c, lambda m: m.get("type") == "published" or "id" in m and "type" not in m)
    got += jcollect(c, lambda m: True, timeout=2)
    pub = next((m for m in got if m.get("type") == "published"), {})
    ev = next((m for m in got if m.get("channel") == "pubc"), {})
    t.ok(pub.get("ref") == 9 and pub.get("id") == ev.get("id") and ev.get("data") == {"m": "hi"}
         and ev.get("event") == "chat", "publish forwarded: published with the id, event delivered", got)
    jsend(c, {"type": "publish", "channel": "bad name", "data": 1, "ref": "p2"})
    m = jrecv(c)
    t.ok(m.get("type") == "error" and m.get("error") == "invalid_event" and m.get("ref") == "p2",
         "a publish the broker refuses -> its error code", m)
    jsend(c, {"type": "ping"})
    t.eq(jrecv(c), {"type": "pong"}, "still open")
    c.close()


def check_slow_reader(env, b):
    w = start_ws(env, "ws-slow", broker=b, max_queue="32k", slow_timeout="1500ms",
                 close_timeout="20s")
    c = WS.connect(w.port, rcvbuf=4096)
    got = subscribe(c, ["slow"])
    start = ready_of(got)["cursor"]
    payload = "z" * 2000
    n = 0
    # publish until the bridge cuts the client (it is not reading)
    while n < 3000:
        b.publish("slow", {"i": n, "p": payload})
        n += 1
        if n % 100 == 0 and "slow_consumers 1" in (w.send_signal(signal.SIGUSR1) or
                                                   time.sleep(0.2) or w.read_log()):
            break
    t.ok("slow_consumers 1" in w.read_log(), f"the slow consumer is counted (after {n} events)")
    msgs = jcollect(c, lambda m: "_close" in m, timeout=20)
    evs = events(msgs)
    err = next((m for m in msgs if m.get("type") == "error"), {})
    t.eq(err.get("error"), "slow_consumer", "a slow_consumer error message")
    t.eq(msgs[-1].get("_close"), 1008, "then close 1008")
    t.ok(evs and err.get("cursor") == evs[-1]["id"] and err["subscriptions"][0]["cursor"] == evs[-1]["id"],
         "its cursor is the id of the last event delivered before it", err)
    t.eq([e["data"]["i"] for e in evs], list(range(len(evs))), "no event lost or repeated before the cut")
    c.close()
    c = WS.connect(w.port)
    got = subscribe(c, ["slow"], since=err.get("cursor") or start, timeout=10)
    rest = [e["data"]["i"] for e in events(got)]
    t.eq([e["data"]["i"] for e in evs] + rest, list(range(n)),
         "resuming from that cursor delivers exactly the rest (a catch-up burst past max-queue)")
    c.close()


def check_broker_restart(env):
    b = env.broker("broker-x")
    w = start_ws(env, "ws-x", broker=b)
    c = WS.connect(w.port)
    subscribe(c, ["rs"])
    for i in range(5):
        b.publish("rs", i)
    first = events(jcollect(c, lambda m: m.get("data") == 4))
    b.restart()
    wait_for(lambda: b.request("PING")[0] == "OK", 5)
    time.sleep(1.5)
    for i in range(5, 10):
        b.publish("rs", i)
    msgs = jcollect(c, lambda m: m.get("data") == 9, timeout=10)
    resets = [m for m in msgs if m.get("type") == "reset"]
    t.eq([e["data"] for e in first + events(msgs)], list(range(10)),
         "broker restart mid-stream: every event once, in order")
    t.eq([(r["channel"], r["reason"]) for r in resets], [("rs", "epoch")],
         "the lost history is told as an epoch reset")
    c.close()


def check_sigterm_and_workers(env):
    b = env.broker("broker-w")
    w = start_ws(env, "ws-w", broker=b, workers=2)
    conns = [WS.connect(w.port) for _ in range(12)]
    for c in conns:
        subscribe(c, ["all"])
    b.publish("all", "hello")
    got = [jrecv(c) for c in conns]
    t.ok(all(m and m.get("data") == "hello" for m in got), "two workers: every connection gets the event")
    log = w.read_log()
    t.ok("worker 0: listening" in log and "worker 1: listening" in log, "both workers listen on the port")
    w.send_signal(signal.SIGTERM)
    codes = [c.recv_close(timeout=5)[0] for c in conns]
    t.eq(set(codes), {1001}, "SIGTERM: every client gets close 1001")
    for c in conns:
        c.send(OP_CLOSE, close_payload(1001))
        c.close()
    t.eq(w.stop(), 0, "the master and its workers exit 0")
    # a worker that dies is restarted
    w2 = start_ws(env, "ws-w2", broker=b, workers=2)
    pids = [int(x.split("fastpush-ws[")[1].split("]")[0]) for x in w2.read_log().splitlines()
            if "listening" in x]
    import os
    os.kill(pids[0], signal.SIGKILL)
    t.ok(wait_for(lambda: w2.read_log().count("listening on") >= 3, 5), "a killed worker is restarted")
    c = WS.connect(w2.port)
    t.ok(ready_of(subscribe(c, ["x"])), "and the port still serves")
    c.close()


def check_report_once(b):
    """One REPORT per worker every 5 s (the bridge once had two timers
    and sent two): over 10.6 s after a report, exactly two more."""
    def count():
        reps = b.request("STATS")[1].get("responders", [])
        return next((r["reports"] for r in reps if r["transport"] == "ws"), 0)
    first = count()
    t.ok(wait_for(lambda: count() > first, 7, 0.05), "the bridge sends REPORTs", first)
    c0 = count()
    time.sleep(10.6)
    t.eq(count() - c0, 2, "one REPORT every 5 s, not two")


with Env(t) as env:
    b = env.broker()
    w = start_ws(env, broker=b)
    check_live_and_cursor(env, b, w)
    check_errors(env, b, w)
    check_unsubscribe(env, b, w)
    check_publish(env, b)
    check_slow_reader(env, b)
    check_report_once(b)
with Env(t) as env:
    check_resets_and_snapshot(env)
with Env(t) as env:
    check_broker_restart(env)
with Env(t) as env:
    check_sigterm_and_workers(env)
t.done()
