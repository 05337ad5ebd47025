"""What fastpush-sse must show behind a real web server: the checks that
test_sse_lighttpd.py, test_sse_apache.py and test_sse_nginx.py run against
their server (servers.Stack), and the helpers the other test_sse_* files
share.

Each check opens its own streams on its own channels; the stacks differ in
the broker's and fastpush-sse's settings (run_all).
"""
import json
import signal
import statistics
import subprocess
import threading
import time

import zmq

from servers import Stack
from sseclient import payload

MAX_DELAY_MS = 200          # publish -> receipt, per event


def open_stream(st, path, headers=None, timeout=5.0):
    """A stream and the items up to its ready event: (client, events before
    ready, the ready event or None)."""
    c = st.stream(path, headers=headers)
    before = []
    while True:
        ev = c.next_event(timeout)
        if ev is None or ev.get("event") == "ready":
            return c, before, ev
        before.append(ev)


def burst(broker, ctx, channels, n, size):
    """Publish n events (cycling over channels, `size` bytes of padding)
    through the fire-and-forget PULL socket; wait until the broker has
    numbered them all.  Returns the SEQ of the first one."""
    first = broker.request("PING")[1]["head"] + 1
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 5000)
    push.setsockopt(zmq.SNDHWM, 0)
    push.connect(broker.ingest)
    pad = "x" * size
    for i in range(n):
        push.send(json.dumps({"channel": channels[i % len(channels)],
                              "data": {"i": i, "pad": pad}}).encode())
    push.close()
    end = time.monotonic() + 30
    while broker.request("PING")[1]["head"] < first + n - 1 and time.monotonic() < end:
        time.sleep(0.05)
    return first


def seqs(evs):
    return [int(e["id"].rsplit("-", 1)[1]) for e in evs if "id" in e]


def note_delays(t, what, delays):
    t.note(f"{what}: publish->receipt p50 {statistics.median(delays):.1f} ms, "
           f"max {max(delays):.1f} ms over {len(delays)} events")


# ---------------------------------------------------------------- stack A

def check_live(t, st):
    """Headers, retry, ready, then every event at once (no buffering)."""
    k = st.kind
    c = st.stream("/events/live1,live2")
    t.eq(c.status, 200, f"{k}: a stream answers 200")
    t.eq(c.headers.get("content-type"), "text/event-stream; charset=utf-8",
         f"{k}: Content-Type text/event-stream; charset=utf-8")
    t.ok("no-cache" in c.headers.get("cache-control", ""), f"{k}: Cache-Control no-cache", c.headers)
    first = c.next(5)
    t.eq(first and first.get("retry"), "2000", f"{k}: the stream starts with retry: 2000")
    ready = c.next_event(5)
    t.ok(ready and ready.get("event") == "ready" and
         payload(ready) == {"cursor": ready.get("id")}, f"{k}: then event: ready with id = cursor", ready)
    delays, ok = [], True
    for i in range(10):
        ch = ("live1", "live2")[i % 2]
        t0 = time.monotonic()
        meta = st.broker.publish(ch, {"n": i}, event="tick" if i == 9 else "message")
        ev = c.next_event(2)
        if ev is None:
            ok = False
            break
        delays.append((ev["t"] - t0) * 1000)
        p = payload(ev)
        ok = ok and ev.get("id") == meta["id"] and p["id"] == meta["id"] and \
            p["channel"] == ch and p["data"] == {"n": i} and \
            ev.get("event") == ("tick" if i == 9 else "message")
    t.ok(ok and len(delays) == 10, f"{k}: 10 events arrive with id, type and canonical JSON")
    if delays:
        note_delays(t, k, delays)
        t.ok(max(delays) < MAX_DELAY_MS, f"{k}: every event within {MAX_DELAY_MS} ms (not buffered)",
             f"delays ms: {[round(d, 1) for d in delays]}")
    c.close()
    c, _, ready = open_stream(st, "/events?channel=live1&channel=live2")
    st.broker.publish("live2", "q")
    ev = c.next_event(2)
    t.ok(ready and ev and payload(ev)["data"] == "q", f"{k}: PREFIX?channel=a&channel=b works too")
    c.close()


def check_resume(t, st):
    """Last-Event-ID after a dropped connection: no loss, no duplicate."""
    k = st.kind
    c, _, ready = open_stream(st, "/events/res")
    ids = [st.broker.publish("res", i)["id"] for i in range(3)]
    got = c.events_until(lambda e: len(e) >= 3, 3)
    t.eq([e.get("id") for e in got], ids, f"{k}: live events before the drop")
    c.close()
    missed = [st.broker.publish("res", 10 + i)["id"] for i in range(4)]
    c, before, ready = open_stream(st, "/events/res", headers={"Last-Event-ID": ids[-1]})
    t.eq([e.get("id") for e in before], missed, f"{k}: Last-Event-ID: exactly the missed events, in order")
    t.eq(ready and ready.get("id"), missed[-1], f"{k}: ready carries the last missed id")
    new = st.broker.publish("res", 99)["id"]
    ev = c.next_event(2)
    t.eq(ev and ev.get("id"), new, f"{k}: then live events, no duplicate")
    c.close()
    # query forms, and the header wins over the query (a browser reconnecting
    # to a URL that carries the page's first cursor)
    c, before, _ = open_stream(st, f"/events/res?last_event_id={ids[0]}")
    t.eq([e.get("id") for e in before], ids[1:] + missed + [new], f"{k}: ?last_event_id= resumes")
    c.close()
    c, before, _ = open_stream(st, f"/events/res?since={ids[0]}", headers={"Last-Event-ID": missed[-1]})
    t.eq([e.get("id") for e in before], [new], f"{k}: Last-Event-ID wins over ?since=")
    c.close()
    c, before, _ = open_stream(st, "/events/res?since=earliest")
    t.eq([e.get("id") for e in before], ids + missed + [new], f"{k}: ?since=earliest replays the history")
    c.close()


def check_trimmed(t, st):
    """History trimmed past the cursor: an explicit reset (broker keeps 10)."""
    k = st.kind
    c, _, _ = open_stream(st, "/events/trim")
    cur = st.broker.publish("trim", 0)["id"]
    c.next_event(2)
    c.close()
    ids = [st.broker.publish("trim", i)["id"] for i in range(1, 16)]
    c, before, ready = open_stream(st, "/events/trim", headers={"Last-Event-ID": cur})
    first = before[0] if before else {}
    t.ok(first.get("event") == "reset" and "id" not in first and
         payload(first) == {"channel": "trim", "reason": "trimmed", "snapshot": False},
         f"{k}: reset (trimmed, no snapshot) for a cursor older than the history", before[:2])
    t.eq([e.get("id") for e in before[1:]], ids[-10:], f"{k}: then what history still holds, in order")
    t.eq(ready and ready.get("id"), ids[-1], f"{k}: then ready")
    c.close()


def check_snapshot(t, st):
    """Keyed channel trimmed past the cursor: reset with a snapshot."""
    k = st.kind
    c, _, _ = open_stream(st, "/events/kv")
    cur = st.broker.publish("kv", {"v": 0}, key="a")["id"]
    c.next_event(2)
    c.close()
    latest = {}
    for i in range(1, 15):
        key = "abc"[i % 3]
        latest[key] = st.broker.publish("kv", {"v": i}, key=key)["id"]
    c, before, ready = open_stream(st, "/events/kv", headers={"Last-Event-ID": cur})
    t.ok(before and before[0].get("event") == "reset" and
         payload(before[0]) == {"channel": "kv", "reason": "trimmed", "snapshot": True},
         f"{k}: reset with snapshot:true on a trimmed keyed channel", before[:1])
    snap = before[1:]
    t.ok(snap and all("id" not in e and e["data"].startswith('{"snapshot":true') for e in snap),
         f"{k}: snapshot events carry no id and start with \"snapshot\":true", snap[:1])
    t.eq(sorted((payload(e)["key"], payload(e)["id"]) for e in snap), sorted(latest.items()),
         f"{k}: the snapshot is the latest event per key")
    t.eq(ready and ready.get("id"), max(latest.values(), key=lambda i: int(i.rsplit("-", 1)[1])),
         f"{k}: then ready at the head")
    c.close()


def check_heartbeat(t, st):
    """Comments after `heartbeat` (1 s) of silence keep the stream open
    (streams are checked once a second, so one comes every 1-2 s)."""
    k = st.kind
    c, _, _ = open_stream(st, "/events/quiet")
    end = time.monotonic() + 4.2
    hbs = []
    while time.monotonic() < end:
        it = c.next(max(0.0, end - time.monotonic()))
        if it and it.get("comment") == "hb":
            hbs.append(it["t"])
    t.ok(len(hbs) >= 2 and not c.eof, f"{k}: ': hb' comments on a quiet stream ({len(hbs)} in 4.2 s)")
    ev_id = st.broker.publish("quiet", 1)["id"]
    ev = c.next_event(2)
    t.eq(ev and ev.get("id"), ev_id, f"{k}: the stream still delivers after heartbeats")
    c.close()


def check_disconnect(t, st, n=5):
    """Closed clients are noticed (nginx at once, lighttpd/Apache at the
    next writes: heartbeats) and their streams freed."""
    k = st.kind
    clients = [open_stream(st, f"/events/gone{i}")[0] for i in range(n)]
    # (earlier checks' closed streams go at their next heartbeat)
    base = st.wait_stats(lambda s: s["streams"] == n, 20)
    t.eq(base.get("streams"), n, f"{k}: {n} open streams reported")
    for c in clients:
        c.close()
    t0 = time.monotonic()
    s = st.wait_stats(lambda s: s["streams"] == 0, 20)
    t.ok(s.get("streams") == 0 and s.get("gone", 0) - base.get("gone", 0) >= n,
         f"{k}: closed clients' streams are gone ({time.monotonic() - t0:.1f} s incl. the 5 s report)", s)


def check_broker_restart(t, st):
    """Broker restart without a store: new epoch, explicit resets, then
    live events of the new epoch."""
    k = st.kind
    c, _, _ = open_stream(st, "/events/rs1,rs2")
    old = st.broker.publish("rs1", "before")["id"]
    c.next_event(2)
    st.broker.restart()
    got = c.events_until(lambda e: any(x.get("event") == "ready" for x in e), 10)
    resets = sorted(payload(e)["channel"] for e in got if e.get("event") == "reset" and
                    payload(e)["reason"] == "epoch")
    t.eq(resets, ["rs1", "rs2"], f"{k}: broker restart: an epoch reset per channel on the open stream")
    ready = got[-1] if got else {}
    epoch = st.broker.request("PING")[1]["epoch"]
    t.ok(ready.get("event") == "ready" and ready.get("id", "").startswith(epoch + "-"),
         f"{k}: then ready with a cursor of the new epoch", got)
    new = st.broker.publish("rs2", "after")["id"]
    ev = c.next_event(3)
    t.eq(ev and ev.get("id"), new, f"{k}: live events after the restart")
    c.close()
    c, before, ready = open_stream(st, "/events/rs1,rs2", headers={"Last-Event-ID": old})
    t.eq([(e.get("event"), payload(e).get("reason")) for e in before[:2]],
         [("reset", "epoch"), ("reset", "epoch")], f"{k}: an old-epoch Last-Event-ID gets epoch resets")
    t.eq([e.get("id") for e in before[2:]], [new], f"{k}: then the new epoch's history")
    c.close()


def check_sigterm(t, st):
    """SIGTERM: every stream ends with a proper end of response, exit 0."""
    k = st.kind
    clients = [open_stream(st, f"/events/term{i}")[0] for i in range(3)]
    st.sse.send_signal(signal.SIGTERM)
    ended = [c.read_to_end(5) and c.ended for c in clients]
    t.ok(all(ended), f"{k}: SIGTERM ends every stream properly (last chunk)", ended)
    t.eq(st.sse.stop(), 0, f"{k}: fastpush-sse exits 0 after SIGTERM")
    for c in clients:
        c.close()


# ---------------------------------------------------------------- stack B

def check_gap(t, st, ctx):
    """Fanout drops (tiny fanout-hwm) while fastpush-sse is stopped: the
    gap is backfilled.  A one-channel stream has every event once, in
    order.  A two-channel stream too, except that a drop on one channel
    shown only after an event of the other got through comes late: still
    delivered once, but without an SSE id, so the stream's Last-Event-ID
    never moves back."""
    k = st.kind
    one, _, _ = open_stream(st, "/events/g1")
    two, _, _ = open_stream(st, "/events/g1,g2")
    st.sse.send_signal(signal.SIGSTOP)
    n = 3000
    try:
        first = burst(st.broker, ctx, ["g1", "g2"], n, 600)
    finally:
        st.sse.send_signal(signal.SIGCONT)
    odd = list(range(first, first + n, 2))
    got = one.events_until(lambda e: len(e) >= len(odd), 30)
    t.ok(seqs(got) == odd and len(got) == len(odd),
         f"{k}: one channel: every event of the burst once, in order",
         f"{len(got)} events, {seqs(got)[:3]}..{seqs(got)[-3:]}")
    want = list(range(first, first + n))
    got = two.events_until(lambda e: seqs(e)[-1:] == [want[-1]], 30)
    data = [e for e in got if e.get("event") not in ("reset", "ready")]
    s = [payload(e)["seq"] for e in data]
    ided = [payload(e)["seq"] for e in data if e.get("id")]
    late = [payload(e)["seq"] for e in data if not e.get("id")]
    resets = [payload(e) for e in got if e.get("event") == "reset"]
    t.ok(sorted(s) == want and len(s) == len(set(s)) and ided == sorted(ided) and
         not resets and all(x < max(ided) for x in late),
         f"{k}: two channels: every event once; ids in order, late ones without an id "
         f"({len(late)} late)",
         f"{len(s)} events, missing {sorted(set(want) - set(s))[:10]}, late {late[:10]}, "
         f"resets {resets}")
    x = st.wait_stats(lambda x: x["gaps"] > 0 and x["backfilled"] > 0, 10)
    t.ok(x.get("gaps", 0) > 0 and x.get("backfilled", 0) > 0,
         f"{k}: the fanout dropped events and the hub backfilled them", x)
    one.close()
    two.close()


# ---------------------------------------------------------------- stack C

def check_catch_up(t, st, ctx):
    """A resume that misses more than max-buffer (64k) plus what the
    sockets on the way hold (about 7 MB) arrives over several connections,
    each ending properly, every event once, in order (regression: the
    stream was cut before writing anything, forever)."""
    k = st.kind
    c, _, _ = open_stream(st, "/events/cu")
    cur = st.broker.publish("cu", 0)["id"]
    c.next_event(2)
    c.close()
    n = 2000
    first = burst(st.broker, ctx, ["cu"], n, 5000)
    got, conns, clean = [], 0, []
    while conns < 40:
        conns += 1
        # the first time the browser is busy for a moment: the catch-up
        # cannot drain at once, so its stream is cut
        c = st.stream("/events/cu", headers={"Last-Event-ID": cur},
                      rcvbuf=16384 if conns == 1 else None)
        if conns == 1:
            time.sleep(1)
        evs = c.events_until(lambda e: e and e[-1].get("event") == "ready", 10)
        ready = evs and evs[-1].get("event") == "ready"
        got += [e for e in evs if e.get("event") == "message"]
        if got:
            cur = got[-1]["id"]
        if ready:
            c.close()
            break
        clean.append(c.read_to_end(3) and c.ended)
        c.close()
    t.ok(seqs(got) == list(range(first, first + n)), f"{k}: {n} missed events (10 MB) once each, in order "
         f"over {conns} connections", f"got {len(got)}: {seqs(got)[:3]}..{seqs(got)[-3:]}")
    t.ok(conns > 1 and all(clean), f"{k}: cut connections end properly before the browser resumes", clean)


def check_slow(t, st, ctx):
    """A client that stops reading while large events pour in: its stream
    ends and slow_cut goes up; other streams go on."""
    k = st.kind
    base = st.wait_stats(lambda s: True)
    slow = st.stream("/events/big", rcvbuf=4096)
    slow.events_until(lambda e: e and e[-1].get("event") == "ready", 5)
    burst(st.broker, ctx, ["big"], 300, 60000)             # 18 MB
    s = st.wait_stats(lambda x: x["slow_cut"] > base.get("slow_cut", 0), 20)
    t.ok(s.get("slow_cut", 0) > base.get("slow_cut", 0), f"{k}: slow_cut counted for the frozen client", s)
    t.ok(slow.read_to_end(20), f"{k}: the frozen client's stream has ended")
    slow.close()
    c, _, ready = open_stream(st, "/events/big")
    ev_id = st.broker.publish("big", "small")["id"]
    ev = c.next_event(2)
    t.eq(ev and ev.get("id"), ev_id, f"{k}: new streams still work")
    c.close()


# ---------------------------------------------------------------- runner

def run_all(t, env_cls, kind):
    """Every check against one kind of server, in three stacks."""
    with env_cls(t) as env:
        st = Stack(env, kind, broker={"history_count": 10, "heartbeat": "250ms"},
                   sse={"heartbeat": "1s"})
        for check in (check_live, check_resume, check_trimmed, check_snapshot,
                      check_heartbeat, check_disconnect, check_broker_restart, check_sigterm):
            check(t, st)
        st.stop()
    with env_cls(t) as env:
        st = Stack(env, kind, broker={"fanout_hwm": 1, "history_count": 100000,
                                      "history_bytes": "64m"},
                   sse={"heartbeat": "1s", "max_buffer": "64m"})
        check_gap(t, st, env.ctx)
        st.stop()
    with env_cls(t) as env:
        st = Stack(env, kind, broker={"history_count": 100000, "history_bytes": "64m"},
                   sse={"heartbeat": "1s", "max_buffer": "64k"})
        check_catch_up(t, st, env.ctx)
        check_slow(t, st, env.ctx)
        st.stop()


def curl_stream(url, seconds):
    """curl -N in the background: (Popen, stdout lines queue reader)."""
    p = subprocess.Popen(["curl", "-sN", "--max-time", str(seconds), url],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    lines = []

    def reader():
        for line in p.stdout:
            lines.append((time.monotonic(), line.decode(errors="replace").rstrip("\n")))
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    return p, lines
