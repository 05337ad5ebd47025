"""Presence in the browser client (clients/js/fastpush.js) in headless
Chromium, over SSE (fastpush-sse behind lighttpd, auth on, HS256 tokens
with a sub and a user_info): two pages as two users each see the other in
fp.members(channel) with the same count; a third connection of a user
counts once; a page that closes is a member_removed on the others; two
tabs of a user sharing one stream both know the members; across broker
restarts (with a store: same epoch; without: a new epoch) the lists stay
right, a user who left while the broker was down is removed (the client
reconnects for a fresh list), and later joins and leaves still arrive.  Chromium or lighttpd
missing is a failure (browserstack.run; a skip only with FP_ALLOW_SKIP=1)."""
import json
import os
import time

from authlib import Keys
from browserstack import FAST, PAGE, run
from harness import Tap, wait_for
import fpstack  # noqa: E402  (harness puts tools/ on sys.path)

t = Tap()
CH = "presence-room"

# A page's recorder: P.start(name, opts) makes a client of CH that keeps
# what its presence callbacks said; P.get(name) returns it.
PRESENCE = r"""
window.P = window.P || { clients: {} };
P.start = function (name, opts) {
  const rec = { lists: 0, added: [], removed: [], errors: [], bad: [] };
  const fp = new Fastpush(Object.assign({ channels: [CH] }, opts));
  fp.on('subscribed', x => {
    rec.lists++;
    if (x.channel !== CH || x.members !== fp.members(CH)) rec.bad.push('subscribed');
  });
  fp.on('member_added', m => rec.added.push(m.id));
  fp.on('member_removed', m => rec.removed.push(m.id));
  fp.on('error', e => rec.errors.push(e.code + ': ' + e.message));
  P.clients[name] = { fp, rec };
  return true;
};
P.get = function (name) {
  const c = P.clients[name], m = c.fp.members(CH);
  const ids = [];
  m.each(u => ids.push(u.id));
  return { ids: ids.sort(), count: m.count, subscribed: m.subscribed, me: m.me,
           info: m.get('alice') && m.get('alice').info, status: c.fp.status,
           ...c.rec };
};
P.wait = function (name, pred, ms) {
  return new Promise(resolve => {
    const end = Date.now() + ms;
    (function check() {
      if (pred(P.get(name))) return resolve(true);
      if (Date.now() > end) return resolve(false);
      setTimeout(check, 50);
    })();
  });
};
true
""".replace("CH", json.dumps(CH))


class Site:
    """broker, fastpush-sse (auth on, a fast presence beat), -poll and -ws
    behind the browser tests' lighttpd origin (/js/fastpush.js, /events,
    /push, /ws): the clients here use SSE only."""

    def __init__(self, env, keys, store):
        broker = {"history_count": 100000}
        if store:
            broker["store"] = env.path("store")
        docroot = env.path("www")
        os.makedirs(docroot, exist_ok=True)
        with open(os.path.join(docroot, "index.html"), "w") as f:
            f.write(PAGE)
        auth = {"auth": "on", "jwt_key": keys.hs_path}
        self.stack = fpstack.Stack(
            env, "origin", broker=broker, template=False,
            sse=dict(heartbeat="1s", retry="500ms", prefix="/events", presence_beat="500ms",
                     **auth),
            poll=dict(max_wait="5s", prefix="/push", presence_idle="2s", **auth),
            ws=dict(heartbeat="2s", presence_beat="500ms", **auth),
            origin={"docroot": docroot})
        self.b = self.stack.broker
        self.url = f"http://127.0.0.1:{self.stack.port}/"
        self.keys = keys

    def token(self, user):
        return self.keys.hs256(sub=user, subscribe=["presence-*"], exp=600,
                               user_info={"name": user.capitalize()})

    def members(self):
        """The broker's members of CH."""
        st, m, _ = self.b.request("PRESENCE", {"op": "members", "channel": CH})
        return sorted(u["user_id"] for u in m.get("members", [])) if st == "OK" else None

    def close(self):
        self.stack.server.stop()


def page(s, br, name, user, **opts):
    """A tab with a client `name` of `user` (its own stream unless share)."""
    tab = br.open(s.url)
    tab.eval(PRESENCE)
    o = dict(FAST, transports=["sse"], share=False, token=s.token(user))
    o.update(opts)
    tab.eval(f"P.start({json.dumps(name)}, {json.dumps(o)})")
    return tab


def wait(tab, name, pred, desc, ms=8000):
    ok = tab.eval(f"P.wait({json.dumps(name)}, r => {pred}, {ms})", ms / 1000 + 5)
    return t.ok(ok, desc, tab.eval(f"P.get({json.dumps(name)})"))


def has(ids):
    """A JS test: the list came and holds exactly these users."""
    want = json.dumps(sorted(ids), separators=(",", ":"))
    return f"r.subscribed && JSON.stringify(r.ids) === '{want}'"


def check_members(s, br):
    a = page(s, br, "a", "alice")
    wait(a, "a", has(["alice"]), "alice's page: subscribed, the list holds alice")
    r = a.eval("P.get('a')")
    t.eq((r["me"], r["info"], r["count"]),
         ({"id": "alice", "info": {"name": "Alice"}}, {"name": "Alice"}, 1),
         "members.me is alice (the token's sub), get('alice').info her user_info, count 1")
    b = page(s, br, "b", "bob")
    wait(b, "b", has(["alice", "bob"]), "bob's page: alice and bob")
    wait(a, "a", has(["alice", "bob"]) + " && r.added.includes('bob')",
         "alice's page: member_added bob")
    t.eq([x.eval(f"P.get('{n}').count") for x, n in ((a, "a"), (b, "b"))], [2, 2],
         "both pages count 2")

    # alice and bob again: a second stream each (the third and fourth)
    a2 = page(s, br, "a2", "alice")
    wait(a2, "a2", has(["alice", "bob"]), "a second page of alice: alice and bob, count 2")
    b2 = page(s, br, "b2", "bob")
    wait(b2, "b2", has(["alice", "bob"]), "a second page of bob too")
    for x, n in ((a, "a"), (b, "b")):
        r = x.eval(f"P.get('{n}')")
        t.ok(r["count"] == 2 and r["added"].count("alice") + r["added"].count("bob") <= 1,
             f"page {n}: still 2, no second member_added for a user's other streams", r)
    a2.close()
    b2.close()
    wait(a, "a", "r.count === 2", "a user's other pages close: still a member")
    t.eq((a.eval("P.get('a').removed"), b.eval("P.get('b').removed")), ([], []),
         "... and no member_removed")
    t.eq(s.members(), ["alice", "bob"], "the broker agrees: alice and bob")
    return a, b


def check_close(s, br, a, b):
    cursor = a.eval("P.get('a').status.cursor")
    c = page(s, br, "c", "carol")
    wait(c, "c", has(["alice", "bob", "carol"]), "carol's page: three members")
    wait(a, "a", has(["alice", "bob", "carol"]), "alice sees carol")
    c.close()
    wait(a, "a", has(["alice", "bob"]) + " && r.removed.includes('carol')",
         "carol's page closes: member_removed carol on alice's page")
    wait(b, "b", has(["alice", "bob"]) + " && r.removed.includes('carol')",
         "... and on bob's")
    # a page that starts from a cursor before carol came gets her events
    # from history, and the list: they are in it, nothing to emit
    g = page(s, br, "g", "gus", cursor=cursor)
    wait(g, "g", has(["alice", "bob", "gus"]) + " && r.status.connected",
         "a page resuming from an older cursor: the current list")
    r = g.eval("P.get('g')")
    t.eq((r["added"], r["removed"], r["lists"]), ([], [], 1),
         "... and no member event for what happened before its list")
    g.close()
    wait(a, "a", "r.removed.includes('gus') && r.count === 2", "gus leaves")


def check_resume(s, br, a, b):
    """fastpush-sse restarts: its members leave (member_removed for all),
    the pages resume from their cursors (getting those events) and join
    again: a fresh list replaces the old one and they end where they
    were, themselves included."""
    n = {x: x.eval(f"P.get('{m}').lists") for x, m in ((a, "a"), (b, "b"))}
    s.stack.sse.stop()
    s.stack.sse.start()
    for x, m in ((a, "a"), (b, "b")):
        wait(x, m, f"r.lists > {n[x]} && r.status.connected && " + has(["alice", "bob"]),
             f"fastpush-sse restarted: page {m} resumed, a fresh list, alice and bob", 15000)
    t.ok(wait_for(lambda: s.members() == ["alice", "bob"], 8), "the broker agrees", s.members())
    c = page(s, br, "c", "carol")
    wait(a, "a", has(["alice", "bob", "carol"]), "after the resume, alice sees carol join")
    c.close()
    wait(b, "b", has(["alice", "bob"]), "... and bob sees her leave")


def check_tabs(s, br):
    """Two tabs of dave share one stream: the follower learns the list
    from the leader (then and later) and follows its changes."""
    x = page(s, br, "d", "dave", share="dave")     # a group: their tokens differ
    wait(x, "d", "r.subscribed && r.status.role === 'leader'", "dave's first tab leads")
    y = page(s, br, "d", "dave", share="dave")
    wait(y, "d", "r.status.role === 'follower' && " + has(["alice", "bob", "dave"]),
         "dave's second tab follows and has the leader's list")
    e = page(s, br, "e", "erin")
    wait(y, "d", "r.added.includes('erin') && r.count === 4", "the follower sees erin join")
    e.close()
    wait(y, "d", "r.removed.includes('erin') && r.count === 3", "... and leave")
    x.close()
    wait(y, "d", "r.status.role === 'leader' && r.status.connected && " +
         has(["alice", "bob", "dave"]), "the leader tab closes: the other leads, list intact")
    t.eq(y.eval("P.get('d').removed"), ["erin"], "dave never left (a user counted once)")
    y.close()


def check_restart(s, br, a, b, what):
    """The broker restarts; carol leaves while it is down (the broker that
    comes back never knew her: no member_removed is published)."""
    c = page(s, br, "c", "carol")
    wait(a, "a", has(["alice", "bob", "carol"]), f"{what}: carol joins")
    s.b.stop()
    c.close()
    time.sleep(1.5)             # fastpush-sse has seen her stream end
    s.b.start()
    t.ok(wait_for(lambda: s.members() == ["alice", "bob"], 10),
         "the broker restarted; the responder joined its streams again", s.members())
    for x, n in ((a, "alice"), (b, "bob")):
        wait(x, n[0], "r.status.connected && r.removed.includes('carol') && " +
             has(["alice", "bob"]), f"broker restart ({what}): {n}'s list is alice and bob, "
             "carol removed (a fresh list)", 15000)
    f = page(s, br, "f", "frank")
    wait(f, "f", has(["alice", "bob", "frank"]), "a new page after the restart: three")
    wait(a, "a", has(["alice", "bob", "frank"]) + " && r.added.includes('frank')",
         "alice sees frank join after the restart")
    f.close()
    wait(b, "b", has(["alice", "bob"]) + " && r.removed.includes('frank')",
         "bob sees frank leave after the restart")
    for x, n in ((a, "a"), (b, "b")):
        r = x.eval(f"P.get('{n}')")
        t.eq((r["errors"], r["bad"]), ([], []), f"page {n}: no error event")


def main_store(env, br):
    s = Site(env, Keys(env.dir), store=True)
    a, b = check_members(s, br)
    check_close(s, br, a, b)
    check_resume(s, br, a, b)
    check_tabs(s, br)
    check_restart(s, br, a, b, "with a store")
    a.close()
    b.close()
    s.close()


def main_no_store(env, br):
    s = Site(env, Keys(env.dir), store=False)
    for i in range(30):         # the lists' seqs well past where a new epoch starts
        s.b.publish(CH, i)
    a = page(s, br, "a", "alice")
    b = page(s, br, "b", "bob")
    wait(a, "a", has(["alice", "bob"]), "no store: alice and bob")
    wait(b, "b", has(["alice", "bob"]), "no store: bob's list")
    check_restart(s, br, a, b, "new epoch")
    a.close()
    b.close()
    s.close()


def main_transports(env, br):
    """alice over WebSocket, bob over SSE, carol over polls: one list."""
    s = Site(env, Keys(env.dir), store=False)
    a = page(s, br, "a", "alice", transports=["websocket"])
    b = page(s, br, "b", "bob", transports=["sse"])
    c = page(s, br, "c", "carol", transports=["poll"])
    every = ["alice", "bob", "carol"]
    for tab, n, how in ((a, "a", "WebSocket"), (b, "b", "SSE"), (c, "c", "poll")):
        wait(tab, n, has(every), f"the {how} page's list: alice, bob and carol")
    t.eq(s.members(), every, "the broker agrees")
    c.close()
    wait(a, "a", has(["alice", "bob"]) + " && r.removed.includes('carol')",
         "the poll page closes: the WebSocket page gets member_removed carol "
         "(presence-idle 2 s after her last poll)", 10000)
    wait(b, "b", has(["alice", "bob"]), "so does the SSE page")
    a.close()
    wait(b, "b", has(["bob"]) + " && r.removed.includes('alice')",
         "the WebSocket page closes: the SSE page gets member_removed alice")
    b.close()
    s.close()


run(t, main_store, main_no_store, main_transports)
