"""Load for the fault matrix (test_faults.py): an acknowledged publisher
and one subscriber per transport, each running until stopped, each
keeping what it saw so that a test can tell, after any fault, whether
every acknowledged event reached every subscriber exactly once, in
order per channel.

    pub = Publisher(broker, ["fa", "fb"]); pub.start()
    subs = [SseSub(st.port, chans, cursor), PollSub(st.port, chans, cursor),
            WsSub(st.ws_port, chans, cursor)]
    ... fault ...
    acked = pub.acked_between(t0, t1)           # {seq: channel}
    wait_caught_up(subs, max(acked))
    sub.missing(acked), sub.dups, sub.disorder, sub.resets

The subscribers resume the way the browser client does: SSE reconnects
with Last-Event-ID, polls send `since` with the last answer's cursor,
WebSocket resubscribes with `since` set to the id of the last event (or
the cursor of its last `ready`).  Every failed attempt is kept with what
was answered (an HTTP status, a close code, an exception), so a test can
say what was refused and how.
"""
import json
import socket
import threading
import time

import zmq

from harness import wait_for
from pollclient import get
from sseclient import SseClient
from wsclient import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WS, Closed

RETRY_S = 0.2           # between two attempts of a subscriber


class Publisher(threading.Thread):
    """Acknowledged PUBLISHes on its own DEALER, `inflight` at most
    waiting, one every `gap` s, channels in turn, until stop().  Every
    answer is kept: acked {tag: (seq, channel, time)}, refused [(time,
    meta)]; a request unanswered for `lost_after` s counts as unanswered
    (the broker died with it; it may still be stored, or answered later)."""

    def __init__(self, broker, channels, inflight=16, gap=0.004, lost_after=2.0):
        super().__init__(daemon=True)
        self.b, self.channels = broker, list(channels)
        self.inflight, self.gap, self.lost_after = inflight, gap, lost_after
        self.acked, self.refused, self.unanswered = {}, [], 0
        self.lock = threading.Lock()
        self._halt = False

    def run(self):
        s = self.b.run.ctx.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 0)
        s.connect(self.b.control)
        sent, waiting, last = 0, {}, 0.0
        while not self._halt or (waiting and time.monotonic() - last < self.lost_after):
            now = time.monotonic()
            for k in [k for k, ts in waiting.items() if now - ts > self.lost_after]:
                del waiting[k]
                self.unanswered += 1
            if not self._halt and len(waiting) < self.inflight and now - last >= self.gap:
                ch = self.channels[sent % len(self.channels)]
                body = {"channel": ch, "data": {"i": sent}, "tag": sent}
                try:
                    s.send_multipart([b"PUBLISH", json.dumps(body).encode()], zmq.NOBLOCK)
                    waiting[sent] = last = now
                    sent += 1
                except zmq.Again:
                    pass
            if s.poll(2):
                r = s.recv_multipart()
                meta = json.loads(r[1])
                waiting.pop(meta.get("tag"), None)
                with self.lock:
                    if r[0] == b"OK":
                        self.acked[meta["tag"]] = (meta["seq"], meta.get("channel"),
                                                   time.monotonic())
                    else:
                        self.refused.append((time.monotonic(), meta))
        s.close()

    def stop(self):
        self._halt = True
        self.join(10)

    def acked_between(self, t0, t1):
        """{seq: channel} of the events acknowledged in (t0, t1]."""
        with self.lock:
            return {seq: ch for seq, ch, t in self.acked.values() if t0 < t <= t1}

    def refused_between(self, t0, t1):
        with self.lock:
            return [m for t, m in self.refused if t0 < t <= t1]

    def first_ack_after(self, t0):
        """Seconds from t0 to the first acknowledgement after it, or None."""
        with self.lock:
            ts = [t for _, _, t in self.acked.values() if t > t0]
        return min(ts) - t0 if ts else None


class Sub(threading.Thread):
    """A subscriber to `channels` from `cursor`, reconnecting for ever
    (RETRY_S between attempts) until stop().  Subclasses implement
    session(): one connection, returning when it ends."""

    kind = "?"

    def __init__(self, port, channels, cursor):
        super().__init__(daemon=True)
        self.port, self.channels, self.cursor = port, list(channels), cursor
        self.lock = threading.Lock()
        self.seen = set()
        self.events = []        # (seq, channel, time, connection number)
        self.last = {}          # channel -> last SEQ
        self.dups = self.disorder = 0
        self.resets = []
        self.failures = []      # (time, what)
        self.conns = []         # times a connection was established
        self._halt = False

    def run(self):
        while not self._halt:
            try:
                self.session()
            except Exception as e:          # a refused or broken connection
                self.fail(f"{type(e).__name__}: {e}")
            if not self._halt:
                time.sleep(RETRY_S)

    def stop(self):
        self._halt = True
        self.join(15)

    def fail(self, what):
        with self.lock:
            self.failures.append((time.monotonic(), what))

    def connected(self):
        with self.lock:
            self.conns.append(time.monotonic())

    def event(self, ev):
        """One event as delivered (a dict of the canonical JSON)."""
        seq, ch = ev["seq"], ev["channel"]
        with self.lock:
            if seq in self.seen:
                self.dups += 1
            elif seq <= self.last.get(ch, 0):
                self.disorder += 1
            self.seen.add(seq)
            self.last[ch] = max(seq, self.last.get(ch, 0))
            self.events.append((seq, ch, time.monotonic(), len(self.conns)))

    def high(self):
        with self.lock:
            return max(self.last.values(), default=0)

    def missing(self, acked):
        """Acknowledged SEQs this subscriber has not got."""
        with self.lock:
            return sorted(s for s in acked if s not in self.seen)

    def failures_between(self, t0, t1):
        with self.lock:
            return [w for t, w in self.failures if t0 < t <= t1]

    def first_event_after(self, t0):
        """Seconds from t0 to the first event this subscriber got on a
        connection opened after t0 (None: none yet)."""
        with self.lock:
            n0 = sum(1 for t in self.conns if t <= t0)
            ts = [t for _, _, t, n in self.events if n > n0 and t > t0]
        return min(ts) - t0 if ts else None


class SseSub(Sub):
    """GET /events/a,b through the web server, Last-Event-ID on reconnect."""

    kind = "sse"

    def session(self):
        path = "/events/" + ",".join(self.channels)
        c = SseClient(self.port, path, headers={"Last-Event-ID": self.cursor}, head_timeout=5)
        try:
            if c.status is None and c.eof:
                self.fail("closed before an answer")
                return
            if c.status != 200:
                self.fail(f"HTTP {c.status}")
                return
            self.connected()
            while not self._halt:
                it = c.next(timeout=0.5)
                if it is None:
                    if c.eof or c.ended:
                        self.fail("stream ended")
                        return
                    continue
                if "data" not in it:
                    continue
                kind = it.get("event", "message")
                if kind == "reset":
                    self.resets.append(json.loads(it["data"]))
                elif kind == "message":
                    self.event(json.loads(it["data"]))
                if "id" in it:
                    self.cursor = it["id"]
        finally:
            c.close()


class PollSub(Sub):
    """Long-polls of /push/poll through the web server, `since` the last
    answer's cursor."""

    kind = "poll"

    def session(self):
        first = True
        while not self._halt:
            t0 = time.monotonic()
            a = get(self.port, f"/push/poll?channel={','.join(self.channels)}"
                    f"&since={self.cursor}&wait=2&limit=1000", timeout=8)
            if a.status is None:
                self.fail("closed before an answer" if time.monotonic() - t0 < 7
                          else "HTTP None: no answer in 8 s")
                return
            if a.status != 200 or not isinstance(a.json, dict):
                self.fail(f"HTTP {a.status}")
                return
            if first:
                self.connected()
                first = False
            self.resets += a.json.get("reset", [])
            for ev in a.json.get("events", []):
                if not ev.get("snapshot"):
                    self.event(ev)
            self.cursor = a.json["cursor"]


class WsSub(Sub):
    """fastpush-ws on its own port: subscribe with `since`, resubscribe
    from the last event's id after any close or error."""

    kind = "ws"

    def session(self):
        c = WS.connect(self.port)
        try:
            c.send_json({"type": "subscribe", "channels": self.channels, "since": self.cursor})
            self.connected()
            while not self._halt:
                try:
                    op, data = c.recv(timeout=0.5)
                except (TimeoutError, socket.timeout):
                    continue
                except (Closed, OSError) as e:
                    self.fail(f"closed: {e}")
                    return
                if op == OP_PING:
                    c.send(OP_PONG, data)
                elif op == OP_CLOSE:
                    self.fail(f"close {int.from_bytes(data[:2], 'big') if data else None}")
                    return
                elif op == OP_TEXT:
                    if not self.message(json.loads(data)):
                        return
        finally:
            c.close()

    def message(self, m):
        """Handle one message; False when the connection should be left."""
        kind = m.get("type")
        if kind is None:
            self.event(m)
            self.cursor = m["id"]
        elif kind == "ready":
            self.cursor = m["cursor"]
        elif kind == "reset":
            self.resets.append(m)
        elif kind == "error":
            self.fail(f"error {m.get('error')}")
            return False
        return True


def wait_caught_up(subs, seq, timeout=20.0):
    """Until every subscriber has got an event at or past seq (or the time
    runs out); True if all have."""
    return wait_for(lambda: all(s.high() >= seq for s in subs), timeout, 0.05)
