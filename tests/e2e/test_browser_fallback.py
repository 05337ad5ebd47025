"""The browser client (clients/js/fastpush.js) in headless Chromium against
the real system behind lighttpd: it falls back from WebSocket to SSE to
polling as parts go away, upgrades back as they return, survives broker
restarts (with its store: no reset), notices a hung part by its silence,
and gives up on an SSE path that a buffering server never delivers.
Numbers are published throughout; the page must get exactly the broker's
events, none lost or repeated."""
import json
import signal

from browserstack import FAST, RECORDER, Numbered, System, check_sequence, run
from harness import Tap

t = Tap()


def wait_transport(tab, name, want, desc, timeout=10000):
    ok = tab.eval(f"T.wait('{name}', r => r.status.connected && "
                  f"r.status.transport === '{want}', {timeout})", timeout / 1000 + 5)
    return t.ok(ok, desc, tab.eval(f"T.get('{name}')"))


def wait_more(tab, name, timeout=5000):
    """True once the client got 5 more events than it has now."""
    n = tab.eval(f"T.get('{name}').n")
    return tab.eval(f"T.wait('{name}', r => r.n >= {n + 5}, {timeout})", timeout / 1000 + 5)


def main(env, br):
    s = System(env)
    tab = br.open(s.url)
    tab.eval(RECORDER)
    tab.eval(f"T.start('c', {json.dumps(dict(FAST, channels=['seq', 'other']))})")
    wait_transport(tab, "c", "websocket", "connects over WebSocket first")
    pub = Numbered(s.b.control, "seq")
    pub.start()
    t.ok(wait_more(tab, "c"), "numbered events arrive")

    s.stop("ws")
    wait_transport(tab, "c", "sse", "bridge stopped: falls back to SSE")
    t.ok(wait_more(tab, "c"), "events keep coming over SSE")
    s.stop("sse")
    wait_transport(tab, "c", "poll", "SSE answering 503 too: falls back to polling")
    t.ok(wait_more(tab, "c"), "events keep coming over polling")
    s.start("sse")
    wait_transport(tab, "c", "sse", "SSE back: upgrades to SSE")
    s.start("ws")
    wait_transport(tab, "c", "websocket", "bridge back: upgrades to WebSocket")
    t.ok(wait_more(tab, "c"), "events keep coming over WebSocket")

    s.b.restart()
    t.ok(wait_more(tab, "c", 10000), "broker restarted (with its store): events resume")
    t.eq(tab.eval("T.get('c').resets"), [], "no reset: history covered every resume")
    # a crash under store-fsync everysec: what may not have reached the disk
    # is reset explicitly for older cursors (broker/replay.c), never skipped
    s.b.restart(signal.SIGKILL)
    t.ok(wait_more(tab, "c", 10000), "broker killed and restarted: events resume")
    n = pub.stop()
    t.ok(tab.eval(f"T.wait('c', r => r.events.some(e => e[2] === {n}), 8000)", 15),
         f"the last number ({n}) arrives")
    r = tab.eval("T.get('c', true)")
    check_sequence(t, s, r["events"], "seq",
                   "across every switch and both restarts: each event exactly once, in order")
    t.ok(all(x["reason"] == "trimmed" for x in r["resets"]),
         "after the crash at most a 'trimmed' reset", r["resets"])
    t.eq(r["transports"], ["websocket", "sse", "poll", "sse", "websocket"],
         "transports in use, in order")
    t.eq(r["status"]["role"], "leader", "the only tab leads")

    # a hung part keeps its connections open and says nothing: the client
    # notices the silence (no pong, no heartbeat comment) and moves on
    for part, name, order, want in (("ws", "h1", ["websocket", "sse"], "sse"),
                                    ("sse", "h2", ["sse", "poll"], "poll")):
        tab.eval(f"T.start('{name}', {json.dumps(dict(FAST, channels=['seq'], transports=order))})")
        wait_transport(tab, name, order[0], f"{part} hung: first on {order[0]}")
        s.procs[part].send_signal(signal.SIGSTOP)
        wait_transport(tab, name, want, f"{part} hung (SIGSTOP): silent, falls back to {want}")
        s.procs[part].send_signal(signal.SIGCONT)
        wait_transport(tab, name, order[0], f"{part} answers again: back on {order[0]}")
        t.ok(any("silent" in (st.get("error") or "") for st in
                 tab.eval(f"T.clients.{name}.rec.statuses")), f"{name}: the status said silent")
        tab.eval(f"T.clients.{name}.fp.close(), true")

    # a server that buffers the SSE path delivers nothing: fall back to polling
    port = s.lighttpd("lighttpd-buffered", buffered_sse=True)
    tab2 = br.open(f"http://127.0.0.1:{port}/")
    tab2.eval(RECORDER)
    tab2.eval(f"T.start('b', {json.dumps(dict(FAST, channels=['seq'], transports=['sse', 'poll']))})")
    wait_transport(tab2, "b", "poll", "SSE through a buffering server: silent, falls back to polling")
    r = tab2.eval("T.get('b')")
    t.ok(any("silent" in (st.get("error") or "") for st in
             tab2.eval("T.clients.b.rec.statuses")), "the status says SSE stayed silent", r)
    s.b.publish("seq", "after")
    t.ok(tab2.eval("T.wait('b', r => r.events.some(e => e[2] === 'after'), 8000)", 15),
         "events arrive over polling through the buffering server")
    tab.eval("T.clients.c.fp.close(), true")
    tab2.eval("T.clients.b.fp.close(), true")
    s.close()


run(t, main)
