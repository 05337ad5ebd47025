"""One presence channel over every transport: a pusher-js client (the
Pusher protocol on fastpush-ws), an SSE stream and a poller behind
lighttpd, and a native WebSocket client, four users on the fastpush
channel 1001:presence-room (presence-room of Pusher app 1001).  Each
transport's view of the members (pusher-js's members, the SSE stream's
list plus its member events, the poll's presence=1 list, the native
client's list plus its events) agrees with the broker's; then
fastpush-sse and fastpush-ws are killed with SIGKILL and their users
leave within the broker's presence-timeout, and the poller leaves
presence-idle after its last poll, each seen by the transports left.

node and the npm modules pusher-js and pusher must be installed (make
deps): a missing one fails the test."""
import json
import time

from authlib import Keys
from harness import Env, Tap, require_tool, wait_for
from servers import Stack
from wsclient import WS
import pollclient
from test_pusher_ws import ID, KEY, PJS, SECRET, connect, is_ev, node_tools, subscribe

t = Tap()
NAME = "presence-room"
CH = f"{ID}:{NAME}"
TIMEOUT, IDLE = 3.0, 2.0


def broker_members(b):
    try:
        st, m, _ = b.request("PRESENCE", {"op": "members", "channel": CH})
    except TimeoutError:
        return None
    return sorted(u["user_id"] for u in m.get("members", [])) if st == "OK" else None


class View:
    """A list and the member events after it: who a client thinks is there."""

    def __init__(self, members, seq):
        self.ids = {m["user_id"] for m in members}
        self.seq = seq

    def apply(self, ev, data):
        if ev.get("seq", 0) <= self.seq:
            return
        if ev.get("event") == "member_added":
            self.ids.add(data["user_id"])
        elif ev.get("event") == "member_removed":
            self.ids.discard(data["user_id"])


def token(keys, user):
    return keys.hs256(sub=user, subscribe=[f"{ID}:*"], user_info={"name": user.upper()})


def sse_view(st, tok):
    s = st.stream(f"/events/{CH}", headers={"Authorization": f"Bearer {tok}"})
    pres = s.events_until(lambda evs: any(e.get("event") == "presence" for e in evs), 5)
    p = next((json.loads(e["data"]) for e in pres if e.get("event") == "presence"), None)
    return s, (View(p["members"], p["seq"]) if p else None)


def sse_update(s, view, secs=0.3):
    for e in s.events_until(lambda evs: False, secs):
        if e.get("event") in ("member_added", "member_removed"):
            d = json.loads(e["data"])
            view.apply(d, d["data"])


class Poller:
    def __init__(self, st, tok):
        self.st, self.h, self.cursor = st, {"Authorization": f"Bearer {tok}"}, None
        self.seen = []          # (member event, user) in order

    def poll(self, presence=False):
        q = f"/push/poll?channel={CH}" + (f"&since={self.cursor}" if self.cursor else "") + \
            ("&presence=1" if presence else "")
        a = pollclient.get(self.st.port, q, headers=self.h)
        if a.status == 200:
            self.cursor = a.json["cursor"]
            self.seen += [(e["event"], e["data"]["user_id"]) for e in a.json.get("events", [])
                          if e.get("event") in ("member_added", "member_removed")]
        return a.json if a.status == 200 else None

    def ids(self):
        j = self.poll(presence=True) or {}
        p = next((x for x in j.get("presence", []) if x["channel"] == CH), None)
        return sorted(m["user_id"] for m in p["members"]) if p else None


def native_view(port, tok):
    c = WS.open(port)
    c.handshake("/ws", {}, ["fastpush.v1", "bearer." + tok])
    c.send_json({"type": "subscribe", "channels": [CH], "ref": 1})
    msgs = c.collect_json(lambda m: m.get("type") == "presence" or "_close" in m, 5)
    p = next((m for m in msgs if m.get("type") == "presence"), None)
    return c, (View(p["members"], p["seq"]) if p else None)


def native_update(c, view, secs=0.3):
    for m in c.collect_json(lambda m: "_close" in m, secs):
        if m.get("event") in ("member_added", "member_removed"):
            view.apply(m, m["data"])


def pusher_ids(pj):
    mark = len(pj.drain(0))
    pj.send(op="members", name="u1", channel=NAME)
    m = pj.wait(is_ev("u1", "members"), 5, mark)
    return m and m["ids"]


def run(env):
    keys = Keys(env.dir)
    apps = env.path("pusher-apps")
    with open(apps, "w") as f:
        f.write(f"{ID} {KEY} {SECRET}\n")
    auth = {"auth": "on", "jwt_key": keys.hs_path, "presence_beat": "500ms"}
    st = Stack(env, "lighttpd", broker={"presence_timeout": f"{TIMEOUT:g}s"},
               sse=dict(auth, heartbeat="1s"), poll=dict(auth, presence_idle=f"{IDLE:g}s"),
               ws=dict(auth, pusher_apps=apps))
    b = st.broker
    pj = PJS(st.ws_port)
    try:
        connect(pj, "u1", {"user_id": "u1", "user_info": {"name": "U1"}})
        s1 = subscribe(pj, "u1", NAME)
        t.ok(s1 and s1["count"] == 1, "pusher-js u1 is the first member", s1)
        sse, sv = sse_view(st, token(keys, "u2"))
        t.ok(sv and sv.ids == {"u1", "u2"}, "the SSE stream of u2: the list has u1 and u2",
             sv and sv.ids)
        poller = Poller(st, token(keys, "u3"))
        t.eq(poller.ids(), ["u1", "u2", "u3"], "u3's poll: the list has u1, u2, u3")
        nat, nv = native_view(st.ws_port, token(keys, "u4"))
        t.ok(nv and nv.ids == {"u1", "u2", "u3", "u4"},
             "the native WebSocket client u4: the list has all four", nv and nv.ids)
        everyone = ["u1", "u2", "u3", "u4"]
        ok = wait_for(lambda: (sse_update(sse, sv, 0.2), native_update(nat, nv, 0.2)) and
                      pusher_ids(pj) == everyone and sorted(sv.ids) == everyone and
                      sorted(nv.ids) == everyone, 8)
        t.ok(ok and poller.ids() == everyone and broker_members(b) == everyone,
             "pusher-js, SSE, poll, native WebSocket and the broker agree: four members",
             (pusher_ids(pj), sorted(sv.ids), poller.ids(), sorted(nv.ids), broker_members(b)))

        mark = len(poller.seen)
        t0 = time.monotonic()
        st.sse.kill9()
        gone = wait_for(lambda: poller.poll() is not None and
                        pj.wait(is_ev("u1", "member_removed", id="u2"), 0.3), TIMEOUT + 5)
        took = time.monotonic() - t0
        t.ok(gone and took < TIMEOUT + 3,
             f"fastpush-sse killed: pusher-js sees u2 leave ({took:.1f} s, presence-timeout "
             f"{TIMEOUT:g} s)")
        t.eq(poller.ids(), ["u1", "u3", "u4"], "the poll's list lacks u2")
        native_update(nat, nv, 0.5)
        t.eq(sorted(nv.ids), ["u1", "u3", "u4"], "so does the native client's")

        t0 = time.monotonic()
        st.ws.kill9()
        left = wait_for(lambda: poller.ids() == ["u3"], TIMEOUT + 5, 0.3)
        took = time.monotonic() - t0
        t.ok(left and took < TIMEOUT + 3,
             f"fastpush-ws killed: its users u1 and u4 leave the poll's list ({took:.1f} s)")
        poller.poll()
        t.ok(broker_members(b) == ["u3"], "the broker has u3 alone", broker_members(b))
        t.ok(poller.seen[mark:] in ([("member_removed", "u2"), ("member_removed", "u1"),
                                     ("member_removed", "u4")],
                                    [("member_removed", "u2"), ("member_removed", "u4"),
                                     ("member_removed", "u1")]),
             "the poller (polling all along) got member_removed of u2, then of u1 and u4, "
             "and nothing of itself", poller.seen[mark:])
        t0 = time.monotonic()
        left = wait_for(lambda: broker_members(b) == [], IDLE + 4, 0.2)
        took = time.monotonic() - t0
        t.ok(left and IDLE - 0.5 < took < IDLE + 2.5,
             f"u3 stops polling: it leaves after presence-idle ({took:.1f} s)")
    finally:
        pj.close()
    st.stop()


def main():
    tools = [node_tools(t, "pusher-js", "pusher"),
             require_tool(t, "lighttpd", "/usr/sbin/lighttpd")]
    if all(tools):
        with Env(t) as env:
            run(env)
    t.done()


main()
