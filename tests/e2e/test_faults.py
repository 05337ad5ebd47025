"""The fault matrix under load (issue 17, "Hardening").

One stack: the broker (store engine local, fsync always, the store on
failfs, a FUSE pass-through that can fail fsync, over a size-limited
tmpfs), fastpush-sse and fastpush-poll behind lighttpd, fastpush-ws on
its own port.  While an acknowledged publisher publishes
on two channels without pause and an SSE, a poll and a WebSocket
subscriber consume them (each resuming by cursor after anything breaks,
as the browser client does), every fault of the matrix is injected in
turn:

    the store's disk full (ENOSPC), fsync failing (EIO), kill -9 of the
    broker, fastpush-sse, fastpush-poll, lighttpd and fastpush-ws (each
    restarted at once), slowloris on every listener, clients that read
    nothing (SSE and WS), 20,500 connections on one fastpush-ws process
    and fastpush-sse with fewer descriptors than streams asked (EMFILE).

For each: every event acknowledged meanwhile reached each subscriber
exactly once, in order per channel, with no reset; what was refused was
refused with a clear answer; the part that failed (or its restart) serves
again.  The matrix is printed as a table of TAP comments.
"""
import collections
import os
import resource
import select
import signal
import socket
import subprocess
import tempfile
import time

from failfs import FailFs
from faultload import PollSub, Publisher, SseSub, WsSub, wait_caught_up
from fcgiclient import FcgiConn, request as fcgi_request
from floods import Holders, Slowloris
from harness import Env, Tap, wait_for
from pollclient import get
from servers import Stack
from sseclient import SseClient
from wsclient import WS
from fpstack import cpu_seconds, nfds, rss_kb

t = Tap()
CHANNELS = ["fa", "fb"]
STORE_MB = 48                   # the tmpfs the store starts on
HANDSHAKE_S = 3                 # fastpush-ws handshake-timeout here
FCGI_FIRST_S, FCGI_REQUEST_S = 2, 5     # fcgi_accept: first byte, whole request
HOLD_PROCS, HOLD_EACH, HOLD_MORE = 5, 3800, 300
rows = []
NAMES = {"broker": "broker", "sse": "fastpush-sse", "poll": "fastpush-poll", "server": "lighttpd",
         "ws": "fastpush-ws"}


# ------------------------------------------------------------ the store's disk

class StoreDisk:
    """The store's disk: a tmpfs of STORE_MB (for ENOSPC) under failfs, a
    FUSE pass-through whose fsync can be made to fail (for EIO), so the
    stack's own broker meets both faults.  Where mount is not allowed
    (not root) a file-size limit on the broker stands in for the full
    disk (RLIMIT_FSIZE, SIGXFSZ ignored, as test_health does: EFBIG
    instead of ENOSPC, same path); without FUSE the store is on the tmpfs
    itself and fsync is not made to fail (a SKIP says why)."""

    def __init__(self):
        self.top = tempfile.mkdtemp(prefix="fp-faults-store-")
        self.dir, mnt = os.path.join(self.top, "disk"), os.path.join(self.top, "mnt")
        os.makedirs(self.dir)
        os.makedirs(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={STORE_MB}m,mode=0755",
                            "tmpfs", self.dir], capture_output=True, text=True)
        self.mounted = r.returncode == 0
        self.why = r.stderr.strip()
        self.fs = FailFs(self.dir, mnt)
        self.path = os.path.join(mnt if self.fs.mounted else self.dir, "store")

    def preexec(self):
        """For the broker's Popen when there is no tmpfs."""
        if self.mounted:
            return None

        def limited():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (STORE_MB << 20, resource.RLIM_INFINITY))
        return limited

    def grow(self, broker):
        """Make room again: a larger tmpfs, or no file-size limit."""
        if self.mounted:
            subprocess.run(["mount", "-o", "remount,size=512m", self.dir], check=True)
        else:
            inf = resource.RLIM_INFINITY
            resource.prlimit(broker.pid, resource.RLIMIT_FSIZE, (inf, inf))
            del broker.popen["preexec_fn"]

    def remove(self):
        self.fs.close()
        if self.mounted:
            subprocess.run(["umount", self.dir])
        subprocess.run(["rm", "-rf", self.top])


# ------------------------------------------------------------ one row

class Matrix:
    """The load and the rows: each row is the time since the previous
    one ended, so every acknowledged event is counted in exactly one."""

    def __init__(self, st, pub, subs):
        self.st, self.pub, self.subs = st, pub, subs
        self.mark = 0.0
        self.base = self._counters()

    def _counters(self):
        return {s.kind: (s.dups, s.disorder, len(s.resets)) for s in self.subs}

    def failures(self, t0):
        """What the subscribers were answered since t0, summed up."""
        out = []
        for s in self.subs:
            got = s.failures_between(t0, time.monotonic())
            c = collections.Counter(w.split(":")[0] for w in got)
            out += [f"{s.kind} {w} x{n}" for w, n in c.most_common(2)]
        return out

    def row(self, fault, refused, recovered, tail=False):
        """Settle the row: wait until every subscriber has every event
        acknowledged in it, check, and add it to the table.  The tail
        (the publisher already stopped) may have no acknowledgement left
        to check: its last ones can fall in the row before."""
        time.sleep(0.5)
        t1 = time.monotonic()
        acked = self.pub.acked_between(self.mark, t1)
        caught = wait_caught_up(self.subs, max(acked, default=0))
        now = self._counters()
        lost = {s.kind: s.missing(acked) for s in self.subs}
        dup = {k: now[k][0] - self.base[k][0] for k in now}
        disorder = {k: now[k][1] - self.base[k][1] for k in now}
        resets = {k: now[k][2] - self.base[k][2] for k in now}
        nlost, ndup = sum(len(v) for v in lost.values()), sum(dup.values())
        t.ok(len(acked) > 0 or tail, f"{fault}: {len(acked)} events acknowledged during the row")
        t.ok(nlost == 0 and caught, f"{fault}: every acknowledged event reached the sse, "
             "poll and ws subscribers", {k: v[:10] for k, v in lost.items()})
        t.ok(ndup == 0 and sum(disorder.values()) == 0 and sum(resets.values()) == 0,
             f"{fault}: no duplicate, in order per channel, no reset",
             f"dup {dup} disorder {disorder} resets {resets}")
        t.ok(recovered is not None, f"{fault}: serves again"
             + (f" after {recovered:.1f} s" if recovered is not None else ""))
        rows.append((fault, refused, len(acked), nlost, ndup,
                     "-" if recovered is None else f"{recovered:.1f}"))
        self.mark, self.base = t1, now


def print_matrix():
    head = ("fault", "what was refused", "acked", "lost", "dup", "recovered s")
    table = [head] + [tuple(str(c) for c in r) for r in rows]
    w = [max(len(r[i]) for r in table) for i in range(len(head))]
    t.note("")
    for k, r in enumerate(table):
        t.note(" | ".join(c.ljust(w[i]) for i, c in enumerate(r)))
        if k == 0:
            t.note("-|-".join("-" * n for n in w))


# ------------------------------------------------------------ kill -9

def kill_restart(st, part):
    """kill -9 one part and start it again (same config, port, socket)."""
    p = st.parts()[part]
    if part == "broker":
        p.restart(signal.SIGKILL)
        return
    os.kill(p.pid, signal.SIGKILL)
    p.stop(None)
    p.start()


def check_kill(m, part, probes):
    """probes: the subscribers whose next event (on a new connection)
    shows the part serves again; the publisher's next ack for the broker."""
    t0 = time.monotonic()
    unanswered0 = m.pub.unanswered
    kill_restart(m.st, part)
    if part == "broker":                # from the kill to an ack of the new broker's
        t1 = time.monotonic()
        rec = wait_for(lambda: m.pub.first_ack_after(t1), 20, 0.05)
        rec = rec and rec + t1 - t0
    else:
        rec = wait_for(lambda: all(s.first_event_after(t0) for s in probes) and
                       max(s.first_event_after(t0) for s in probes), 20, 0.05)
    time.sleep(m.pub.lost_after + 0.3 if part == "broker" else 0.3)
    refused = m.failures(t0)
    if part == "broker":
        refused.insert(0, f"pub: {m.pub.unanswered - unanswered0} in flight unanswered")
    t.ok(all(" None" not in r for r in refused),
         f"kill -9 {NAMES[part]}: every refused attempt got an answer or a closed connection",
         refused)
    m.row(f"kill -9 {NAMES[part]}", "; ".join(refused) or "nothing", rec or None)


# ------------------------------------------------------------ ENOSPC, fsync

def check_enospc(m, disk):
    st = m.st
    t0 = time.monotonic()
    n, refusal = 0, None
    for size in (60000, 4000, 200):     # until the store refuses even small events
        while n < 5000:
            status, meta, _ = st.broker.request("PUBLISH", {"channel": "fill", "data": "x" * size})
            if status != "OK":
                refusal = meta
                break
            n += 1
    what = "ENOSPC" if disk.mounted else "EFBIG (RLIMIT_FSIZE)"
    t.ok(refusal and refusal.get("error") == "store_failed" and refusal.get("message"),
         f"store disk full ({what}) after {n} events of 60 KB to 200 B: the publish is refused "
         "with store_failed and a message", refusal)
    time.sleep(0.5)
    r = st.broker.cli("health")
    out = (r.stdout + r.stderr).decode()
    t.ok(r.returncode == 1 and "store" in out, "fastpush health: not ready, the store's reason",
         out)
    refused = m.pub.refused_between(t0, time.monotonic())
    codes = collections.Counter(x.get("error") for x in refused)
    t.ok(refused and set(codes) == {"store_failed"},
         f"the running publisher's {len(refused)} publishes meanwhile: all store_failed", codes)
    t1 = time.monotonic()
    disk.grow(st.broker)
    rec = wait_for(lambda: m.pub.first_ack_after(t1), 15, 0.05)
    r = st.broker.cli("health")
    t.ok(wait_for(lambda: st.broker.cli("health").returncode == 0, 5),
         "fastpush health: ready again once there is room", r.stdout)
    m.row(f"store disk full ({what})", f"pub: {len(refused)} store_failed", rec)


def check_fsync_failure(m, disk):
    """fdatasync fails with EIO (failfs) for a second under the running
    publisher."""
    fs, st = disk.fs, m.st
    if not fs.mounted:
        t.skip("fsync failing under the store", f"no FUSE mount here ({fs.why})")
        rows.append(("fsync fails", f"not injected: {fs.why}", "-", "-", "-", "-"))
        return
    t0 = time.monotonic()
    failed0 = fs.failed
    fs.fail_fsync = True
    time.sleep(1)
    r = st.broker.cli("health")
    out = (r.stdout + r.stderr).decode()
    fs.fail_fsync = False
    t1 = time.monotonic()
    rec = wait_for(lambda: m.pub.first_ack_after(t1), 10, 0.05)
    refused = m.pub.refused_between(t0, time.monotonic())
    codes = collections.Counter(x.get("error") for x in refused)
    t.ok(fs.failed > failed0 and refused and set(codes) == {"store_failed"},
         f"fsync fails with EIO ({fs.failed - failed0} times): the publishes meanwhile are "
         f"refused with store_failed ({len(refused)})", codes)
    t.ok(r.returncode == 1 and "fsync" in out, "fastpush health: not ready, the fsync's "
         "failure given", out)
    m.row("fsync fails (EIO)", f"pub: {len(refused)} store_failed", rec)


# ------------------------------------------------------------ slowloris

def probe_clients(st):
    """A normal SSE open, poll and WebSocket subscribe; (ok, seconds, what)."""
    t0 = time.monotonic()
    what = []
    a = get(st.port, "/push/poll?channel=fa", timeout=5)
    what.append(f"poll {a.status}")
    c = SseClient(st.port, "/events/fa", head_timeout=5)
    ready = c.status == 200 and c.next_event(5)
    c.close()
    what.append(f"sse {c.status}")
    w = WS.connect(st.ws_port)
    w.send_json({"type": "subscribe", "channels": ["fa"]})
    m = w.recv_json(5)
    w.close()
    what.append(f"ws {m and m.get('type')}")
    ok = a.status == 200 and ready and m and m.get("type") == "ready"
    return ok, time.monotonic() - t0, ", ".join(what)


def check_slowloris(m):
    st = m.st
    http = b"GET /events/fa HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
    targets = {
        "lighttpd": (("127.0.0.1", st.port), http, 40),
        "ws": (("127.0.0.1", st.ws_port), WS(None).request_bytes(), 40),
        "sse-fcgi": (st.sock, fcgi_request("GET", "/events/fa"), 8),
        "poll-fcgi": (st.poll_sock, fcgi_request("GET", "/push/poll?channel=fa"), 8),
    }
    t0 = time.monotonic()
    lor = Slowloris(targets)
    lor.start()
    probes = []
    while time.monotonic() - t0 < FCGI_FIRST_S + FCGI_REQUEST_S + 3:
        probes.append(probe_clients(st))
        time.sleep(0.5)
    lor.stop()
    bad = [p for p in probes if not p[0] or p[1] > 5]
    t.ok(not bad, f"slowloris: {len(probes)} normal SSE, poll and WS clients served meanwhile "
         f"(slowest {max(p[1] for p in probes):.1f} s)", bad[:5])
    limits = {"ws": HANDSHAKE_S, "sse-fcgi": FCGI_REQUEST_S, "poll-fcgi": FCGI_REQUEST_S}
    cut = []
    for name, limit in limits.items():
        got = lor.closed[name]
        t.ok(len(got) == targets[name][2] and max(got, default=99) < limit + 2.5,
             f"slowloris on {name}: all {targets[name][2]} cut within {limit} s (+2.5) of "
             f"their first byte (slowest {max(got, default=0):.1f} s)", got)
        cut.append(f"{name} {len(got)}/{targets[name][2]} cut")
    held = lor.open_count("lighttpd")
    t.note(f"slowloris on lighttpd: {held} of 40 still open after "
           f"{time.monotonic() - t0:.0f} s: lighttpd 1.4 has only an idle timeout "
           "(server.max-read-idle, 60 s), which a byte a second never reaches "
           "(docs/security.md, 'Not limited yet')")
    cut.append(f"lighttpd {40 - held}/40 cut")
    slowest = max(max(lor.closed[n], default=0) for n in limits)
    m.row("slowloris (every listener)", ", ".join(cut), slowest if not bad else None)


# ------------------------------------------------------------ clients that read nothing

def check_non_readers(m):
    st = m.st
    sse_pid, ws_pid = st.sse.pid, st.ws.pid
    rss0 = {"sse": rss_kb(sse_pid), "ws": rss_kb(ws_pid), "lighttpd": rss_kb(st.server.pid)}
    sse_slow = SseClient(st.port, "/events/big", rcvbuf=4096, head_timeout=5)
    ws_slow = WS.connect(st.ws_port, rcvbuf=4096)
    ws_slow.send_json({"type": "subscribe", "channels": ["big"]})
    time.sleep(0.3)
    t0 = time.monotonic()
    for i in range(120):                  # ~4 MB on a channel only they follow
        st.broker.publish("big", {"i": i, "pad": "y" * 32000})
    sse_cut = wait_for(lambda: "client not reading" in st.sse.read_log(), 15, 0.1)
    ws_cut = wait_for(lambda: "slow consumer" in st.ws.read_log(), 15, 0.1)
    rec = time.monotonic() - t0
    grown = {k: (rss_kb(p) - rss0[k]) // 1024 for k, p in
             (("sse", sse_pid), ("ws", ws_pid), ("lighttpd", st.server.pid))}
    t.ok(sse_cut, "an SSE client that reads nothing: fastpush-sse ends its stream at max-buffer")
    t.ok(ws_cut, "a WebSocket client that reads nothing: fastpush-ws cuts it (slow consumer)")
    msgs = ws_slow.collect_json(lambda x: "_close" in x, 15)
    errs = [x for x in msgs if x.get("type") == "error"]
    t.ok(errs and errs[-1].get("error") == "slow_consumer" and errs[-1].get("cursor")
         and msgs[-1].get("_close") == 1008,
         "... which, reading at last, finds slow_consumer with its cursor, then close 1008",
         [x for x in msgs if "type" in x or "_close" in x][-3:])
    t.ok(all(v < 64 for v in grown.values()), f"memory stays bounded (RSS growth MB: {grown})")
    sse_slow.close()
    ws_slow.close()
    m.row("clients that read nothing (sse, ws)", "sse stream ended; ws close 1008",
          rec if sse_cut and ws_cut else None)


# ------------------------------------------------------------ EMFILE

def check_emfile(m):
    st = m.st
    pid = st.ws.pid
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (20000, 20000))   # as on Debian here
    h = Holders(st.ws_port, HOLD_PROCS, HOLD_EACH)
    try:
        up = h.open()
        t.ok(up >= HOLD_PROCS * HOLD_EACH * 0.99,
             f"{up} idle WebSocket connections upgraded on one fastpush-ws process "
             f"({nfds(pid)} descriptors open)")
        h.more(HOLD_MORE)
        time.sleep(1.5)
        t.ok("pausing the listener" in st.ws.read_log(),
             f"{HOLD_PROCS * HOLD_MORE} more: accept fails with EMFILE and the listener pauses "
             f"({nfds(pid)} descriptors, limit 20000)")
        c0, w0 = cpu_seconds(pid), time.monotonic()
        time.sleep(3)
        cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - w0)
        t.ok(cpu < 0.2, f"... and does not spin: {cpu * 100:.0f}% of a core over 3 s "
             "with connections waiting in the backlog")
        t1 = time.monotonic()
        h.close(600)
        rec = wait_for(lambda: ws_served(st) and time.monotonic() - t1, 20, 0.2)
        t.ok(rec, f"once {HOLD_PROCS * 600} close, a new client is served again"
             + (f" after {rec:.1f} s" if rec else ""))
    finally:
        h.stop()
    m.row(f"{HOLD_PROCS * (HOLD_EACH + HOLD_MORE)} connections on one ws process (EMFILE)",
          "backlog waits while paused", rec or None)


def check_emfile_fcgi(m):
    """fastpush-sse restarted with a small descriptor limit and more
    streams than it allows: its accept pauses, does not spin, and serves
    again.  (It runs with the web server's group, so prlimit from here
    is not allowed: the limit is set at its start.)"""
    st = m.st
    limit = nfds(st.sse.pid) + 100
    restart_sse(st, limit)
    pid = st.sse.pid
    conns = []
    try:
        for _ in range(150):
            c = FcgiConn(st.sock)
            c.send(fcgi_request("GET", "/events/fa"))
            conns.append(c)
        time.sleep(1.5)
        ready = [c for c in conns if select.select([c.sock], [], [], 0)[0]]
        closed = sum(1 for c in ready if c.sock.recv(1, socket.MSG_PEEK) == b"")
        t.ok(50 < len(ready) < 150 and closed == 0,
             f"fastpush-sse at its descriptor limit ({nfds(pid)} open, limit {limit}): "
             f"{len(ready)} of 150 FastCGI streams answered, the rest wait, none closed "
             "unanswered", f"{closed} closed")
        c0, w0 = cpu_seconds(pid), time.monotonic()
        time.sleep(2)
        cpu = (cpu_seconds(pid) - c0) / (time.monotonic() - w0)
        t.ok(cpu < 0.2, f"... its accept does not spin: {cpu * 100:.0f}% of a core over 2 s")
        t1 = time.monotonic()
        for c in conns[:80]:
            c.close()
        rec = wait_for(lambda: sse_served(st) and time.monotonic() - t1, 15, 0.2)
        t.ok(rec, "once 80 close, a new SSE stream through lighttpd is served"
             + (f" after {rec:.1f} s" if rec else ""))
    finally:
        for c in conns:
            c.close()
        restart_sse(st, None)
    m.row("fastpush-sse at its fd limit (EMFILE)", "requests wait in the backlog", rec or None)


def restart_sse(st, nofile):
    """Stop fastpush-sse (SIGTERM) and start it with at most nofile
    descriptors (None: as before)."""
    p = st.sse
    p.stop()
    if nofile:
        p.popen["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                           (nofile, nofile))
    else:
        p.popen.pop("preexec_fn", None)
    p.start()


def sse_served(st):
    c = SseClient(st.port, "/events/fa", head_timeout=3)
    ok = c.status == 200 and c.next_event(3) is not None
    c.close()
    return ok


def ws_served(st):
    try:
        w = WS.connect(st.ws_port)
        w.send_json({"type": "subscribe", "channels": ["fa"]})
        msg = w.recv_json(3)
        w.close()
        return bool(msg) and msg.get("type") == "ready"
    except (OSError, AssertionError):
        return False


# ------------------------------------------------------------ the run

def main():
    disk = StoreDisk()
    if not disk.mounted:
        t.note(f"mount -t tmpfs not allowed ({disk.why}): the store's disk is full by "
               "RLIMIT_FSIZE instead (EFBIG), as in test_health")
    try:
        with Env(t) as env:
            broker = {"store": disk.path, "store_fsync": "always", "heartbeat": "250ms",
                      "history_count": 200000, "history_bytes": "256m"}
            if disk.preexec():
                broker["preexec_fn"] = disk.preexec()
            st = Stack(env, "lighttpd", broker=broker, sse={"heartbeat": "2s"}, poll={},
                       ws={"handshake_timeout": f"{HANDSHAKE_S}s", "slow_timeout": "1s",
                           "heartbeat": "60s", "max_connections": "25000",
                           "log_level": "info"})
            ping = st.broker.request("PING")[1]
            cursor = f"{ping['epoch']}-{ping['head']}"
            subs = [SseSub(st.port, CHANNELS, cursor), PollSub(st.port, CHANNELS, cursor),
                    WsSub(st.ws_port, CHANNELS, cursor)]
            for s in subs:
                s.start()
            pub = Publisher(st.broker, CHANNELS)
            pub.start()
            m = Matrix(st, pub, subs)
            m.mark = time.monotonic()
            f0 = st.broker.request("STATS")[1]["store"]
            time.sleep(1.5)
            m.row("none (baseline)", "nothing", 0.0)
            f1 = st.broker.request("STATS")[1]["store"]
            t.ok(f1["fsync"] == "always" and f1["fsyncs"] > f0["fsyncs"],
                 f"store-fsync always: {f1['fsyncs'] - f0['fsyncs']} fsyncs (one per batch) "
                 "during the baseline", (f0, f1))
            sse, poll, ws = subs
            check_enospc(m, disk)
            check_fsync_failure(m, disk)
            check_kill(m, "broker", [])        # replays what the two above left
            check_kill(m, "sse", [sse])
            check_kill(m, "poll", [poll])
            check_kill(m, "server", [sse, poll])
            check_kill(m, "ws", [ws])
            check_slowloris(m)
            check_non_readers(m)
            check_emfile(m)
            check_emfile_fcgi(m)
            pub.stop()
            m.row("publisher stopped (the tail)", "nothing", 0.0, tail=True)
            for s in subs:
                s.stop()
            t.ok(all(not s.is_alive() for s in subs), "the subscribers stop")
            st.stop()
            print_matrix()
    finally:
        disk.remove()
    t.done()


main()
