"""Cluster mode: two fastpush-brokers with `engine jetstream` on a
three-node NATS cluster (replicas 3), each with fastpush-sse and
fastpush-poll behind lighttpd and fastpush-ws, every responder connected
to both brokers (its own first).

  launcher  the NATS nodes: a meta leader, a node killed and restarted
            on its store dir keeps the stream
  a         20,000 acknowledged publishes through both brokers while a
            NATS node (the stream's leader) and then a broker are killed
            with -9: every SSE and WS subscriber gets every acknowledged
            event once, in order, with cursors of the one epoch
  b         a cursor from broker A resumed on broker B (SSE, poll, WS)
  e         keyed state from either broker, and after both restarted
  d         NATS stopped: PUBLISH refused with engine_unavailable (CLI,
            POST /push/publish 503), a broker cannot start; NATS back:
            publishing works, nothing acknowledged is missing
  c         the stream deleted: a new epoch and a reset on SSE, poll, WS
"""
import json
import os
import subprocess
import threading
import time
from collections import Counter

import zmq

from harness import Env, Tap, require_tool, wait_for  # (puts tools/ on sys.path)
import fpstack  # noqa: E402
from natsclient import Nats, stream_info
from servers import Stack
from sseclient import SseClient
from wsclient import OP_CLOSE, OP_PING, OP_PONG, WS, Closed

t = Tap()
STREAM = "FASTPUSH"
SECRET = "cluster-publish-secret"
TOTAL = int(os.environ.get("FP_CLUSTER_EVENTS", "20000"))
LOAD = ["load", "load2"]        # the numbered events of part a, N on LOAD[N % 2]


# ------------------------------------------------------------ processes

def start_broker(env, name, cluster):
    """A broker with engine jetstream on the cluster, replicas 3."""
    return env.broker(name, engine="jetstream", nats_url=cluster.urls, nats_replicas=3,
                      nats_max_msgs=1000000, history_count=1000000, history_bytes="256m")


def start_stack(env, name, own, other):
    """fastpush-sse and fastpush-poll behind lighttpd, and fastpush-ws,
    on both brokers, `own` first."""
    return Stack(env, "lighttpd", broker=fpstack.Peers(own, other), name=name,
                 sse={"heartbeat": "2s"}, ws={},
                 poll={"publish_secret": SECRET, "max_wait": "10s"})


def seq_of(cursor):
    return int(cursor.rpartition("-")[2])


def epoch_of(b):
    return b.request("PING")[1]["epoch"]


def publish(b, channel, data, timeout=10.0, **kw):
    """One PUBLISH, sent again while refused with engine_unavailable
    (nothing stored) for up to timeout s: the reply's META (with "error"
    when it was refused in the end)."""
    body = dict(channel=channel, data=data, **kw)
    end = time.time() + timeout
    while True:
        st, meta, _ = b.request("PUBLISH", body, timeout=10.0)
        if meta.get("error") != "engine_unavailable" or time.time() > end:
            return meta
        time.sleep(0.2)


def since_all(b, channels, cursor="earliest"):
    """Every event SINCE returns from cursor, paged: (events, resets)."""
    out, resets = [], []
    while True:
        st, meta, evs = b.request("SINCE", {"channels": channels, "cursor": cursor}, timeout=15)
        if st != "OK":
            raise RuntimeError(f"SINCE refused: {meta}")
        out += evs
        resets += meta["reset"]
        cursor = meta["cursor"]
        if not meta["more"]:
            return out, resets


# ------------------------------------------------------------ subscribers

FEEDS = []          # every Feed, halted before the processes stop


class Feed(threading.Thread):
    """One subscriber in a thread of its own.  Like the browser client it
    reconnects from its cursor when its connection ends; it keeps what it
    got: events, snapshots, resets, ready cursors, errors."""

    def __init__(self, port, channels):
        super().__init__(daemon=True)
        self.port, self.channels = port, channels
        self.events, self.snapshots, self.resets, self.readys, self.errors = [], [], [], [], []
        self.cursor = None
        self.connects = 0
        self.bad_ids = []             # SSE: an id: line other than the event's id
        self.ready = threading.Event()
        self.halt = False
        FEEDS.append(self)
        self.start()

    def run(self):
        while not self.halt:
            self.connects += 1
            try:
                self.stream()
            except (OSError, ValueError, AssertionError) as e:
                self.errors.append(repr(e))
                time.sleep(0.2)

    def got(self, ev):
        if ev.get("snapshot"):
            self.snapshots.append(ev)
            return
        self.events.append(ev)
        self.cursor = ev["id"]

    def got_ready(self, cursor):
        self.readys.append(cursor)
        self.cursor = cursor
        self.ready.set()

    def last_seq(self):
        return self.events[-1]["seq"] if self.events else 0

    def wait(self, cond, timeout=10.0):
        return wait_for(lambda: cond(self), timeout, 0.05)

    def finish(self):
        self.halt = True
        self.join(5)
        return self


class SseFeed(Feed):
    """GET /events/CHANNELS (Last-Event-ID: its cursor on reconnects)."""

    def stream(self):
        h = {"Last-Event-ID": self.cursor} if self.cursor else None
        c = SseClient(self.port, "/events/" + ",".join(self.channels), headers=h)
        try:
            while not self.halt:
                it = c.next(0.2)
                if it is None and (c.ended or c.eof):
                    return
                if it is not None and "data" in it:
                    self.item(it)
        finally:
            c.close()

    def item(self, it):
        kind, data = it["event"], json.loads(it["data"])
        if kind == "ready":
            self.got_ready(data["cursor"])
        elif kind == "reset":
            self.resets.append(data)
        elif kind in ("error", "auth-expired"):
            self.errors.append(data)
        else:
            if not data.get("snapshot") and it.get("id") != data["id"]:
                self.bad_ids.append((it.get("id"), data["id"]))
            self.got(data)


class WsFeed(Feed):
    """fastpush-ws: subscribe (since its cursor on reconnects)."""

    def stream(self):
        c = WS.connect(self.port)
        msg = {"type": "subscribe", "channels": self.channels}
        if self.cursor:
            msg["since"] = self.cursor
        c.send_json(msg)
        try:
            while not self.halt:
                try:
                    op, data = c.recv(timeout=0.2)
                except TimeoutError:
                    continue
                except Closed:
                    return
                if op == OP_PING:
                    c.send(OP_PONG, data)
                elif op == OP_CLOSE:
                    return
                else:
                    self.message(json.loads(data))
        finally:
            c.close()

    def message(self, m):
        ty = m.get("type")
        if ty is None:
            self.got(m)
        elif ty == "ready":
            self.got_ready(m["cursor"])
        elif ty == "reset":
            self.resets.append(m)
        elif ty == "error":
            self.errors.append(m)


def feeds_of(stacks, channels):
    """An SSE and a WS feed on each stack, all ready (subscribed)."""
    fs = []
    for st in stacks:
        fs += [SseFeed(st.port, channels), WsFeed(st.ws_port, channels)]
    for f in fs:
        f.ready.wait(10)
    return fs


# ------------------------------------------------------------ publishers

class Numbers:
    """0, 1, 2 ... for the publisher threads, until `goal` publishes were
    acknowledged (the publishers count them here) or `limit` s passed."""

    def __init__(self, goal, limit=120.0):
        self.goal, self.end = goal, time.time() + limit
        self.next, self.acked, self.lock = 0, 0, threading.Lock()

    def take(self):
        with self.lock:
            if self.acked >= self.goal or time.time() > self.end:
                return None
            self.next += 1
            return self.next - 1

    def ack(self):
        with self.lock:
            self.acked += 1


class Publisher(threading.Thread):
    """PUBLISHes of {"n": N} on channel LOAD[N % 2] to one broker's
    control socket, `depth` in flight, N from shared Numbers until they
    run out.  acked {n: id} (ack_times: when); refused {n: META} (after a
    refusal it pauses 0.1 s, as a client that backs off); a request
    unanswered for `patience` s is lost (a killed broker) unless its
    reply still comes."""

    def __init__(self, b, numbers, depth=64, patience=6.0):
        super().__init__(daemon=True)
        self.b, self.numbers = b, numbers
        self.depth, self.patience = depth, patience
        self.acked, self.refused, self.lost = {}, {}, set()
        self.ack_times = []
        self.start()

    def run(self):
        s = self.b.run.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.SNDTIMEO, 2000)
        s.connect(self.b.control)
        waiting, more = {}, True
        self.pause = 0
        while more or waiting:
            while more and len(waiting) < self.depth and time.time() > self.pause:
                more = self.send(s, waiting)
            if s.poll(50):
                self.reply(s.recv_multipart(), waiting)
            now = time.time()
            for n in [n for n, ts in waiting.items() if now - ts > self.patience]:
                del waiting[n]
                self.lost.add(n)
        end = time.time() + 1               # late replies of lost requests
        while self.lost and time.time() < end:
            if s.poll(50):
                self.reply(s.recv_multipart(), waiting)
        s.close()

    def send(self, s, waiting):
        n = self.numbers.take()
        if n is None:
            return False
        body = json.dumps({"channel": LOAD[n % 2], "data": {"n": n}, "tag": n}).encode()
        try:
            s.send_multipart([b"PUBLISH", body])
            waiting[n] = time.time()
        except zmq.Again:
            self.refused[n] = {"error": "(test) could not send"}
        return True

    def reply(self, frames, waiting):
        meta = json.loads(frames[1])
        n = meta.get("tag")
        waiting.pop(n, None)
        self.lost.discard(n)
        if frames[0] == b"OK":
            self.acked[n] = meta["id"]
            self.ack_times.append(time.time())
            self.numbers.ack()
        else:
            self.refused[n] = meta
            self.pause = time.time() + 0.1


def publish_until_acked(broker, channel, timeout):
    """1 once broker acknowledges a PUBLISH on channel (tried again after
    a refusal or no answer, for up to timeout s), else 0."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            st, _, _ = broker.request("PUBLISH", {"channel": channel, "data": 1}, timeout=3.0)
            if st == "OK":
                return 1
        except TimeoutError:
            pass
        time.sleep(0.2)
    return 0


def merged(pubs, what):
    """One dict of every publisher's acked, refused or lost (None values)."""
    out = {}
    for p in pubs:
        v = getattr(p, what)
        out.update(v if isinstance(v, dict) else dict.fromkeys(v))
    return out


# ------------------------------------------------------------ checks

def check_feed(f, name, acked, epoch, refused=()):
    """Every acknowledged event once, in SEQ order, with its acknowledged
    id (of the one epoch); no reset."""
    ns = [e["data"]["n"] for e in f.events]
    seqs = [e["seq"] for e in f.events]
    got = {e["data"]["n"]: e["id"] for e in f.events}
    twice = [n for n, k in Counter(ns).items() if k > 1]
    missing = sorted(n for n in acked if n not in got)
    t.ok(not twice and not missing and len(set(seqs)) == len(seqs),
         f"{name}: every one of the {len(acked)} acknowledged events, none twice "
         f"({len(ns)} received, {f.connects} connection(s))",
         f"twice {twice[:10]}, missing {missing[:10]} (of {len(missing)})")
    wrong = [(n, got[n], acked[n]) for n in acked if n in got and got[n] != acked[n]]
    bad = [e["id"] for e in f.events if e["id"] != f"{epoch}-{e['seq']}"]
    breaks = prev_breaks(f.events)
    # SEQ order holds per channel; across channels an event recovered
    # after a drop may come after newer ones of another channel (flagged
    # late: docs/protocol.md, "Resuming without loss")
    per = {}
    for e in f.events:
        per.setdefault(e["channel"], []).append(e["seq"])
    ordered = all(v == sorted(v) for v in per.values())
    t.ok(ordered and not wrong and not bad and not f.bad_ids and not breaks,
         f"{name}: in SEQ order on each channel, each with its acknowledged id {epoch}-SEQ "
         f"and its prev",
         f"order {ordered} (across channels {seqs == sorted(seqs)}); wrong ids {wrong[:5]}; "
         f"other epoch {bad[:5]}; "
         f"SSE id lines {f.bad_ids[:5]}; prev not the channel's SEQ before "
         f"(id, prev, before) {breaks[:5]}")
    t.eq((f.resets, f.errors), ([], []), f"{name}: no reset and no error")
    late = sorted(n for n in refused if n in got)
    codes = Counter(refused[n].get("error") for n in late)
    t.ok(set(codes) <= {"timeout"}, f"{name}: no publish refused with a code other than "
         f"timeout was delivered ({dict(codes)} refused ones were)", late[:10])


def prev_breaks(evs):
    """(id, prev, SEQ before) of the events whose prev is not the SEQ of
    the event before them on their channel (0 for the first)."""
    last, out = {}, []
    for e in evs:
        if e["prev"] != last.get(e["channel"], 0):
            out.append((e["id"], e["prev"], last.get(e["channel"], 0)))
        last[e["channel"]] = e["seq"]
    return out


def stream_leader(cluster):
    """The node that leads the events stream."""
    info = stream_info(cluster.urls, STREAM) or {}
    name = (info.get("cluster") or {}).get("leader")
    return next((nd for nd in cluster.nodes if nd.name == name), None), info


def chaos(numbers, steps):
    """Run each (fraction, fn) once that fraction of the goal was
    acknowledged (or the time is up); returns when the last ran."""
    for frac, fn in steps:
        while numbers.acked < frac * numbers.goal and time.time() < numbers.end:
            time.sleep(0.02)
        fn()


def restart(b, tries=3):
    """Start b again as systemd's Restart=on-failure would, up to `tries`
    times: the last log line of each failed start."""
    fails = []
    for _ in range(tries):
        try:
            b.start()
            b.started_at = time.time()
            return fails
        except RuntimeError as e:
            fails.append(str(e).strip().splitlines()[-1])
            time.sleep(1)
    return fails


def longest_pause(pubs):
    """The longest time (s) in which no publish was acknowledged."""
    ts = sorted(x for p in pubs for x in p.ack_times)
    return max((b - a for a, b in zip(ts, ts[1:])), default=0.0)


# ------------------------------------------------------------ the parts

def check_launcher(env):
    """NatsCluster: a meta leader; a node killed and restarted keeps its
    stream (natsclient creates one, R3, and reads it back)."""
    c = fpstack.NatsCluster(env, 3, name="probe")
    t.ok(c.leader() in [nd.name for nd in c.nodes], f"3 NATS nodes, meta leader {c.leader()}")
    nc = Nats.connect(c.urls)
    made = nc.js("STREAM.CREATE.PROBE", {"name": "PROBE", "subjects": ["probe.>"],
                                         "num_replicas": 3, "storage": "file"})
    acks = [json.loads(nc.request("probe.x", b"%d" % i)[1]) for i in range(5)]
    nc.close()
    t.ok("error" not in made and [a.get("seq") for a in acks] == [1, 2, 3, 4, 5],
         "natsclient: STREAM.CREATE and five publishes acknowledged", (made, acks))
    victim = c.nodes[1]
    victim.kill9()
    victim.start()
    t.ok(c.wait_ready(20), f"{victim.name} killed with -9 and restarted: the cluster is ready")
    info = stream_info(victim.url, "PROBE") or {}
    t.eq((info.get("state") or {}).get("last_seq"), 5, "the stream kept its five messages")
    nc = Nats.connect(victim.url)
    gone = nc.stream_delete("PROBE")
    nc.close()
    t.ok(gone.get("success") and "error" in (stream_info(c.urls, "PROBE") or {}),
         "natsclient: STREAM.DELETE, then STREAM.INFO says not found", gone)
    c.stop()


def check_load(env, c, a, b, stacks):
    """a: the big run with a NATS node and a broker killed."""
    epoch = epoch_of(a)
    t.eq(epoch_of(b), epoch, "both brokers report the one epoch of the stream")
    feeds = feeds_of(stacks, LOAD)
    t.ok(all(f.ready.is_set() for f in feeds), "SSE and WS subscribers on both stacks are ready")
    numbers = Numbers(TOTAL)
    t0 = time.time()
    pubs = [Publisher(a, numbers), Publisher(b, numbers)]
    leader, _ = stream_leader(c)
    done = []
    chaos(numbers, [
        (0.25, lambda: done.append(("kill -9 NATS stream leader", leader and leader.kill9()))),
        (0.45, lambda: done.append(("restart it", leader and leader.start()))),
        (0.60, lambda: done.append(("kill -9 broker B", b.kill9()))),
        (0.70, lambda: done.append(("restart broker B", restart(b)))),
    ])
    for p in pubs:
        p.join(120)
    took = time.time() - t0
    acked, refused, lost = (merged(pubs, w) for w in ("acked", "refused", "lost"))
    t.note(f"{numbers.next} publishes in {took:.1f} s: {len(acked)} acknowledged, "
           f"{len(refused)} refused {dict(Counter(m.get('error') for m in refused.values()))}, "
           f"{len(lost)} unanswered; killed {leader and leader.name}; no acknowledgement "
           f"for {longest_pause(pubs):.1f} s at most; per broker (acked, refused, unanswered) "
           f"{[(len(p.acked), len(p.refused), len(p.lost)) for p in pubs]}")
    t.ok(leader is not None and len(done) == 4 and b.alive(),
         "the NATS stream leader and broker B were killed and restarted", done)
    if done[-1][1]:
        t.note(f"broker B needed {len(done[-1][1]) + 1} starts: {done[-1][1]}")
    back = sum(1 for x in pubs[1].ack_times if x > b.started_at)
    if back == 0:       # the load ended before B was back: ask it directly
        back = publish_until_acked(b, "cluster-after", 15.0)
    t.ok(back > 0, f"broker B acknowledged {back} publishes after its restart")
    t.ok(len(acked) >= TOTAL, f"{len(acked)} publishes acknowledged (the goal: {TOTAL})")
    t.ok(all(m.get("error") for m in refused.values()), "every refused publish says why",
         list(refused.values())[:5])
    t.ok(c.wait_ready(20), "the NATS cluster is whole again")
    last = ((stream_info(c.urls, STREAM) or {}).get("state") or {}).get("last_seq", 0)
    for f in feeds:
        f.wait(lambda f: f.last_seq() >= last, 60)
    t.note(f"stream last_seq {last}; subscribers done {time.time() - t0:.1f} s after the start")
    names = ["stack A SSE", "stack A WS", "stack B SSE", "stack B WS"]
    for f, name in zip(feeds, names):
        check_feed(f.finish(), name, acked, epoch, refused)
    t.eq(epoch_of(b), epoch, "broker B, restarted, reports the same epoch")
    return acked


def check_cursor_elsewhere(env, a, b, sb):
    """b: a cursor broker A acknowledged, resumed on broker B's stack
    (with A stopped, so nothing else can answer)."""
    ids, ahead = [], []
    for i in range(50):
        ids.append(publish(a, "move", i)["id"])
        st, meta, _ = b.request("SINCE", {"channels": ["move"], "cursor": ids[-1]})
        if st != "OK" or meta["reset"]:
            ahead.append((ids[-1], meta))
    t.eq(ahead, [], "SINCE on broker B from the cursor A has just acknowledged (50 times): "
         "answered, no reset (a browser moving from A to B keeps its place)")
    cursor, want = ids[44], ids[45:]
    wait_for(lambda: b.request("PING")[1]["head"] >= seq_of(ids[-1]), 5)
    st, meta, evs = b.request("SINCE", {"channels": ["move"], "cursor": cursor})
    t.eq((st, meta.get("reset"), [e["id"] for e in evs]), ("OK", [], want),
         "SINCE on broker B from a cursor of broker A: the events after it, no reset")
    a.stop()
    sse = SseClient(sb.port, "/events/move", headers={"Last-Event-ID": cursor})
    items = sse.events_until(lambda got: got and got[-1]["event"] == "ready", 10)
    sse.close()
    t.eq([json.loads(it["data"])["id"] for it in items if it["event"] == "message"], want,
         "SSE Last-Event-ID on stack B: the events after A's cursor")
    t.eq([it for it in items if it["event"] == "reset"], [], "SSE: no reset")
    r = sb.request(f"/push/poll?channel=move&since={cursor}")
    body = json.loads(r[2] or b"{}")
    t.eq((r[0], [e["id"] for e in body.get("events", [])], body.get("reset")), (200, want, []),
         "poll since A's cursor on stack B: the events after it, no reset")
    w = WS.connect(sb.ws_port)
    w.send_json({"type": "subscribe", "channels": ["move"], "since": cursor})
    got = w.collect_json(lambda m: m.get("type") == "ready", 10)
    w.close()
    t.eq([m.get("id") for m in got if "type" not in m], want,
         "WS subscribe since A's cursor on stack B: the events after it")
    t.eq([m for m in got if m.get("type") in ("reset", "error")], [], "WS: no reset")
    a.start()
    return dict(enumerate(ids))



def keyed_state(src):
    """[(key, id, data)] of channel "keys": STATE of a broker, or
    GET /push/state of a stack."""
    if isinstance(src, Stack):
        r = src.request("/push/state?channel=keys")
        evs = json.loads(r[2] or b"{}").get("events", []) if r[0] == 200 else [r[0]]
    else:
        evs = src.request("STATE", {"channel": "keys"})[2]
    return [(e["key"], e["id"], e["data"]) if isinstance(e, dict) else e for e in evs]


def check_keyed(env, a, b, sb):
    """e: the latest value per key, from either broker, through the poll
    responder, and after both brokers restarted."""
    latest, ids = {}, []
    for i in range(15):
        meta = publish((a, b)[i % 2], "keys", {"v": i}, key=f"k{i % 5}")
        latest[f"k{i % 5}"] = (meta["id"], {"v": i})
        ids.append(meta["id"])
    ids.append(publish(b, "keys", None, key="k4")["id"])        # a tombstone
    del latest["k4"]
    want = sorted(((k, i, d) for k, (i, d) in latest.items()), key=lambda x: seq_of(x[1]))
    for src, name in ((a, "broker A"), (b, "broker B"), (sb, "GET /push/state on stack B")):
        wait_for(lambda: keyed_state(src) == want, 5)
        t.eq(keyed_state(src), want, f"keyed state from {name}: the latest value per key")
    t.eq((a.stop(), b.stop()), (0, 0), "both brokers stop cleanly (SIGTERM)")
    a.start()
    b.start()
    t.eq((keyed_state(a), keyed_state(b)), (want, want), "... and after both brokers restarted")
    return {i: x for i, x in enumerate(ids)}, want


def broker_without_nats(env, c, name="nonats", extra=()):
    """Start one more broker (while NATS is down, or with a stream NATS
    refuses): (status, seconds, stderr)."""
    d = env.path(name)
    conf = fpstack.write(env.path(name + ".conf"), "".join(
        f"{k} {v}\n" for k, v in (("engine", "jetstream"), ("nats-url", c.urls),
                                   ("ingest", f"ipc://{d}-i"), ("control", f"ipc://{d}-c"),
                                   ("fanout", f"ipc://{d}-f")) + tuple(extra)))
    t0 = time.time()
    try:
        r = subprocess.run([env.prog("fastpush-broker"), "-f", conf], capture_output=True,
                           timeout=60)
    except subprocess.TimeoutExpired as e:
        return None, time.time() - t0, (e.stderr or b"").decode(errors="replace")
    return r.returncode, time.time() - t0, (r.stdout + r.stderr).decode(errors="replace")


def check_nats_down(env, c, a, b, sa, acked, keys_want):
    """d: every node stopped, then started again."""
    c.stop()
    # a publish sent while libnats still holds a connection to a node that
    # is going away gets `timeout` (may or may not be stored): once the
    # broker knows NATS is gone (not ready), every publish is refused
    gone = wait_for(lambda: a.cli("health").returncode == 1 and
                    b.cli("health").returncode == 1, 20)
    r = a.cli("health")
    t.ok(gone and b"not ready: NATS is not reachable" in r.stdout,
         "fastpush health on both brokers: exit 1, not ready, NATS is not reachable", r)
    st, meta, _ = a.request("PUBLISH", {"channel": "down", "data": 1}, timeout=15)
    t.eq((st, meta.get("error")), ("ERROR", "engine_unavailable"),
         "NATS stopped: PUBLISH refused with engine_unavailable")
    r = b.cli("--timeout", "10000", "publish", "down", "2")
    t.ok(r.returncode == 1 and b"engine_unavailable" in r.stderr,
         "the CLI's publish exits 1 with engine_unavailable", r)
    r = sa.request("/push/publish", method="POST", body=b'{"channel":"down","data":3}',
                   headers={"X-Fastpush-Secret": SECRET, "Content-Type": "application/json"},
                   timeout=15)
    t.ok(r[0] == 503 and json.loads(r[2] or b"{}").get("error") == "engine_unavailable",
         "POST /push/publish: 503 engine_unavailable", r)
    t.ok(a.alive() and b.alive() and b.request("PING")[0] == "OK", "both brokers keep running")
    ready = wait_for(lambda: sa.request("/push/health/ready")[0] == 503, 5)
    t.ok(ready, "GET /push/health/ready through lighttpd: 503 while NATS is away")
    rc, took, log = broker_without_nats(env, c)
    t.ok(rc == 1 and took < 20 and "nats" in log.lower(),
         f"a broker started without NATS exits 1 after {took:.1f} s, saying why", log[-600:])
    c.start()
    t0 = time.time()
    back = [publish(x, "down", "back", timeout=30) for x in (a, b)]
    t.ok(all("id" in m for m in back),
         f"NATS back: both brokers publish again (after {time.time() - t0:.1f} s)", back)
    # ready once the feed has caught up with the stream again (its ordered
    # consumer is made again after the reconnect)
    back_ready = wait_for(lambda: a.cli("health").returncode == 0, 15)
    t.ok(back_ready, "fastpush health: ready again once the feed caught up", a.cli("health"))
    channels = LOAD + ["move", "keys", "down"]
    evs, resets = since_all(a, channels)
    ids = Counter(e["id"] for e in evs)
    missing = [i for ch in acked.values() for i in ch.values() if i not in ids]
    twice = [i for i, k in ids.items() if k > 1]
    t.ok(not missing and not twice and not resets,
         f"SINCE earliest: all {sum(map(len, acked.values()))} acknowledged events, none twice",
         f"missing {missing[:10]} (of {len(missing)}), twice {twice[:10]}, resets {resets}")
    t.eq([e["data"] for e in evs if e["channel"] == "down"], ["back", "back"],
         "the refused publishes were not published after all")
    t.eq([e["id"] for e in since_all(b, channels)[0]], [e["id"] for e in evs],
         "broker B's SINCE returns the same events")
    t.eq(keyed_state(a), keys_want, "the keyed state survived the NATS restart")


def check_stream_deleted(env, c, a, b, stacks):
    """c: the events stream deleted under the brokers."""
    old = epoch_of(a)
    before = publish(a, "gone", "before")["id"]
    feeds = feeds_of(stacks, ["gone"])
    nc = Nats.connect(c.urls)
    info0 = nc.stream_info(STREAM)
    gone = nc.stream_delete(STREAM)
    nc.close()
    t.ok(gone.get("success"), "natsclient: the events stream deleted", gone)
    new = wait_for(lambda: epoch_of(a) != old and epoch_of(b) != old, 20, 0.2)
    t.ok(new, "both brokers take a new epoch without a publish", (old, epoch_of(a), epoch_of(b)))
    after = publish(a, "gone", "after", timeout=20)
    epoch = epoch_of(a)
    t.ok(epoch != old and epoch_of(b) == epoch and after.get("id", "").startswith(epoch + "-"),
         f"the recreated stream: one new epoch {epoch} (was {old})", after)
    info = stream_info(c.urls, STREAM) or {}
    t.ok(info.get("created") and info.get("created") != info0.get("created"),
         "STREAM.INFO: the stream was created again", info.get("created"))
    names = ["stack A SSE", "stack A WS", "stack B SSE", "stack B WS"]
    for f, name in zip(feeds, names):
        f.wait(lambda f: any(e["data"] == "after" for e in f.events), 15)
        f.finish()
        t.ok([(r["channel"], r["reason"]) for r in f.resets] == [("gone", "epoch")] and
             f.readys[-1].startswith(epoch + "-") and
             [e["id"] for e in f.events][-1:] == [after.get("id")],
             f"{name}: a reset (epoch), ready in the new epoch, then the new event",
             (f.resets, f.readys, [e["id"] for e in f.events], f.errors))
    r = stacks[1].request(f"/push/poll?channel=gone&since={before}")
    body = json.loads(r[2] or b"{}")
    t.ok(r[0] == 200 and [x["reason"] for x in body.get("reset", [])] == ["epoch"] and
         [e["id"] for e in body.get("events", [])] == [after.get("id")],
         "poll from a cursor of the deleted stream: reset epoch and the new event", r)


def halt_feeds():
    for f in FEEDS:
        f.finish()


def check_cluster(env):
    c = fpstack.NatsCluster(env, 3)
    try:
        a = start_broker(env, "broker-a", c)
        b = start_broker(env, "broker-b", c)
    except RuntimeError as e:
        t.ok(False, "fastpush-broker starts with engine jetstream", str(e)[-1500:])
        return
    st, secs, err = broker_without_nats(env, c, "overlap", (("nats-stream", "OTHER"),))
    t.ok(st == 1 and secs < 10 and "subjects overlap" in err,
         "a broker whose stream's subjects another stream holds exits 1 at once, saying so",
         f"status {st} after {secs:.1f} s: {err[-600:]}")
    stacks = [start_stack(env, "sa", a, b), start_stack(env, "sb", b, a)]
    try:
        acked = {"load": check_load(env, c, a, b, stacks)}
        acked["move"] = check_cursor_elsewhere(env, a, b, stacks[1])
        acked["keys"], keys_want = check_keyed(env, a, b, stacks[1])
        check_nats_down(env, c, a, b, stacks[0], acked, keys_want)
        check_stream_deleted(env, c, a, b, stacks)
    finally:
        halt_feeds()        # lighttpd exits 1 when stopped with a stream open


t0 = time.time()
with Env(t) as env:
    if require_tool(t, "nats-server", fpstack.NATS_SERVER):
        check_launcher(env)
        check_cluster(env)
t.note(f"test_cluster: {time.time() - t0:.0f} s")
t.done()
