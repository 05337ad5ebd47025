"""The browser client (clients/js/fastpush.js) in headless Chromium against
the real system behind lighttpd: events and publishes over each
transport, resets surfaced (a cursor of another epoch, a keyed snapshot,
a broker restart without a store), and the tabs of an origin sharing one
connection: with Web Locks and with the BroadcastChannel election, the
leader's tab closing, a follower publishing and a follower catching up
from its own cursor."""
import json

from browserstack import FAST, RECORDER, Numbered, System, run
from harness import Tap, wait_for

t = Tap()
TRANSPORTS = ("websocket", "sse", "poll")


def start(tab, name, **opts):
    tab.eval(f"T.start('{name}', {json.dumps(dict(FAST, **opts))})")


def wait(tab, name, pred, desc, ms=8000):
    ok = tab.eval(f"T.wait('{name}', r => {pred}, {ms})", ms / 1000 + 5)
    return t.ok(ok, desc, tab.eval(f"T.get('{name}', true)"))


def data_of(tab, name, channel):
    return [e[2] for e in tab.eval(f"T.get('{name}', true)")["events"] if e[0] == channel]


def check_transports(s, tab):
    for tr in TRANSPORTS:       # a token is passed through (nothing checks it here)
        start(tab, tr, channels=["t1", "k1"], transports=[tr], share=False, token="t0ken.a.b")
    for tr in TRANSPORTS:
        wait(tab, tr, f"r.status.connected && r.status.transport === '{tr}'",
             f"{tr}: connects with only that transport")
    for i in range(5):
        s.b.publish("t1", i)
    for k, v in (("a", 1), ("b", 2), ("a", 3)):
        s.b.publish("k1", v, key=k)
    for tr in TRANSPORTS:
        wait(tab, tr, "r.events.length >= 8", f"{tr}: the events arrive")
        t.eq(data_of(tab, tr, "t1"), [0, 1, 2, 3, 4], f"{tr}: in order, once each")
    via = tab.eval("""(async () => [
        await T.clients.websocket.fp.publish('t1', 'from-ws'),
        await T.clients.sse.fp.publish('t1', 'from-http', {event: 'note'}),
        await T.clients.poll.fp.publish('t1', 'forced-http', {via: 'http'})
    ].map(r => r.via + ' ' + /^[0-9a-z]+-[0-9]+$/.test(r.id)))()""")
    t.eq(via, ["websocket true", "http true", "http true"],
         "publish() goes over the WebSocket when connected by one, else POST /push/publish")
    for tr in TRANSPORTS:
        wait(tab, tr, "r.events.length >= 11", f"{tr}: the page's publishes arrive too")
        t.eq(data_of(tab, tr, "t1")[5:], ["from-ws", "from-http", "forced-http"],
             f"{tr}: the page's publishes, in order")
    err = tab.eval("T.clients.sse.fp.publish('bad channel!', 1).then(() => 'ok', e => e.code)")
    t.eq(err, "invalid_event", "a refused publish rejects with the server's code")
    for tr in TRANSPORTS:
        start(tab, f"bad-{tr}", channels=["bad channel!"], transports=[tr], share=False)
    for tr in TRANSPORTS:
        wait(tab, f"bad-{tr}", "r.errors.length > 0", f"{tr}: a refusal (a bad channel name) is "
             "raised as an 'error' event")
        r = tab.eval(f"T.get('bad-{tr}')")
        t.ok(not r["status"]["connected"] and
             any(e.startswith(("bad_channel", "bad_request")) for e in r["errors"]),
             f"{tr}: ... with the server's code, and no connection", r)
        tab.eval(f"T.clients['bad-{tr}'].fp.close(), true")


def check_resets(s, tab):
    want = s.history("t1")
    for tr in TRANSPORTS:
        start(tab, f"r-{tr}", channels=["t1"], transports=[tr], share=False,
              cursor="zzzz00000000-3")
    for tr in TRANSPORTS:
        n = f"r-{tr}"
        wait(tab, n, f"r.status.connected && r.events.length >= {len(want)}",
             f"{tr}: a cursor of another epoch resumes")
        r = tab.eval(f"T.get('{n}', true)")
        t.eq(r["resets"], [{"channel": "t1", "reason": "epoch", "snapshot": False}],
             f"{tr}: ... with an explicit reset (epoch) surfaced")
        t.eq([e[1] for e in r["events"]], want, f"{tr}: ... then what history holds")
    start(tab, "snap", channels=["k1"], transports=["poll"], share=False, cursor="zzzz00000000-3")
    wait(tab, "snap", "r.status.connected", "keyed channel from another epoch")
    r = tab.eval("T.get('snap', true)")
    t.eq(r["resets"], [{"channel": "k1", "reason": "epoch", "snapshot": True}],
         "a keyed channel's reset says a snapshot follows")
    t.eq([(e[2], e[3]) for e in r["events"]], [(2, True), (3, True)],
         "the snapshot: the latest event per key, marked snapshot")


def check_tabs(s, br):
    """Two tabs, one SSE stream; the leader's tab closes; the follower
    publishes; a follower joins from an older cursor."""
    opts = {"channels": ["tabs"], "transports": ["sse"]}
    a = br.open(s.url)
    a.eval(RECORDER)
    start(a, "x", **opts)
    wait(a, "x", "r.status.connected && r.status.role === 'leader'", "tab 1 leads")
    b = br.open(s.url)
    b.eval(RECORDER)
    start(b, "x", **opts)
    wait(b, "x", "r.status.connected && r.status.role === 'follower'",
         "tab 2 follows and shows the leader's connection")
    pub = Numbered(s.b.control, "tabs", 0.05)
    pub.start()
    wait(b, "x", "r.events.length >= 5", "the follower receives the events")
    now = s.now()
    t.ok(wait_for(lambda: s.responders("sse", "streams", now) == 1, 8, 0.25),
         "two tabs, one SSE stream on the server (/push/stats)",
         s.get("/push/stats")["broker"]["responders"])
    r = b.eval("T.clients.x.fp.publish('tabs', 'from-follower').then(r => r.via)")
    t.eq(r, "http", "a follower's publish goes through the leader")
    a.close()
    wait(b, "x", "r.status.role === 'leader' && r.status.connected",
         "tab 1 closed: tab 2 takes over the connection")
    n0 = b.eval("T.get('x').n")
    wait(b, "x", f"r.n >= {n0 + 5}", "... and events keep coming")
    want = s.history("tabs")
    c = br.open(s.url)
    c.eval(RECORDER)
    start(c, "x", cursor=want[3], **opts)
    wait(c, "x", "r.status.role === 'follower' && r.status.connected",
         "tab 3, told to start from an older cursor, follows")
    n = pub.stop()
    for tab, name, first in ((b, "tab 2", None), (c, "tab 3", want[4])):
        tab.eval(f"T.wait('x', r => r.events.some(e => e[2] === {n}), 8000)", 15)
        ids = [e[1] for e in tab.eval("T.get('x', true)")["events"]]
        want = s.history("tabs")
        start_at = want.index(first if first else ids[0]) if ids else 0
        t.ok(ids and ids == want[start_at:], f"{name}: every event from its start once, in "
             "order (across the leader change / after catching up)",
             f"got {len(ids)}, want {len(want) - start_at}: {ids[:3]}.. vs {want[start_at:][:3]}..")
    now = s.now()
    t.ok(wait_for(lambda: s.responders("sse", "streams", now) == 1, 8, 0.25),
         "still one SSE stream for the two remaining tabs")
    b.close()
    c.close()


def check_election(s, br):
    """Without Web Locks (plain http:// origins other than localhost) the
    tabs elect a leader over BroadcastChannel."""
    no_locks = "Object.defineProperty(Navigator.prototype, 'locks', {get: () => undefined}); true"
    tabs = []
    for i in range(2):
        tab = br.open(s.url)
        tab.eval(no_locks)
        tab.eval(RECORDER)
        start(tab, "e", channels=["el"], transports=["websocket"], share="election")
        tabs.append(tab)
    roles = lambda: sorted(tb.eval("T.get('e').status.role") for tb in tabs)  # noqa: E731
    t.ok(wait_for(lambda: roles() == ["follower", "leader"], 6, 0.2),
         "BroadcastChannel election: one leader, one follower", roles())
    leader = next(tb for tb in tabs if tb.eval("T.get('e').status.role") == "leader")
    other = tabs[1] if leader is tabs[0] else tabs[0]
    s.b.publish("el", "one")
    wait(other, "e", "r.events.length >= 1", "the follower gets the leader's events")
    leader.close()
    wait(other, "e", "r.status.role === 'leader' && r.status.connected",
         "the leader's tab closes: the other takes over", 8000)
    s.b.publish("el", "two")
    wait(other, "e", "r.events.length >= 2", "and receives on its own connection")
    t.eq(data_of(other, "e", "el"), ["one", "two"], "nothing lost or repeated")
    other.close()


def check_restart_without_store(env, br):
    s = System(env, store=False)
    tab = br.open(s.url)
    tab.eval(RECORDER)
    start(tab, "m", channels=["m1", "m2"])
    wait(tab, "m", "r.status.connected", "no store: connected")
    s.b.publish("m1", "before")
    wait(tab, "m", "r.events.length >= 1", "an event before the restart")
    epoch = tab.eval("T.get('m').cursor").split("-")[0]
    s.b.restart()
    s.b.publish("m2", "after")
    wait(tab, "m", "r.events.length >= 2 && r.resets.length >= 2",
         "broker restarted without a store: events resume")
    r = tab.eval("T.get('m', true)")
    t.eq(sorted((x["channel"], x["reason"]) for x in r["resets"]),
         [("m1", "epoch"), ("m2", "epoch")], "... after an explicit reset (epoch) per channel")
    t.eq([e[2] for e in r["events"]], ["before", "after"], "the events, once each")
    t.ok(not r["cursor"].startswith(epoch), "the cursor moved to the new epoch", r["cursor"])
    tab.eval("T.clients.m.fp.close(), true")
    s.close()


def main(env, br):
    s = System(env)
    tab = br.open(s.url)
    tab.eval(RECORDER)
    check_transports(s, tab)
    check_resets(s, tab)
    tab.close()
    check_tabs(s, br)
    check_election(s, br)
    s.close()


run(t, main, check_restart_without_store)
