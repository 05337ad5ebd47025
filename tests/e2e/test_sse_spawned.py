"""fastpush-sse started by the web server: lighttpd "bin-path"
(conf/lighttpd-sse-spawn.conf) and Apache mod_fcgid
(conf/apache-sse-fcgid.conf), each handing it the listening socket on
fd 0 (listen "").  Streams work without buffering; lighttpd restarts the
process after it stopped; mod_fcgid runs one process per open stream;
nothing is left running once the server stopped."""
import os
import signal
import time

from harness import Env, Tap, wait_for
from sse_checks import MAX_DELAY_MS, note_delays, open_stream
from servers import Stack, alive

t = Tap()


def live(t, st, path, channel, n=5):
    """n events on an open stream: (all arrived in order, delays in ms)."""
    c, _, ready = open_stream(st, path)
    delays, ok = [], ready is not None
    for i in range(n):
        t0 = time.monotonic()
        eid = st.broker.publish(channel, i)["id"]
        ev = c.next_event(2)
        ok = ok and ev is not None and ev.get("id") == eid
        if ev:
            delays.append((ev["t"] - t0) * 1000)
    return c, ok, delays


def check_lighttpd(env):
    st = Stack(env, "lighttpd-spawn", sse={"heartbeat": "1s"})
    k = st.kind
    pids = wait_for(st.server.spawned, 5) or []   # (lighttpd may still be exec'ing it)
    t.eq(len(pids), 1, f"{k}: lighttpd started one fastpush-sse")
    t.ok(wait_for(lambda: "FastCGI on fd 0" in st.server.read_log(), 5),
         f"{k}: it serves the socket lighttpd passed on fd 0 (listen \"\")")
    c, ok, delays = live(t, st, "/events/sp", "sp")
    t.ok(ok and delays and max(delays) < MAX_DELAY_MS,
         f"{k}: events arrive at once (max {max(delays or [0]):.1f} ms)", delays)
    note_delays(t, k, delays)
    last = st.broker.publish("sp", "last")["id"]
    c.next_event(2)
    c.close()
    missed = st.broker.publish("sp", "missed")["id"]
    c, before, _ = open_stream(st, "/events/sp", headers={"Last-Event-ID": last})
    t.eq([e.get("id") for e in before], [missed], f"{k}: Last-Event-ID resumes")
    # SIGTERM to the spawned process: streams end properly, lighttpd
    # starts a new one
    for p in pids:
        os.kill(p, signal.SIGTERM)
    t.ok(c.read_to_end(5) and c.ended, f"{k}: SIGTERM to fastpush-sse ends the stream properly")
    c.close()
    clients = []

    def works():
        clients.append(st.stream("/events/sp"))
        return clients[-1].status == 200
    respawned = wait_for(lambda: st.server.spawned() and st.server.spawned() != pids
                         and works(), 10, 0.25)
    t.ok(respawned, f"{k}: lighttpd starts a new fastpush-sse for the next request")
    for c in clients:
        c.close()
    time.sleep(2.5)     # lighttpd notices at its next write (a heartbeat); it
    new = st.server.spawned()   # exits 1 if stopped with a request in flight
    st.stop()
    t.ok(new and not any(alive(p) for p in new),
         f"{k}: stopping lighttpd stops the fastpush-sse it started")


def check_fcgid(env):
    st = Stack(env, "apache-fcgid", sse={"heartbeat": "1s"})
    k = st.kind
    c, ok, delays = live(t, st, "/events/fc", "fc")
    t.ok(ok and delays and max(delays) < MAX_DELAY_MS,
         f"{k}: with FcgidOutputBufferSize 0 events arrive at once (max {max(delays or [0]):.1f} ms)",
         delays)
    note_delays(t, k, delays)
    t.eq(len(st.server.spawned()), 1, f"{k}: one fastpush-sse process for one stream")
    c2, _, ready = open_stream(st, "/events/fc2")
    t.ok(ready is not None and len(st.server.spawned()) == 2,
         f"{k}: a second concurrent stream needs a second process (mod_fcgid: one request "
         f"per process)", st.server.spawned())
    c.close()
    c2.close()
    st.stop()


with Env(t) as env:
    check_lighttpd(env)
with Env(t) as env:
    check_fcgid(env)
t.done()
