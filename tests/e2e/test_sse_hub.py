"""fastpush-sse (behind nginx) against a scripted broker that drops exactly
the fanout messages a test chooses, to reach the cases a real broker only
produces by chance:

- a drop that hit two channels, shown first by one of them: every channel
  is backfilled at the first gap, so the stream still gets every event in
  SEQ order (regression: only the first channel was, and the other one's
  events came too late);
- a drop on one channel while another channel's later event got through:
  the dropped event comes back only after the stream moved past it; it is
  delivered all the same, without an SSE id so that Last-Event-ID never
  moves back (regression: it vanished).
"""
import json
import threading
import time

import zmq

from harness import Env, Tap, wait_for
from servers import Stack
from sse_checks import open_stream, payload

t = Tap()
EPOCH = "scripted1"


class FakeBroker:
    """ROUTER (SINCE, REPORT) and XPUB (sync marks, heartbeats,
    the events the test sends) on ipc:// in the env's directory."""

    def __init__(self, env):
        self.control = f"ipc://{env.path('fake-control')}"
        self.fanout = f"ipc://{env.path('fake-fanout')}"
        self.ingest = None
        self.ctx = env.ctx
        self.events = {}            # seq -> event
        self.head = 0
        self.hold = {}              # channel -> SINCE replies hold back until released
        self.since = []             # SINCE requests seen
        self.subscribed = set()
        self.lock = threading.Lock()
        self.stopping = False
        self.stopped = False
        self.router = self.ctx.socket(zmq.ROUTER)
        self.router.bind(self.control)
        self.xpub = self.ctx.socket(zmq.XPUB)
        self.xpub.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.xpub.bind(self.fanout)
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _send(self, channel, body):
        self.xpub.send_multipart([channel.encode() + b"\0", json.dumps(body, separators=(",", ":")).encode()])

    def _last(self, channel):
        return max([s for s, e in self.events.items() if e["channel"] == channel], default=0)

    def _run(self):
        poller = zmq.Poller()
        poller.register(self.router, zmq.POLLIN)
        poller.register(self.xpub, zmq.POLLIN)
        next_hb = 0
        while not self.stopping:
            with self.lock:
                if time.monotonic() >= next_hb:
                    self.xpub.send_multipart([b"\0", json.dumps(
                        {"heartbeat": True, "epoch": EPOCH, "head": self.head,
                         "ts": int(time.time() * 1000), "interval": 200}).encode()])
                    next_hb = time.monotonic() + 0.2
                self._replies()
            for sock, _ in poller.poll(50):
                with self.lock:
                    if sock is self.xpub:
                        self._on_subscription(self.xpub.recv())
                    else:
                        self._on_request(self.router.recv_multipart())

    def _on_subscription(self, msg):
        if msg[:1] == b"\1" and len(msg) > 2:
            ch = msg[1:-1].decode()
            self.subscribed.add(ch)
            self._send(ch, {"sync": "subscribe", "epoch": EPOCH, "channel": ch,
                            "last": self._last(ch), "head": self.head,
                            "ts": int(time.time() * 1000)})

    def _on_request(self, frames):
        ident, cmd = frames[0], frames[1].decode()
        body = json.loads(frames[2]) if len(frames) > 2 and frames[2] else {}
        meta = {"tag": body.get("tag")} if "tag" in body else {}
        if cmd == "SINCE":
            self.since.append(body)
            self.pending = getattr(self, "pending", [])
            self.pending.append((ident, body, meta))
            return
        if cmd == "REPORT":
            self.report = body
        meta.update({"epoch": EPOCH, "head": self.head})
        self.router.send_multipart([ident, b"OK", json.dumps(meta, separators=(",", ":")).encode()])

    def _replies(self):
        """Answer SINCE requests whose channels are not held."""
        keep = []
        for ident, body, meta in getattr(self, "pending", []):
            if any(self.hold.get(c) for c in body["channels"]):
                keep.append((ident, body, meta))
                continue
            after = int(body["cursor"].rsplit("-", 1)[1])
            evs = [self.events[s] for s in sorted(self.events)
                   if s > after and self.events[s]["channel"] in body["channels"]]
            meta.update({"epoch": EPOCH, "cursor": f"{EPOCH}-{self.head}", "head": self.head,
                         "reset": [], "more": False, "snapshot": 0})
            frames = [ident, b"OK", json.dumps(meta, separators=(",", ":")).encode()]
            if evs:
                frames.append("\n".join(json.dumps(e, separators=(",", ":")) for e in evs).encode())
            self.router.send_multipart(frames)
        self.pending = keep

    def publish(self, channel, data, send=True):
        """Number an event; fan it out unless `send` is False (a drop)."""
        with self.lock:
            self.head += 1
            ev = {"id": f"{EPOCH}-{self.head}", "seq": self.head, "prev": self._last(channel),
                  "channel": channel, "event": "message", "ts": int(time.time() * 1000),
                  "data": data}
            self.events[self.head] = ev
            if send:
                self._send(channel, ev)
            return ev["id"]

    def request(self, cmd, body=None):
        """STATS: the latest REPORT, as the broker would show it."""
        with self.lock:
            rep = getattr(self, "report", None)
        return "OK", {"responders": [rep] if rep else []}, []

    # what Env expects of a process
    pid = 0
    name = "fake-broker"

    def alive(self):
        return not self.stopped

    def read_log(self):
        return ""

    def stop(self, *a, **kw):
        self.stopping = True
        self.th.join(5)
        self.router.close(0)
        self.xpub.close(0)
        self.stopped = True
        return 0


def ids(evs):
    out = []
    for e in evs:
        if e.get("event") == "reset":
            out.append(("reset", payload(e)["channel"], payload(e)["reason"]))
        elif e.get("id"):
            out.append(e["id"])
        else:
            out.append(("late", payload(e)["id"]))
    return out


with Env(t) as env:
    fb = FakeBroker(env)
    env.procs.append(fb)
    st = Stack(env, "nginx", broker=fb, sse={"heartbeat": "1s"})

    # 1. a drop that hits both channels, shown first by A: A and B are
    #    backfilled before anything else goes out (B's answer comes last)
    c, _, ready = open_stream(st, "/events/A,B")
    t.eq(ready and ready.get("id"), f"{EPOCH}-0", "ready on the scripted broker")
    a1 = fb.publish("A", 1)
    fb.hold["B"] = True
    b2 = fb.publish("B", 2, send=False)         # dropped by the fanout
    a3 = fb.publish("A", 3, send=False)         # dropped
    a4 = fb.publish("A", 4)                     # prev 3: the gap shows on A
    t.ok(wait_for(lambda: len(fb.since) >= 2, 3), "the gap on A backfills B as well",
         fb.since)
    time.sleep(0.3)                             # A answered, B not yet
    fb.hold["B"] = False
    got = c.events_until(lambda e: len(e) >= 4, 5)
    t.eq(ids(got), [a1, b2, a3, a4], "every dropped event comes back, in SEQ order")

    # 2. a drop on B alone: A's next event goes out before B's next one
    #    shows the gap, so B's event can no longer come in order
    b5 = fb.publish("B", 5, send=False)         # dropped
    a6 = fb.publish("A", 6)                     # A has no gap: delivered
    b7 = fb.publish("B", 7)                     # prev 5: gap on B, too late for 5
    got = c.events_until(lambda e: len(e) >= 3, 5)
    t.eq(ids(got), [a6, ("late", b5), b7],
         "an event recovered after the stream moved past it: delivered late, without an id")
    b8 = fb.publish("B", 8)
    ev = c.next_event(2)
    t.eq(ev and ev.get("id"), b8, "the stream goes on")
    c.close()
    st.wait_stats(lambda s: s.get("late", 0) >= 1 and s["gaps"] >= 2, 8)
    s = st.stats()
    t.ok(s.get("gaps") == 2 and s.get("resets") == 0 and s.get("late") == 1,
         "gaps and late deliveries counted, no reset", s)
    st.stop()
t.done()
