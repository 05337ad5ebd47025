"""Presence over fastpush-poll behind lighttpd (auth on, HS256 tokens):
a user polling a presence channel is a member of it across polls; the
first poll (and every poll with presence=1) answers with the member list
("presence": [{"channel","members","count","seq"}]); joins and leaves
arrive as member_added / member_removed events; a user polling from two
devices is one member; a member leaves presence-idle after its last poll
(a long-poll holds it); a full channel is 409 presence_full and
max-presence bounds the process's table (503); a presence
channel needs a user (403); after a broker restart the members are joined
again; an SSE stream and a poll user on one channel see each other."""
import json
import time

from authlib import Keys
from harness import Env, Tap, wait_for
from servers import Stack
from sseclient import payload
import pollclient

t = Tap()
CH = "presence-room"
IDLE = 2.0


def token(keys, user, info=None, subscribe=("presence-*", "news")):
    return keys.hs256(sub=user, subscribe=list(subscribe), user_info=info)


def path(ch=CH, since=None, presence=False, wait=None):
    q = f"/push/poll?channel={ch}"
    if since:
        q += f"&since={since}"
    if presence:
        q += "&presence=1"
    if wait:
        q += f"&wait={wait}"
    return q


def poll(st, tok, **kw):
    """(status, json) of one poll."""
    a = pollclient.get(st.port, path(**kw), headers={"Authorization": f"Bearer {tok}"},
                       timeout=(kw.get("wait") or 0) + 5)
    return a.status, a.json


def plist(j, ch=CH):
    """The presence object of channel ch in an answer, or None."""
    for p in (j or {}).get("presence", []):
        if p["channel"] == ch:
            return p
    return None


def ids(p):
    return sorted(m["user_id"] for m in p["members"]) if p else None


def member_events(j, after=0):
    return [(e["event"], e["data"]["user_id"]) for e in (j or {}).get("events", [])
            if e.get("event") in ("member_added", "member_removed") and e["seq"] > after]


def members(b, ch=CH):
    try:
        st, m, _ = b.request("PRESENCE", {"op": "members", "channel": ch})
    except TimeoutError:
        return None
    return sorted(u["user_id"] for u in m.get("members", [])) if st == "OK" else None


class Poller:
    """A user's device polling with its cursor."""

    def __init__(self, st, keys, user, info=None):
        self.st, self.tok, self.cursor = st, token(keys, user, info), None
        self.seen = []

    def poll(self, **kw):
        status, j = poll(self.st, self.tok, since=self.cursor, **kw)
        if status == 200 and j:
            self.cursor = j["cursor"]
            self.seen += member_events(j)
        return status, j


with Env(t) as env:
    keys = Keys(env.dir)
    auth = {"auth": "on", "jwt_key": keys.hs_path, "presence_beat": "500ms"}
    st = Stack(env, "lighttpd", broker={"presence_timeout": "3s", "presence_max_members": 4},
               sse=dict(auth, heartbeat="1s"),
               poll=dict(auth, presence_idle=f"{IDLE:g}s", max_presence=5, max_presence_user=2,
                         max_wait="10s"))
    b = st.broker

    alice = Poller(st, keys, "alice", {"name": "Alice"})
    s, j = alice.poll()
    pa = plist(j)
    t.ok(s == 200 and pa is not None, "alice's first poll answers with a presence list", (s, j))
    t.eq(pa and (pa["members"], pa["count"]),
         ([{"user_id": "alice", "user_info": {"name": "Alice"}}], 1),
         "the list: alice with the token's user_info, count 1")
    t.ok(pa and isinstance(pa["seq"], int), "the list has the channel's seq", pa)
    s, j = alice.poll()
    t.ok(s == 200 and "presence" not in j, "her next poll has no list", j)
    s, j = alice.poll(presence=True)
    t.eq(ids(plist(j)), ["alice"], "presence=1 asks for it again")
    t.eq(members(b), ["alice"], "the broker has alice as a member")
    hdr = {"Authorization": f"Bearer {alice.tok}", "If-None-Match": f'"{alice.cursor}"'}
    a = pollclient.get(st.port, path(since=alice.cursor), headers=hdr)
    t.eq(a.status, 304, "nothing new and If-None-Match: 304")
    a = pollclient.get(st.port, path(since=alice.cursor, presence=True), headers=hdr)
    t.ok(a.status == 200 and ids(plist(a.json)) == ["alice"],
         "... but with presence=1: 200 and the list", a)
    t0 = time.monotonic()
    a = pollclient.get(st.port, path(since=alice.cursor, presence=True, wait=5), headers=hdr)
    t.ok(a.status == 200 and plist(a.json) and a.t - t0 < 2,
         "a long-poll with presence=1 answers at once with the list", (a, a.t - t0))
    a = pollclient.get(st.port, path() + "&presence=yes",
                       headers={"Authorization": f"Bearer {alice.tok}"})
    t.ok(a.status == 400 and "presence" in a.json.get("message", ""),
         "presence=yes: 400", a)

    bob = Poller(st, keys, "bob", {"name": "Bob"})
    s, j = bob.poll()
    pb = plist(j)
    t.eq(ids(pb), ["alice", "bob"], "bob's first poll lists alice and bob")
    t.ok(pb and pb["count"] == 2 and pb["seq"] > pa["seq"], "count 2, a newer seq", pb)
    s, j = alice.poll()
    t.eq(member_events(j, pa["seq"]), [("member_added", "bob")],
         "alice's next poll gets member_added for bob")
    ev = [e for e in j["events"] if e.get("event") == "member_added"]
    t.eq(ev and ev[0]["data"], {"user_id": "bob", "user_info": {"name": "Bob"}},
         "with bob's user_info, as an ordinary event of the channel")

    # alice on a second device: one member, no member_added
    alice2 = Poller(st, keys, "alice", {"name": "Alice"})
    s, j = alice2.poll(presence=True)
    t.ok(s == 200 and plist(j) and plist(j)["count"] == 2,
         "alice's second device: still 2 members", j)
    s, j = bob.poll()
    t.eq(member_events(j, pb["seq"]), [], "bob sees no member_added for alice's second device")
    t.eq(members(b), ["alice", "bob"], "the broker counts alice once")

    # a long-poll is woken by a member event
    lp = pollclient.start(st.port, path(since=alice.cursor, wait=8),
                          headers={"Authorization": f"Bearer {alice.tok}"})
    time.sleep(0.3)
    carol = Poller(st, keys, "carol")
    s, j = carol.poll()
    t.eq(ids(plist(j)), ["alice", "bob", "carol"], "carol's first poll lists three")
    a = lp.finish(5)
    t.ok(a.status == 200 and member_events(a.json) == [("member_added", "carol")],
         "alice's waiting long-poll is woken by member_added carol", a)
    if a.status == 200:
        alice.cursor = a.json["cursor"]

    # the broker's presence-max-members 4, then max-presence 5 (poll.conf)
    erin = Poller(st, keys, "erin")
    s, j = erin.poll()
    t.eq(ids(plist(j)), ["alice", "bob", "carol", "erin"], "erin is the fourth member")
    gina = Poller(st, keys, "gina")
    s, j = gina.poll()
    t.ok(s == 409 and j and j.get("error") == "presence_full",
         "a fifth over the broker's presence-max-members 4: 409 presence_full", (s, j))
    t.ok("gina" not in (members(b) or []), "gina is not a member")
    time.sleep(0.5)                     # her refused entry is dropped
    two = Poller(st, keys, "alice")
    s, j = two.poll(ch="presence-two")
    t.ok(s == 200 and ids(plist(j, "presence-two")) == ["alice"],
         "alice on a second presence channel: the fifth poll member", (s, j))
    s, j = poll(st, two.tok, ch="presence-three")
    t.ok(s == 429 and j and j.get("error") == "limit_exceeded"
         and "max-presence-user" in j.get("message", ""),
         "alice on a third presence channel, over max-presence-user 2: 429", (s, j))
    s, j = poll(st, bob.tok, ch="presence-two")
    t.ok(s == 503 and j and j.get("error") == "too_many_members"
         and "max-presence" in j.get("message", ""),
         "a sixth poll member over max-presence 5: 503 too_many_members", (s, j))
    t.ok("bob" not in (members(b, "presence-two") or []), "bob is not on presence-two")

    # carol and erin stop polling: they leave after presence-idle; alice and bob go on
    t0 = time.monotonic()
    gone = False
    while time.monotonic() - t0 < IDLE + 4:
        alice.poll()
        bob.poll()
        if members(b) == ["alice", "bob"]:
            gone = True
            break
        time.sleep(0.4)
    took = time.monotonic() - t0
    t.ok(gone, "carol and erin leave once they stop polling", members(b))
    t.ok(IDLE - 0.5 <= took < IDLE + 2, f"after presence-idle {IDLE:g}s ({took:.1f} s)")
    alice.poll()
    t.ok(("member_removed", "carol") in alice.seen and ("member_removed", "erin") in alice.seen,
         "alice gets member_removed for carol and erin", alice.seen)
    t.ok(wait_for(lambda: (alice.poll(), bob.poll()) and members(b, "presence-two") == [], 3),
         "alice leaves presence-two, which she stopped polling (and stays on presence-room)",
         (members(b, "presence-two"), members(b)))
    s, j = erin.poll()
    t.ok(s == 200 and ids(plist(j)) == ["alice", "bob", "erin"],
         "erin polls again: joined again, with the list", (s, j))

    # a long-poll longer than presence-idle holds its member
    lp = pollclient.start(st.port, path(since=erin.cursor, wait=int(IDLE + 2)),
                          headers={"Authorization": f"Bearer {erin.tok}"})
    t0 = time.monotonic()
    while time.monotonic() - t0 < IDLE + 1.5:
        alice.poll()
        bob.poll()
        time.sleep(0.4)
    t.eq(members(b), ["alice", "bob", "erin"], "erin's waiting long-poll keeps her a member")
    a = lp.finish(5)
    t.ok(a.status == 200, "the long-poll ends when its wait does", a)
    erin.cursor = a.json and a.json["cursor"]
    while time.monotonic() - t0 < 2 * IDLE + 4 and members(b) != ["alice", "bob"]:
        alice.poll()
        bob.poll()
        time.sleep(0.4)
    t.eq(members(b), ["alice", "bob"], "presence-idle after it ended, erin leaves")

    # refusals
    s, j = poll(st, keys.hs256(subscribe=["presence-*"]))        # no sub: no user
    t.ok(s == 403 and "presence channel" in (j or {}).get("message", ""),
         "a token without a sub: 403", (s, j))
    s, j = poll(st, token(keys, "mallory", subscribe=["news"]))
    t.ok(s == 403 and j.get("error") == "forbidden", "a user not granted the channel: 403", (s, j))
    a = pollclient.get(st.port, path())
    t.ok(a.status == 403 and b"presence channel" in a.body,
         "no token at all: 403, as over SSE (no user)", a)
    t.eq(members(b), ["alice", "bob"], "refused polls joined nothing")

    # cross-transport: an SSE stream and the poll users see each other
    c = st.stream(f"/events/{CH}", headers={
        "Authorization": "Bearer " + token(keys, "dave", {"name": "Dave"})})
    pd = None
    end = time.monotonic() + 5
    while time.monotonic() < end and pd is None:
        ev = c.next_event(max(0.1, end - time.monotonic()))
        if ev and ev.get("event") == "presence":
            pd = json.loads(ev["data"])
    t.eq(pd and ids(pd), ["alice", "bob", "dave"], "dave's SSE stream lists the poll users")
    s, j = alice.poll(presence=True)
    t.eq(ids(plist(j)), ["alice", "bob", "dave"], "alice's poll lists dave (SSE)")
    t.ok(("member_added", "dave") in alice.seen, "and got member_added for dave", alice.seen)
    bob.poll()
    frank = Poller(st, keys, "frank")
    s, j = frank.poll()
    t.ok(s == 200, "frank polls", (s, j))
    got = c.events_until(lambda evs: any(e.get("event") == "member_added" and
                                         payload(e)["data"]["user_id"] == "frank"
                                         for e in evs), 3)
    t.ok(any(e.get("event") == "member_added" and payload(e)["data"]["user_id"] == "frank"
             for e in got), "dave's stream gets member_added for frank (poll)")
    c.close()
    ok = wait_for(lambda: (alice.poll(), bob.poll(), frank.poll()) and
                  ("member_removed", "dave") in alice.seen, 6)
    t.ok(ok, "dave's stream closes: the poll users get member_removed", alice.seen)

    # the broker restarts: the responder joins its poll members again
    b.restart()
    back = False
    end = time.monotonic() + 12
    while time.monotonic() < end:
        alice.poll()
        bob.poll()
        frank.poll()
        if members(b) == ["alice", "bob", "frank"]:
            back = True
            break
        time.sleep(0.4)
    t.ok(back, "after a broker restart the poll members are back", members(b))
    s, j = alice.poll(presence=True)
    t.eq(s == 200 and ids(plist(j)), ["alice", "bob", "frank"],
         "and alice's poll lists them")

    # everyone stops polling: all leave
    t.ok(wait_for(lambda: members(b) == [], IDLE + 4), "everyone stops polling: all leave",
         members(b))
    st.stop()
t.done()
