"""The real system for the browser tests, and what they share.

    from browserstack import System, Numbered, RECORDER
    with Env(t) as env:
        s = System(env)                 # broker (with a store), fastpush-sse,
        s.url                           # -poll, -ws, lighttpd on one origin
        s.stop("ws"); s.start("ws")     # take a part away and bring it back
        s.close()                       # at the end: stop the lighttpds

The processes are the harness's (stopped by PID, sanitizer logs checked);
they are an fpstack.Stack of kind "origin" (tools/fpstack), as for
`make demo`.  Numbered publishes 1, 2, 3, ... on a channel from its
own thread and socket, retrying a number until the broker took it.
RECORDER is a script for a page: T.start(name, options) makes a Fastpush
client that records what it gets; T.get(name) returns the record.
run(t, main, ...) runs each main(env, br) with a fresh Env and Chromium.
"""
import json
import os
import threading
import urllib.request

import zmq

import chromium
from chromium import Chromium
from harness import Env, require_tool
import fpstack  # noqa: E402  (harness puts tools/ on sys.path)

ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "artifacts")
SECRET = "test-secret"
PAGE = """<!doctype html><meta charset="utf-8"><title>fastpush browser test</title>
<script src="/js/fastpush.js"></script><body>fastpush browser test</body>"""

# Short timeouts, so that falling back and upgrading take seconds.
FAST = {"openTimeout": 1500, "silenceTimeout": 4000, "pingInterval": 1000, "pollWait": 2,
        "upgradeInterval": 1500, "backoff": [100, 1000], "publishSecret": SECRET}

RECORDER = r"""
window.T = window.T || { clients: {} };
T.start = function (name, opts) {
  const rec = { events: [], resets: [], statuses: [], errors: [] };
  if (opts.tokenFrom)                 // a token function: window[tokenFrom]
    opts = Object.assign({}, opts, { token: () => window[opts.tokenFrom] });
  const fp = new Fastpush(opts);
  fp.on('event', e => rec.events.push(e));
  fp.on('reset', r => rec.resets.push(r));
  fp.on('status', s => rec.statuses.push(s));
  fp.on('error', e => rec.errors.push(e.code + ': ' + e.message));
  T.clients[name] = { fp, rec };
  return true;
};
T.get = function (name, all) {
  const c = T.clients[name];
  const evs = c.rec.events;
  return { status: c.fp.status, cursor: c.fp.cursor, n: evs.length,
           events: all ? evs.map(e => [e.channel, e.id, e.data, !!e.snapshot]) : [],
           resets: c.rec.resets, errors: c.rec.errors,
           transports: c.rec.statuses.filter(s => s.connected).map(s => s.transport) };
};
T.wait = function (name, pred, ms) {
  return new Promise((resolve, reject) => {
    const end = Date.now() + (ms || 10000);
    (function check() {
      const r = T.get(name, true);
      if (pred(r)) return resolve(true);
      if (Date.now() > end) return resolve(false);
      setTimeout(check, 50);
    })();
  });
};
true
"""


class System:
    """broker + fastpush-sse + fastpush-poll + fastpush-ws behind lighttpd."""

    def __init__(self, env, store=True, responders=None):
        """responders: more directives for fastpush-sse, -poll and -ws
        (e.g. auth)."""
        self.env = env
        self.more = responders or {}
        kw = {"history_count": 100000}
        if store:
            kw["store"] = env.path("store")
        self.docroot = env.path("www")
        os.makedirs(self.docroot, exist_ok=True)
        with open(os.path.join(self.docroot, "index.html"), "w") as f:
            f.write(PAGE)
        m = self.more
        self.stack = fpstack.Stack(
            env, "origin", broker=kw, template=False,
            sse=dict(heartbeat="1s", retry="500ms", prefix="/events", **m),
            poll=dict(publish_secret=SECRET, max_wait="5s", prefix="/push", **m),
            ws=dict(publish="on", heartbeat="2s", **m), origin={"docroot": self.docroot})
        self.b = self.stack.broker
        self.procs = {"sse": self.stack.sse, "poll": self.stack.poll, "ws": self.stack.ws,
                      "lighttpd": self.stack.server}
        self.port = self.stack.port
        self.url = f"http://127.0.0.1:{self.port}/"

    def start(self, name):
        self.procs[name].start()

    def stop(self, name):
        return self.procs[name].stop()

    def lighttpd(self, name="lighttpd", **kw):
        """Start another lighttpd (kw: buffered_sse=True) and return its port."""
        p = self.env.add(fpstack.Origin(self.env, self.stack, self.docroot, name=name, **kw))
        self.procs[name] = p
        return p.port

    def close(self):
        """Stop the lighttpds first.  lighttpd exits 1 (or dies of the
        SIGTERM) when streams were open or had just ended: that is not a
        failure of ours, so its status is not checked."""
        for name, p in self.procs.items():
            if name.startswith("lighttpd"):
                p.stop()

    def get(self, path):
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=5) as r:
            return json.loads(r.read())

    def responders(self, transport, key, after=0):
        """The sum of a counter over the reports of one transport, or None
        while a report is older than `after` (the broker's ms clock)."""
        reps = [r for r in self.get("/push/stats")["broker"].get("responders", [])
                if r["transport"] == transport]
        if not reps or any(r["ts"] <= after for r in reps):
            return None
        return sum(r["stats"].get(key, 0) for r in reps)

    def now(self):
        """The broker's clock (ms), to ask for reports newer than now."""
        return self.b.request("PING")[1]["ts"]

    def history(self, channel):
        """The broker's events of a channel (current epoch), ids in order."""
        st, meta, evs = self.b.request("SINCE", {"channels": [channel], "cursor": "earliest",
                                                 "limit": 10000})
        return [e["id"] for e in evs if not e.get("snapshot")]


class Numbered(threading.Thread):
    """Publish 1, 2, 3, ... on `channel` every `interval` s, retrying a
    number until the broker acknowledges it (over restarts)."""

    def __init__(self, control, channel, interval=0.04):
        super().__init__(daemon=True)
        self.control, self.channel, self.interval = control, channel, interval
        self.n = 0
        self.halt = threading.Event()

    def run(self):
        ctx = zmq.Context()
        sock = None
        n = 1
        while not self.halt.is_set():
            if sock is None:
                sock = ctx.socket(zmq.DEALER)
                sock.setsockopt(zmq.LINGER, 0)
                sock.connect(self.control)
            sock.send_multipart([b"PUBLISH", json.dumps({"channel": self.channel,
                                                         "data": n}).encode()])
            if sock.poll(1000) and sock.recv_multipart()[0] == b"OK":
                self.n = n
                n += 1
            else:
                sock.close()
                sock = None
            self.halt.wait(self.interval)
        if sock is not None:
            sock.close()
        ctx.term()

    def stop(self):
        self.halt.set()
        self.join(5)
        return self.n


def check_sequence(t, s, got, channel, desc):
    """`got` (T.get(..., all)['events']) holds exactly the broker's events
    of `channel`, in order: nothing lost, nothing repeated."""
    ids = [e[1] for e in got if e[0] == channel and not e[3]]
    want = s.history(channel)
    dups = len(ids) - len(set(ids))
    missing = [i for i in want if i not in set(ids)]
    return t.ok(ids == want, desc, f"got {len(ids)} events, broker has {len(want)}; "
                f"{dups} repeated, missing {missing[:10]}")



def run(t, *mains):
    """Each main(env, br) in its own Env with its own Chromium.  Without
    chromium or lighttpd: a failure naming the missing tool (a skip with
    FP_ALLOW_SKIP=1, see harness.require_tool).  Ends the test (t.done)."""
    have_chromium = require_tool(t, "chromium", chromium.binary())
    have_lighttpd = require_tool(t, "lighttpd", fpstack.LIGHTTPD)
    if not (have_chromium and have_lighttpd):
        mains = ()
    for main in mains:
        with Env(t) as env:
            with Chromium(env.dir) as br:
                main(env, br)
    t.done()
