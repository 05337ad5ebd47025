"""What fastpush-poll must show behind a real web server: the checks that
test_poll_lighttpd.py, test_poll_apache.py, test_poll_fcgid.py and
test_poll_nginx.py run against their server (servers.Stack, with
fastpush-sse in the same stack), and helpers the other test_poll_* files
share.

Each check uses its own channels.  The broker keeps 200 events per channel
(history_count), so a stale cursor can be made by publishing 250.
"""
import json
import signal
import statistics
import time

from pollclient import get, start
from servers import Stack
from sse_checks import burst, open_stream, payload

MAX_WAKE_MS = 200           # publish -> long-poll answered
SECRET = "test-secret-1"
BROKER = {"history_count": 200, "heartbeat": "250ms"}
POLL = {"max_wait": "10s", "publish_secret": SECRET, "allow_origin": "https://app.example"}


def poll(st, query, headers=None, **kw):
    return get(st.port, "/push/poll?" + query, headers=headers, **kw)


def cursor_now(st, channels):
    a = poll(st, "channel=" + channels)
    return a.json["cursor"]


def ids(a):
    return [e["id"] for e in (a.json or {}).get("events", [])]


def waiting(st):
    """Long-polls waiting in the stack's external fastpush-poll (its own
    /stats, not the 5 s reports)."""
    a = get(st.port, "/push/stats")
    return a.json["self"]["waiting"] if a.json else None


def wait_parked(st, n, timeout=5.0):
    """Until n long-polls wait (external fastpush-poll), or a moment (mod_fcgid:
    every request may start another process, which must connect to the
    broker before it parks; 0.5 s was not always enough under ASan)."""
    if st.poll is None:
        time.sleep(1.5)
        return True
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if waiting(st) == n:
            return True
        time.sleep(0.02)
    return False


def publish_http(st, body, secret=SECRET, ctype="application/json", raw=None):
    h = {"Content-Type": ctype}
    if secret is not None:
        h["X-Fastpush-Secret"] = secret
    data = raw if raw is not None else json.dumps(body).encode()
    return get(st.port, "/push/publish", method="POST", headers=h, body=data)


# ---------------------------------------------------------------- checks

def check_delta(t, st):
    """Poll, publish, poll again from the returned cursor: exactly the new
    events, in SEQ order, across channels."""
    k = st.kind
    a = poll(st, "channel=d1,d2")
    t.ok(a.status == 200 and a.json == {"cursor": a.json["cursor"], "events": [], "reset": [],
                                        "more": False},
         f"{k}: a poll without since answers the current cursor and nothing else", a)
    t.eq(a.headers.get("content-type"), "application/json", f"{k}: Content-Type application/json")
    t.eq((a.headers.get("cache-control"), a.headers.get("etag")),
         ("no-cache", f'"{a.json["cursor"]}"'), f"{k}: Cache-Control no-cache, ETag = the cursor")
    cur = a.json["cursor"]
    want = [st.broker.publish(("d1", "d2")[i % 2], {"n": i})["id"] for i in range(5)]
    head = st.broker.publish("d3", "other channel")["id"]
    a = poll(st, f"channel=d1&channel=d2&since={cur}")
    t.eq(ids(a), want, f"{k}: the poll from that cursor has exactly the 5 new events, in order")
    ev = a.json["events"][0] if a.json and a.json["events"] else {}
    t.ok(ev.get("channel") == "d1" and ev.get("data") == {"n": 0} and ev.get("seq") and
         "prev" in ev and "ts" in ev and ev.get("event") == "message",
         f"{k}: events are the canonical event objects", ev)
    t.ok(a.json["cursor"] == head and a.json["more"] is False and a.json["reset"] == [],
         f"{k}: the cursor is the broker's head (past another channel's event), more false, "
         f"no reset", a.json)
    cur = a.json["cursor"]
    a = poll(st, f"channel=d1,d2&since={cur}")
    t.ok(a.status == 200 and ids(a) == [] and a.json["cursor"] == cur,
         f"{k}: polling again from it: nothing, same cursor", a)
    new = st.broker.publish("d2", "later")["id"]
    a = poll(st, f"channel=d1,d2&since={cur}")
    t.eq(ids(a), [new], f"{k}: after one more publish: exactly that event")
    a = poll(st, f"channel=d1,d2&since=earliest")
    t.eq(ids(a), want + [new], f"{k}: since=earliest: the whole history of the channels")


def check_304(t, st):
    """If-None-Match with the current cursor: 304 with the ETag, no body."""
    k = st.kind
    cur = cursor_now(st, "nm")
    st.broker.publish("nm", 1)
    cur = poll(st, f"channel=nm&since={cur}").json["cursor"]
    for inm in (f'"{cur}"', f'W/"{cur}"', f'"x-1", "{cur}"'):
        a = poll(st, f"channel=nm&since={cur}", headers={"If-None-Match": inm})
        t.ok(a.status == 304 and a.headers.get("etag") == f'"{cur}"' and a.body == b"",
             f"{k}: If-None-Match {inm}: 304 with the ETag and no body", a)
    a = poll(st, "channel=nm", headers={"If-None-Match": f'"{cur}"'})
    t.eq(a.status, 304, f"{k}: a poll without since whose cursor is current: 304 too")
    new = st.broker.publish("nm", 2)["id"]
    a = poll(st, f"channel=nm&since={cur}", headers={"If-None-Match": f'"{cur}"'})
    t.ok(a.status == 200 and ids(a) == [new] and a.headers.get("etag") == f'"{new}"',
         f"{k}: once something is new: 200 with it and the new ETag", a)


def check_paging(t, st, n=300, limit=37):
    """limit pages through a few hundred events without loss or repetition."""
    k = st.kind
    chans = ("pg1", "pg2", "pg3")
    cur = cursor_now(st, ",".join(chans))
    want = [st.broker.publish(chans[i % 3], {"i": i})["id"] for i in range(n)]
    got, pages, mores, cursors_ok = [], 0, [], True
    while pages < 50:
        a = poll(st, f"channel=pg1,pg2,pg3&since={cur}&limit={limit}")
        pages += 1
        got += ids(a)
        mores.append(a.json["more"])
        cursors_ok = cursors_ok and bool(ids(a)) and a.json["cursor"] == ids(a)[-1]
        cur = a.json["cursor"]
        if not a.json["more"]:
            break
    t.ok(got == want, f"{k}: {n} events over {pages} pages of {limit}: none lost, none repeated",
         f"got {len(got)}, distinct {len(set(got))}")
    t.ok(all(mores[:-1]) and not mores[-1] and pages == -(-n // limit),
         f"{k}: more:true on every page but the last", mores)
    t.ok(cursors_ok, f"{k}: every page's cursor is its last event's id")
    a = poll(st, "channel=pg1&since=earliest&limit=1000")
    t.eq(len(ids(a)), n // 3, f"{k}: limit=1000 (max-limit) is accepted")


def check_longpoll(t, st, rounds=5):
    """A waiting long-poll is answered within milliseconds of a publish."""
    k = st.kind
    cur = cursor_now(st, "lp")
    delays = []
    ok = True
    for i in range(rounds):
        lp = start(st.port, f"/push/poll?channel=lp,lpx&since={cur}&wait=8")
        parked = wait_parked(st, 1)
        t0 = time.monotonic()
        eid = st.broker.publish("lp", {"i": i})["id"]
        a = lp.finish(5)
        delays.append((a.t - t0) * 1000)
        ok = ok and parked and a.status == 200 and ids(a) == [eid] and a.json["cursor"] == eid
        cur = eid
    t.ok(ok, f"{k}: {rounds} long-polls, each answered with exactly the published event")
    t.note(f"{k}: long-poll publish->answer p50 {statistics.median(delays):.1f} ms, "
           f"max {max(delays):.1f} ms over {rounds}")
    t.ok(max(delays) < MAX_WAKE_MS, f"{k}: every long-poll answered within {MAX_WAKE_MS} ms of the "
         f"publish (max {max(delays):.1f} ms)", [round(d, 1) for d in delays])
    # an event on a channel of the poll that is not the first
    lp = start(st.port, f"/push/poll?channel=lp&channel=lpx&since={cur}&wait=8")
    wait_parked(st, 1)
    eid = st.broker.publish("lpx", "x")["id"]
    a = lp.finish(5)
    t.eq(ids(a), [eid], f"{k}: a long-poll on two channels wakes for the second one")
    # without since: parks at the current cursor
    lp = start(st.port, "/push/poll?channel=lpn&wait=8")
    wait_parked(st, 1)
    eid = st.broker.publish("lpn", "n")["id"]
    a = lp.finish(5)
    t.eq(ids(a), [eid], f"{k}: a long-poll without since waits from now")


def check_lp_limit(t, st):
    """A burst larger than its limit wakes a long-poll: the answer is cut at
    the limit with more:true (regression: more was false), and polling on
    from its cursor gets the rest."""
    k = st.kind
    cur = cursor_now(st, "ll")
    lp = start(st.port, f"/push/poll?channel=ll&since={cur}&limit=3&wait=8")
    wait_parked(st, 1)
    if st.poll:                 # the burst reaches fastpush-poll in one round
        st.poll.send_signal(signal.SIGSTOP)
    try:
        first = burst(st.broker, st.run.ctx, ["ll"], 8, 10)
    finally:
        if st.poll:
            st.poll.send_signal(signal.SIGCONT)
    a = lp.finish(5)
    seqs = [e["seq"] for e in (a.json or {}).get("events", [])]
    t.ok(a.json and seqs == list(range(first, first + len(seqs))) and 1 <= len(seqs) <= 3 and
         a.json["cursor"] == ids(a)[-1],
         f"{k}: a long-poll woken by a burst of 8 answers at most its limit (3), in order", a)
    if st.poll:
        t.ok(a.json and len(seqs) == 3 and a.json["more"] is True,
             f"{k}: ... cut at the limit, with more:true", a.json)
    rest = poll(st, f"channel=ll&since={a.json['cursor']}&limit=100")
    t.eq(seqs + [e["seq"] for e in rest.json["events"]], list(range(first, first + 8)),
         f"{k}: polling on from its cursor: the rest, none lost or repeated")


def check_lp_timeout(t, st):
    """The wait ends: an empty answer with the same cursor, or 304."""
    k = st.kind
    cur = cursor_now(st, "lt")
    t0 = time.monotonic()
    a = poll(st, f"channel=lt&since={cur}&wait=1", timeout=5)
    dt = time.monotonic() - t0
    t.ok(a.status == 200 and a.json == {"cursor": cur, "events": [], "reset": [], "more": False} and
         0.9 <= dt < 2.5, f"{k}: wait=1 with nothing new: empty answer after {dt:.2f} s", a)
    t0 = time.monotonic()
    a = poll(st, f"channel=lt&since={cur}&wait=1", headers={"If-None-Match": f'"{cur}"'}, timeout=5)
    dt = time.monotonic() - t0
    t.ok(a.status == 304 and 0.9 <= dt < 2.5, f"{k}: with If-None-Match: 304 after {dt:.2f} s", a)


def check_reset(t, st):
    """A cursor older than history: a trimmed reset and what history holds;
    a cursor beyond the head: ahead."""
    k = st.kind
    cur = cursor_now(st, "tr")
    want = [st.broker.publish("tr", i)["id"] for i in range(250)]
    a = poll(st, f"channel=tr&since={cur}&limit=1000")
    t.eq(a.json and a.json["reset"], [{"channel": "tr", "reason": "trimmed", "snapshot": False}],
         f"{k}: stale cursor (history keeps 200): reset trimmed")
    t.ok(ids(a) == want[-200:] and a.json["cursor"] == want[-1],
         f"{k}: with the 200 events history still holds, and the head cursor",
         f"{len(ids(a))} events")
    epoch, seq = want[-1].rsplit("-", 1)
    a = poll(st, f"channel=tr&since={epoch}-{int(seq) + 1000}")
    t.eq(a.json and a.json["reset"], [{"channel": "tr", "reason": "ahead", "snapshot": False}],
         f"{k}: a cursor beyond the head: reset ahead")


def check_snapshot(t, st):
    """/state: the latest event per key, ETag and 304; a trimmed keyed
    channel in /poll: reset with snapshot, snapshot events first."""
    k = st.kind
    cur = cursor_now(st, "kv")
    latest = {}
    for i in range(230):
        key = "abc"[i % 3]
        latest[key] = st.broker.publish("kv", {"v": i}, key=key)["id"]
    a = get(st.port, "/push/state?channel=kv")
    evs = (a.json or {}).get("events", [])
    t.ok(a.status == 200 and a.json["channel"] == "kv" and
         sorted((e["key"], e["id"]) for e in evs) == sorted(latest.items()),
         f"{k}: /state: the latest event per key", a)
    t.ok([e["seq"] for e in evs] == sorted(e["seq"] for e in evs),
         f"{k}: /state: in SEQ order")
    head = max(latest.values(), key=lambda i: int(i.rsplit("-", 1)[1]))
    t.ok(a.json["cursor"] == head and a.headers.get("etag") == f'"{head}"' and
         a.headers.get("cache-control") == "no-cache",
         f"{k}: /state: cursor and ETag are the channel's newest event, no-cache", a.headers)
    b = get(st.port, "/push/state?channel=kv", headers={"If-None-Match": f'"{head}"'})
    t.ok(b.status == 304 and b.body == b"", f"{k}: /state with If-None-Match: 304", b)
    a = poll(st, f"channel=kv&since={cur}&limit=1000")
    evs = (a.json or {}).get("events", [])
    snap = [e for e in evs if e.get("snapshot")]
    t.eq(a.json and a.json["reset"], [{"channel": "kv", "reason": "trimmed", "snapshot": True}],
         f"{k}: /poll on a trimmed keyed channel: reset with snapshot:true")
    t.ok(snap and evs[:len(snap)] == snap and
         sorted((e["key"], e["id"]) for e in snap) == sorted(latest.items()),
         f"{k}: the snapshot events come first: the latest per key", evs[:4])
    t.ok(a.json["cursor"] == head, f"{k}: the cursor is the head (snapshot events do not move it)")
    s = get(st.port, "/push/state?channel=nothing-here")
    t.ok(s.status == 200 and s.json["events"] == [], f"{k}: /state of an unknown channel: no events", s)


def check_epoch(t, st):
    """Broker restart (no store): an old cursor gets an epoch reset; a
    long-poll waiting through the restart is answered with it."""
    k = st.kind
    cur = cursor_now(st, "ep")
    old = st.broker.publish("ep", "before")["id"]
    lp = start(st.port, f"/push/poll?channel=ep&since={old}&wait=8")
    wait_parked(st, 1)
    st.broker.restart()
    a = lp.finish(8)
    t.ok(a.status == 200 and a.json and a.json["reset"] ==
         [{"channel": "ep", "reason": "epoch", "snapshot": False}],
         f"{k}: a long-poll waiting through a broker restart: answered with an epoch reset", a)
    epoch = st.broker.request("PING")[1]["epoch"]
    t.ok(a.json and a.json["cursor"].startswith(epoch + "-"),
         f"{k}: ... and a cursor of the new epoch", a.json)
    new = st.broker.publish("ep", "after")["id"]
    a = get(st.port, f"/push/poll?channel=ep&since={cur}", timeout=8)
    t.ok(a.json and a.json["reset"] == [{"channel": "ep", "reason": "epoch", "snapshot": False}] and
         ids(a) == [new], f"{k}: an old-epoch cursor: epoch reset, then the new epoch's events", a)


def check_publish(t, st):
    """POST /publish with the secret: 202, then the event over SSE (same
    stack) and over poll."""
    k = st.kind
    cur = cursor_now(st, "hp")
    c, _, ready = open_stream(st, "/events/hp")
    a = publish_http(st, {"channel": "hp", "event": "note", "data": {"x": [1, 2]}, "key": "k1"})
    t.ok(a.status == 202 and a.json and a.json.get("channel") == "hp" and
         a.json["id"] == f"{a.json['id'].rsplit('-', 1)[0]}-{a.json['seq']}" and
         a.headers.get("cache-control") == "no-store",
         f"{k}: POST /publish with the secret: 202 {{id, seq, channel}}, no-store", a)
    eid = a.json and a.json["id"]
    ev = c.next_event(3)
    t.ok(ready and ev and ev.get("id") == eid and ev.get("event") == "note" and
         payload(ev)["data"] == {"x": [1, 2]} and payload(ev)["key"] == "k1",
         f"{k}: the HTTP-published event arrives over SSE", ev)
    c.close()
    p = poll(st, f"channel=hp&since={cur}")
    t.ok(ids(p) == [eid] and p.json["events"][0]["data"] == {"x": [1, 2]},
         f"{k}: ... and over poll", p)
    # curl -d sends application/x-www-form-urlencoded: taken as JSON too
    a = publish_http(st, {"channel": "hp", "data": "form"}, ctype="application/x-www-form-urlencoded")
    t.eq(a.status, 202, f"{k}: a JSON body sent as form-urlencoded (curl -d) is accepted")


def check_stats(t, st):
    """/stats: the broker's STATS and this process's own counters."""
    k = st.kind
    a = get(st.port, "/push/stats")
    j = a.json or {}
    t.ok(a.status == 200 and "head" in j.get("broker", {}) and "requests" in j.get("self", {}) and
         a.headers.get("cache-control") == "no-store",
         f"{k}: /stats: JSON with broker and self, no-store", str(a)[:400])
    t.ok(j.get("self", {}).get("broker_up") is True and j["self"]["requests"]["stats"] > 0,
         f"{k}: self counts its requests and sees the broker", j.get("self"))


# ---------------------------------------------------------------- runner

CHECKS = (check_delta, check_304, check_paging, check_longpoll, check_lp_limit, check_lp_timeout,
          check_reset,
          check_snapshot, check_publish, check_stats, check_epoch)


def run_all(t, env_cls, kind, extra=()):
    """Every check against one kind of server; then extra(t, st) checks."""
    with env_cls(t) as env:
        st = Stack(env, kind, broker=dict(BROKER), sse={"heartbeat": "1s"}, poll=dict(POLL))
        for check in CHECKS + tuple(extra):
            check(t, st)
        st.stop()
