"""The Pusher protocol 7 on fastpush-ws (docs/pusher.md, docs/protocol.md
"The Pusher protocol"), with the real pusher-js (npm, its node build:
tests/e2e/node/pusher_js.js) and, for the wire details, a raw WebSocket
client.  Directly, then behind lighttpd, nginx and Apache (conf/*-pusher-ws.conf
for /app/, conf/*-pusher.conf for the HTTP API on fastpush-poll), with
events published by the real npm `pusher` server library through the
web server:

- connect (socket_id, activity_timeout), public / private / presence
  subscribe with the channel auth of the npm `pusher` library's
  authorizeChannel; private-encrypted- (the library encrypts, pusher-js
  decrypts, fastpush holds only the ciphertext); a wrong signature refused (subscription_error 401)
  and nothing delivered to it;
- events published through the HTTP API arrive with the Pusher name and
  data; the socket_id of a trigger leaves that connection out; client
  events reach the other subscribers and not the sender; client events
  on a public channel are refused;
- presence: the member list, member_added / member_removed, a user with
  two connections counted once, the list shared with a native WebSocket
  client and an SSE stream of the same channel (the broker's presence);
- pusher:ping answered (pusher-js pings after a 1 s activity_timeout and
  stays connected), unknown keys (4001) and protocol versions (4007),
  bad messages answered with pusher:error and the connection kept;
- reconnect: fastpush-ws killed with SIGKILL and started again, pusher-js
  reconnects by itself, subscribes again and receives the next events;
  the killed process's members expire without a member_removed of users
  that came back.

node and the npm modules pusher-js and pusher must be installed
(make deps): a missing one fails the test."""
import asyncio
import hashlib
import hmac
import json
import os
import queue
import re
import subprocess
import threading
import time

from harness import Env, Tap, require_tool
from servers import Stack
from wsclient import WS, start_ws
from fpstack import web
from fpstack.conf import POLL_SOCK, render, write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
DRIVER = os.path.join(HERE, "node", "pusher_js.js")
ID, KEY, SECRET = "1001", "key-1001", "secret-of-app-1001"
MASTER_KEY = "bXktZW5jcnlwdGlvbi1tYXN0ZXIta2V5LTMyYnl0ZXM="     # 32 bytes, base64

t = Tap()


class PJS:
    """pusher-js clients in one node process (node/pusher_js.js)."""

    def __init__(self, port):
        spec = {"host": "127.0.0.1", "port": port, "key": KEY, "appId": ID, "secret": SECRET,
                "masterKey": MASTER_KEY}
        self.p = subprocess.Popen(["node", DRIVER, json.dumps(spec)], cwd=ROOT, text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.q = queue.Queue()
        self.seen = []
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(lambda m: m.get("ev") == "ready", 15)

    def _read(self):
        for line in self.p.stdout:
            if line.strip():
                self.q.put(json.loads(line))

    def send(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()

    def wait(self, pred, timeout=5.0, start=0):
        """The first message (seen before, from index start, or arriving)
        for which pred holds."""
        for m in self.seen[start:]:
            if pred(m):
                return m
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                m = self.q.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                break
            self.seen.append(m)
            if pred(m):
                return m
        return None

    def drain(self, secs=0.5):
        self.wait(lambda m: False, secs)
        return self.seen

    def of(self, name, ev=None, **kw):
        return [m for m in self.drain(0) if m.get("name") == name and
                (ev is None or m.get("ev") == ev) and
                all(m.get(k) == v for k, v in kw.items())]

    def close(self):
        try:
            self.send(op="quit")
        except (BrokenPipeError, OSError):
            pass
        try:
            self.p.wait(5)
        except subprocess.TimeoutExpired:
            self.p.kill()


def is_ev(name, ev, **kw):
    return lambda m: m.get("name") == name and m.get("ev") == ev and \
        all(m.get(k) == v for k, v in kw.items())


def api_trigger(port, channel, event, data, socket_id=None, op=None):
    """The npm `pusher` library's trigger (or op) through the web server."""
    op = op or {"op": "trigger", "channels": channel, "event": event, "data": data}
    if socket_id:
        op["params"] = {"socket_id": socket_id}
    spec = {"host": "127.0.0.1", "port": port, "appId": ID, "key": KEY, "secret": SECRET,
            "masterKey": MASTER_KEY, "ops": [op]}
    r = subprocess.run(["node", os.path.join(HERE, "node", "pusher_client.js"), json.dumps(spec)],
                       capture_output=True, timeout=30, cwd=ROOT)
    return json.loads(r.stdout)[0]["status"] if r.returncode == 0 else r.stderr.decode()


def pusher_type(name):
    """fp_pusher_type_encode: bytes outside A-Z a-z 0-9 _ . - as ':xx'."""
    return re.sub(r"[^A-Za-z0-9_.-]", lambda m: f":{ord(m.group(0)):02x}", name)


class Front:
    """Where the clients connect and how events are published."""

    def __init__(self, label, ws_port, broker, api_port=None):
        self.label, self.ws_port, self.broker, self.api_port = label, ws_port, broker, api_port

    def publish(self, channel, event, data, socket_id=None):
        """Through the HTTP API when there is one (data a string, as the
        libraries send), else the broker's PUBLISH."""
        if self.api_port:
            return api_trigger(self.api_port, channel, event, data, socket_id) == 200
        body = {"channel": f"{ID}:{channel}", "event": pusher_type(event), "data": data}
        if socket_id:
            body["socket_id"] = socket_id
        return self.broker.request("PUBLISH", body)[0] == "OK"


def connect(pj, name, user=None, bad=False):
    cmd = {"op": "connect", "name": name}
    if user:
        cmd["user"] = user
    if bad:
        cmd["badAuth"] = True
    pj.send(**cmd)
    m = pj.wait(is_ev(name, "state", state="connected"), 10)
    return m and m.get("socket_id")


def subscribe(pj, name, channel, ok=True):
    pj.send(op="subscribe", name=name, channel=channel)
    want = "subscribed" if ok else "sub_error"
    return pj.wait(lambda m: m.get("name") == name and m.get("channel") == channel and
                   m.get("ev") in ("subscribed", "sub_error") and m["ev"] == want, 10)


def check_basics(f, pj):
    L = f.label
    sa = connect(pj, "a", {"user_id": "u1", "user_info": {"name": "Ada"}})
    sb = connect(pj, "b", {"user_id": "u2", "user_info": {"name": "Bob"}})
    sc = connect(pj, "c", {"user_id": "u3"}, bad=True)
    t.ok(sa and sb and sc and all(re.fullmatch(r"\d+\.\d+", s) for s in (sa, sb, sc)) and
         len({sa, sb, sc}) == 3, f"{L}: pusher-js connects, three distinct socket_ids",
         (sa, sb, sc))
    t.ok(subscribe(pj, "a", "news"), f"{L}: public subscribe succeeds")
    t.ok(subscribe(pj, "a", "private-x") and subscribe(pj, "b", "private-x"),
         f"{L}: private subscribe with the npm pusher library's channel auth succeeds")
    err = subscribe(pj, "c", "private-x", ok=False)
    t.ok(err and err["data"].get("status") == 401 and err["data"].get("type") == "AuthError",
         f"{L}: a wrong signature gets subscription_error 401 AuthError", err)
    ok = f.publish("news", "App\\Events\\OrderShipped", json.dumps({"order": 7, "t": "caf\u00e9"}))
    m = pj.wait(is_ev("a", "event", channel="news"), 5)
    t.ok(ok and m and m["event"] == "App\\Events\\OrderShipped" and
         m["data"] == {"order": 7, "t": "caf\u00e9"},
         f"{L}: an event published {'through the HTTP API' if f.api_port else 'to the broker'} "
         "arrives with its Pusher name and data", m)
    f.publish("private-x", "secret", "s1")
    m = pj.wait(is_ev("b", "event", channel="private-x", event="secret"), 5)
    pj.drain(0.5)
    t.ok(m and m["data"] == "s1" and pj.wait(is_ev("a", "event", event="secret"), 0.1) and
         not pj.of("c", "event"),
         f"{L}: private events reach the authorized subscribers, not the refused one", pj.of("c"))
    f.publish("private-x", "not-for-a", "x", socket_id=sa)
    got_b = pj.wait(is_ev("b", "event", event="not-for-a"), 5)
    pj.drain(0.5)
    t.ok(got_b and not pj.of("a", "event", event="not-for-a"),
         f"{L}: a trigger with a's socket_id goes to b and not to a", pj.of("a", "event"))
    pj.send(op="trigger", name="a", channel="private-x", event="client-typing",
            data={"typing": True})
    got = pj.wait(is_ev("b", "event", event="client-typing"), 5)
    pj.drain(0.5)
    t.ok(got and got["data"] == {"typing": True} and
         not pj.of("a", "event", event="client-typing"),
         f"{L}: a client event reaches the other subscriber, not the sender", got)
    pj.send(op="raw", name="a", event="client-bad", channel="news", data={})
    e = pj.wait(is_ev("a", "error"), 5)
    t.ok(e and "private- or presence-" in json.dumps(e),
         f"{L}: a client event on a public channel is refused with pusher:error", e)
    pj.send(op="unsubscribe", name="a", channel="news")
    pj.wait(is_ev("a", "unsubscribed"), 2)
    time.sleep(0.3)
    f.publish("news", "after-unsub", "z")
    pj.drain(1.0)
    t.ok(not pj.of("a", "event", event="after-unsub"),
         f"{L}: no event after pusher:unsubscribe")
    return sa, sb


def check_encrypted(f, pj):
    """private-encrypted-: the npm library encrypts with the master key,
    fastpush passes the ciphertext through, pusher-js decrypts with the
    shared_secret of its auth; the broker never sees the plain text."""
    L = f.label
    ch = "private-encrypted-vault"
    t.ok(subscribe(pj, "a", ch), f"{L}: private-encrypted- subscribe (auth with shared_secret)")
    ok = f.publish(ch, "sealed", json.dumps({"pin": 1234}))
    m = pj.wait(is_ev("a", "event", channel=ch, event="sealed"), 5)
    # the library encrypts the JSON of what it is given (here a string),
    # pusher-js decrypts and parses it back: the string, as with Pusher
    t.ok(ok and m and m["data"] == json.dumps({"pin": 1234}),
         f"{L}: an encrypted event published through the HTTP API is decrypted by pusher-js", m)
    st, _, evs = f.broker.request("SINCE", {"channels": [f"{ID}:{ch}"], "cursor": "earliest"})
    stored = [e["data"] for e in evs]
    t.ok(stored and all("1234" not in json.dumps(d) and "ciphertext" in json.dumps(d)
                        for d in stored),
         f"{L}: the broker holds only the ciphertext", stored)


def check_users(f, pj):
    """User authentication: pusher.signin() with the npm library's
    authenticateUser, sendToUser reaching that user's connections only,
    another user's channel refused, terminateUserConnections ending them
    (4009: pusher-js does not reconnect)."""
    L = f.label
    pj.send(op="signin", name="a")
    m = pj.wait(is_ev("a", "signed_in"), 5)
    t.ok(m and m["user"] == {"id": "u1"}, f"{L}: pusher.signin(): signed in as u1", m)
    time.sleep(0.5)                 # pusher-js subscribes #server-to-user-u1
    st = api_trigger(f.api_port, None, None, None,
                     op={"op": "sendToUser", "user": "u1", "event": "hello",
                         "data": {"for": "u1"}})
    got = pj.wait(is_ev("a", "user_event", event="hello"), 5)
    pj.drain(0.5)
    t.ok(st == 200 and got and got["data"] == {"for": "u1"} and
         not pj.of("b", "user_event"),
         f"{L}: sendToUser(u1) reaches u1's signed-in connection, nobody else", (st, got))
    c, sid = raw_pusher(f.ws_port)
    c.send_json({"event": "pusher:subscribe", "data": {"channel": "#server-to-user-u1"}})
    e = c.recv_json(5)
    t.ok(e and e["event"] == "pusher:subscription_error" and e["data"]["status"] == 403,
         f"{L}: #server-to-user-u1 is refused to a connection not signed in as u1", e)
    c.send_json({"event": "pusher:signin", "data": {"auth": f"{KEY}:" + "0" * 64,
                                                    "user_data": json.dumps({"id": "u1"})}})
    bad = c.collect_json(lambda m: "_close" in m, 5)
    t.ok(bad and bad[0].get("event") == "pusher:error" and bad[0]["data"]["code"] == 4009 and
         bad[-1].get("_close") == 4009, f"{L}: a forged signin: pusher:error 4009, close 4009",
         bad)
    mark = len(pj.drain(0))
    st = api_trigger(f.api_port, None, None, None, op={"op": "terminate", "user": "u1"})
    gone = pj.wait(lambda x: x.get("name") == "a" and x.get("ev") == "state" and
                   x.get("state") in ("disconnected", "failed", "unavailable"), 10, mark)
    pj.drain(2.0)
    t.ok(st == 200 and gone and not [x for x in pj.seen[mark:] if x.get("name") == "b" and
                                     x.get("ev") == "state"],
         f"{L}: terminateUserConnections(u1) ends u1's connection, not b's", (st, gone))
    t.ok(not [x for x in pj.seen[mark:] if x.get("name") == "a" and
              x.get("state") == "connected"],
         f"{L}: ... and pusher-js does not reconnect it (4009)")


def check_presence(f, pj):
    L = f.label
    ch = "presence-room"
    sa = subscribe(pj, "a", ch)
    t.ok(sa and sa["count"] == 1 and sa["members"] == {"u1": {"name": "Ada"}} and
         sa["me"] == {"id": "u1", "info": {"name": "Ada"}},
         f"{L}: presence subscribe: the member list holds the subscriber (me)", sa)
    sb = subscribe(pj, "b", ch)
    added = pj.wait(is_ev("a", "member_added", channel=ch), 5)
    t.ok(sb and sb["count"] == 2 and set(sb["members"]) == {"u1", "u2"} and added and
         added["id"] == "u2" and added["info"] == {"name": "Bob"},
         f"{L}: a second user: its list has both, the first gets member_added", (sb, added))
    pj.drain(0.5)
    t.ok(not pj.of("b", "member_added"), f"{L}: no member_added of oneself")
    connect(pj, "a2", {"user_id": "u1", "user_info": {"name": "Ada"}})
    s2 = subscribe(pj, "a2", ch)
    pj.drain(0.7)
    t.ok(s2 and s2["count"] == 2 and len(pj.of("a", "member_added")) == 1 and
         len(pj.of("b", "member_added")) == 0,
         f"{L}: a user's second connection is counted once (no member_added)",
         pj.of("b", "member_added"))
    pj.send(op="disconnect", name="a2")
    pj.drain(1.0)
    t.ok(not pj.of("b", "member_removed"),
         f"{L}: closing one of a user's two connections removes nobody")
    return ch


def check_cross(f, pj, ch, native_ws_port, token):
    """A native fastpush-ws client on ID:presence-room sees the Pusher
    members; its join is a member_added for the Pusher clients."""
    L = f.label
    c = WS.open(native_ws_port)
    c.handshake("/ws", {}, ["fastpush.v1", "bearer." + token])
    c.send_json({"type": "subscribe", "channels": [f"{ID}:{ch}"], "ref": 1})
    msgs = c.collect_json(lambda m: m.get("type") == "presence" or "_close" in m, 5)
    pres = next((m for m in msgs if m.get("type") == "presence"), None)
    ids = sorted(x["user_id"] for x in (pres or {}).get("members", []))
    t.ok(pres and ids == ["u1", "u2", "u9"] and pres["count"] == 3 and pres["ref"] == 1,
         f"{L}: a native WebSocket client of {ID}:{ch} gets the list with the Pusher members",
         msgs)
    added = pj.wait(is_ev("a", "member_added", channel=ch, id="u9"), 5)
    t.ok(added, f"{L}: the Pusher clients get member_added of the native client's user")
    c.close()
    removed = pj.wait(is_ev("a", "member_removed", channel=ch, id="u9"), 5)
    t.ok(removed, f"{L}: and member_removed when it closes")


def check_wire(f):
    """Raw frames: what pusher-js would never send."""
    L = f.label
    c = WS.open(f.ws_port)
    c.handshake("/app/no-such-key?protocol=7", {}, [])
    msgs = c.collect_json(lambda m: "_close" in m, 5)
    t.ok(msgs and msgs[0].get("event") == "pusher:error" and msgs[0]["data"]["code"] == 4001 and
         msgs[-1].get("_close") == 4001, f"{L}: an unknown key: pusher:error 4001, close 4001",
         msgs)
    c = WS.open(f.ws_port)
    c.handshake(f"/app/{KEY}?protocol=6", {}, [])
    msgs = c.collect_json(lambda m: "_close" in m, 5)
    t.ok(msgs and msgs[0]["data"]["code"] == 4007 and msgs[-1].get("_close") == 4007,
         f"{L}: protocol 6: pusher:error 4007, close 4007", msgs)
    c = WS.open(f.ws_port)
    c.handshake(f"/app/{KEY}?protocol=7&client=js&version=8.6.0&flash=false", {}, [])
    hello = c.recv_json(5)
    data = json.loads(hello["data"]) if hello and isinstance(hello.get("data"), str) else {}
    t.ok(hello and hello["event"] == "pusher:connection_established" and
         data.get("activity_timeout") == 1 and re.fullmatch(r"\d+\.\d+", data.get("socket_id", "")),
         f"{L}: connection_established: data a string with socket_id and activity_timeout",
         hello)
    c.send_json({"event": "pusher:ping", "data": {}})
    pong = c.recv_json(5)
    t.ok(pong == {"event": "pusher:pong", "data": "{}"}, f"{L}: pusher:ping -> pusher:pong", pong)
    c.send(1, b"{not json")
    e1 = c.recv_json(5)
    c.send_json({"event": "pusher:subscribe", "data": {"channel": "private-x",
                                                       "auth": f"{KEY}:" + "0" * 64}})
    e2 = c.recv_json(5)
    c.send_json({"event": "pusher:subscribe", "data": {"channel": "a,b"}})
    e3 = c.recv_json(5)
    c.send_json({"event": "pusher:subscribe", "data": {"channel": "presence-p",
                                                       "auth": f"{KEY}:" + "0" * 64,
                                                       "channel_data": "{}"}})
    e4 = c.recv_json(5)
    c.send_json({"event": "pusher:subscribe", "data": {"channel": "ok-after"}})
    ok = c.recv_json(5)
    t.ok(e1 and e1["event"] == "pusher:error" and e1["data"]["code"] is None and
         e2 and e2["event"] == "pusher:subscription_error" and e2["data"]["status"] == 401 and
         e3 and e3["event"] == "pusher:error" and
         e4 and e4["event"] == "pusher:subscription_error" and
         ok and ok["event"] == "pusher_internal:subscription_succeeded" and
         ok["channel"] == "ok-after" and ok["data"] == "{}",
         f"{L}: bad JSON, a forged auth, a bad name, a forged presence auth: errors, "
         "and the connection still subscribes", [e1, e2, e3, e4, ok])
    c.close()


def check_deflate(f):
    """python3-websockets with permessage-deflate: Pusher messages of every
    frame header size (payloads around 125 and 65535 bytes) inflate to the
    events published."""
    import websockets
    sizes = list(range(50, 80)) + list(range(65440, 65490, 7)) + [70000]

    async def run():
        url = f"ws://127.0.0.1:{f.ws_port}/app/{KEY}?protocol=7"
        async with websockets.connect(url, compression="deflate", max_size=None) as ws:
            ext = [type(e).__name__ for e in ws.extensions]
            await asyncio.wait_for(ws.recv(), 5)
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "z"}}))
            await asyncio.wait_for(ws.recv(), 5)
            for n in sizes:
                assert f.publish("z", "big", "y" * n), n
            got = []
            for _ in sizes:
                got.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            return ext, got
    ext, got = asyncio.run(run())
    t.eq(ext, ["PerMessageDeflate"], f"{f.label}: python3-websockets negotiates permessage-deflate")
    t.ok([len(m["data"]) for m in got] == sizes and all(set(m["data"]) == {"y"} for m in got),
         f"{f.label}: {len(sizes)} compressed Pusher messages of every header size inflate to "
         "their events", [len(m.get("data", "")) for m in got])


def check_ping(f, pj):
    """pusher-js pings after activity_timeout (1 s here) of silence and
    stays connected as long as the pongs come."""
    L = f.label
    before = len(pj.of("a", "state"))
    pj.drain(4.0)
    t.ok(len(pj.of("a", "state")) == before,
         f"{L}: pusher-js stays connected over 4 activity timeouts (its pings answered)",
         pj.of("a", "state"))


def check_reconnect(f, pj, restart):
    L = f.label
    old = pj.of("a", "state", state="connected")[-1]["socket_id"]
    mark = len(pj.drain(0))
    restart()
    m = pj.wait(lambda x: x.get("name") == "a" and x.get("ev") == "state" and
                x.get("state") == "connected" and x.get("socket_id") != old, 30, mark)
    t.ok(m, f"{L}: after kill -9 of fastpush-ws pusher-js reconnects by itself", m)
    again = pj.wait(is_ev("a", "subscribed", channel="private-x"), 10, mark)
    t.ok(again, f"{L}: and subscribes again")
    time.sleep(0.5)
    f.publish("private-x", "after-restart", "r")
    got = pj.wait(is_ev("b", "event", event="after-restart"), 10)
    t.ok(got, f"{L}: events published after the restart arrive")
    pj.drain(4.5)        # presence-timeout 3 s: the killed process's members expire
    pj.send(op="members", name="a", channel="presence-room")
    mem = pj.wait(lambda x: x.get("name") == "a" and x.get("ev") == "members", 5)
    gone = [x for x in pj.seen[mark:] if x.get("ev") == "member_removed"]
    t.ok(mem and mem["count"] == 2 and mem["ids"] == ["u1", "u2"] and not gone,
         f"{L}: the members are back; the killed process's expiry removed none", (mem, gone))


APP2 = ("2002", "key-2002", "secret-of-app-2002")     # max-presence-members=1


def apps_file(env):
    return write(env.path("pusher-apps"), f"{ID} {KEY} {SECRET} client-events\n"
                 f"{' '.join(APP2)} max-presence-members=1\n")


def raw_pusher(port, key=KEY):
    """A raw Pusher connection: (WS, socket_id)."""
    c = WS.open(port)
    c.handshake(f"/app/{key}?protocol=7", {}, [])
    hello = c.recv_json(5)
    return c, json.loads(hello["data"])["socket_id"]


def presence_sub(c, sid, secret, key, ch, user):
    cdata = json.dumps({"user_id": user})
    sig = hmac.new(secret.encode(), f"{sid}:{ch}:{cdata}".encode(), hashlib.sha256).hexdigest()
    c.send_json({"event": "pusher:subscribe", "data": {"channel": ch, "auth": f"{key}:{sig}",
                                                       "channel_data": cdata}})
    return c.recv_json(5)


def check_limits(f, nat_port, tok, tok3):
    """Refused presence joins: the app's max-presence-members, the
    connection's max-channels (8 here), the broker's presence-max-members
    for a native client; none leaves a member behind, every connection
    goes on."""
    L = f.label
    aid, akey, asec = APP2
    ch = "presence-small"
    c1, s1 = raw_pusher(f.ws_port, akey)
    c2, s2 = raw_pusher(f.ws_port, akey)
    ok1 = presence_sub(c1, s1, asec, akey, ch, "first")
    no2 = presence_sub(c2, s2, asec, akey, ch, "second")
    t.ok(ok1 and ok1["event"] == "pusher_internal:subscription_succeeded" and
         no2 and no2["event"] == "pusher:subscription_error" and
         no2["data"]["type"] == "presence_full",
         f"{L}: the app's max-presence-members=1: a second user is refused presence_full",
         [ok1, no2])
    st, m, _ = f.broker.request("PRESENCE", {"op": "members", "channel": f"{aid}:{ch}"})
    t.eq(sorted(u["user_id"] for u in m.get("members", [])), ["first"],
         f"{L}: ... and is no member")
    c2.send_json({"event": "pusher:ping", "data": {}})
    t.eq((c2.recv_json(5) or {}).get("event"), "pusher:pong", f"{L}: ... and stays connected")
    c3, s3 = raw_pusher(f.ws_port)
    for i in range(8):
        c3.send_json({"event": "pusher:subscribe", "data": {"channel": f"pub{i}"}})
        c3.recv_json(5)
    full = presence_sub(c3, s3, SECRET, KEY, "presence-room", "ghost")
    st, m, _ = f.broker.request("PRESENCE", {"op": "members", "channel": f"{ID}:presence-room"})
    t.ok(full and full["data"].get("type") == "limit_exceeded" and
         "ghost" not in [u["user_id"] for u in m.get("members", [])],
         f"{L}: a presence subscribe past max-channels is refused before joining: no ghost "
         "member", (full, m))
    for c in (c1, c2, c3):
        c.close()
    # the broker's presence-max-members (3): u1, u2, a native u11, then u10
    n3 = WS.open(nat_port)
    n3.handshake("/ws", {}, ["fastpush.v1", "bearer." + tok3])
    n3.send_json({"type": "subscribe", "channels": [f"{ID}:presence-room"], "ref": 6})
    third = n3.collect_json(lambda m: m.get("type") in ("presence", "error") or "_close" in m, 5)
    t.ok(third and third[-1].get("type") == "presence" and third[-1]["count"] == 3,
         f"{L}: a native client is the third member", third)
    n = WS.open(nat_port)
    n.handshake("/ws", {}, ["fastpush.v1", "bearer." + tok])
    n.send_json({"type": "subscribe", "channels": [f"{ID}:presence-room"], "ref": 7})
    msgs = n.collect_json(lambda m: m.get("type") == "error" or "_close" in m, 5)
    err = next((m for m in msgs if m.get("type") == "error"), None)
    n.send_json({"type": "ping", "ref": 8})
    pong = n.collect_json(lambda m: m.get("type") == "pong" or "_close" in m, 5)
    t.ok(err and err.get("error") == "presence_full" and err.get("ref") == 7 and
         pong and pong[-1].get("type") == "pong",
         f"{L}: a native client refused presence_full (the broker's presence-max-members): an "
         "error with its ref, and the connection (and its worker) go on", msgs + pong)
    n.close()
    n3.close()


class PusherStack(Stack):
    """A Stack whose web server sends /apps to fastpush-poll and /app/ to
    fastpush-ws (conf/SERVER-pusher.conf, conf/SERVER-pusher-ws.conf)."""

    def _snippet(self, kind):
        path = super()._snippet(kind)
        with open(path) as f:
            text = f.read()
        extra = render(f"{kind}-pusher.conf", {POLL_SOCK: self.poll_sock})
        ws = render(f"{kind}-pusher-ws.conf", {"7410": str(self.ws_port)})
        return write(path, text + "\n" + extra + "\n" + ws)

    def _server(self, kind, origin, opts):
        if kind != "apache":
            return super()._server(kind, origin, opts)
        self.snippet = self._snippet(kind)
        return web.Apache(self.run, self.snippet, ["proxy", "proxy_fcgi", "proxy_http",
                                                   "proxy_wstunnel"], name=self.name, **opts)


def token(env):
    from authlib import Keys
    keys = Keys(env.dir)
    return keys, keys.hs256(sub="u9", subscribe=[f"{ID}:*"], user_info={"name": "Nat"})


def check_conf(env):
    """fastpush-ws -n: the apps file and pusher-path are checked."""
    apps = apps_file(env)
    bad = write(env.path("bad-apps"), f"{ID} {KEY}\n")
    exe = env.prog("fastpush-ws")

    def n(*args):
        r = subprocess.run([exe, "-n"] + list(args), capture_output=True, text=True)
        return r.returncode, r.stderr
    t.eq(n("--pusher-apps", apps)[0], 0, "-n accepts an apps file")
    rc, err = n("--pusher-apps", bad)
    t.ok(rc != 0 and "bad-apps:1" in err, "-n refuses a bad apps line, naming file and line", err)
    rc, err = n("--pusher-apps", env.path("none"))
    t.ok(rc != 0 and "No such file" in err, "-n refuses a missing apps file", err)
    rc, err = n("--pusher-apps", apps, "--pusher-path", "app")
    t.ok(rc != 0 and "pusher-path" in err, "-n refuses a pusher-path without '/'", err)
    rc, err = n("--pusher-apps", apps, "--echo")
    t.ok(rc != 0 and "echo" in err, "-n refuses pusher-apps in echo test mode", err)


def run_direct(env):
    b = env.broker("broker", presence_timeout="3s", max_event_bytes="1m",
                   presence_max_members=3)
    apps = apps_file(env)
    opts = dict(pusher_apps=apps, pusher_activity_timeout="1s", presence_beat="1s",
                max_channels=8)
    w = start_ws(env, "ws", b, **opts)
    f = Front("direct", w.port, b)
    check_wire(f)
    check_deflate(f)
    pj = PJS(w.port)
    try:
        check_basics(f, pj)
        ch = check_presence(f, pj)
        keys, tok = token(env)
        nat = start_ws(env, "ws-native", b, auth="on", jwt_key=keys.hs_path, presence_beat="1s")
        check_cross(f, pj, ch, nat.port, tok)
        check_limits(f, nat.port, keys.hs256(sub="u10", subscribe=[f"{ID}:*"]),
                     keys.hs256(sub="u11", subscribe=[f"{ID}:*"]))
        check_ping(f, pj)

        def restart():
            w.kill9()
            env.start("ws2", [env.prog("fastpush-ws"), "-f", w.conf_path], ready_fd=True)
        check_reconnect(f, pj, restart)
    finally:
        pj.close()


def run_behind(env, server):
    apps = apps_file(env)
    st = PusherStack(env, server, broker={"presence_timeout": "3s"}, sse=False,
                     poll={"pusher_apps": apps},
                     ws={"pusher_apps": apps, "pusher_activity_timeout": "1s",
                         "presence_beat": "1s"})
    f = Front(server, st.port, st.broker, api_port=st.port)
    check_wire(f)
    pj = PJS(st.port)
    try:
        check_basics(f, pj)
        check_encrypted(f, pj)
        check_presence(f, pj)
        check_users(f, pj)
    finally:
        pj.close()
    st.stop()


def node_tools(t, *modules):
    """node and these npm modules are there (each missing one fails t)."""
    return all([require_tool(t, "node")] +
               [require_tool(t, m, os.path.join(ROOT, "node_modules", m, "package.json"),
                             f"npm {m} (make deps)") for m in modules])


def main():
    if node_tools(t, "pusher-js", "pusher"):
        with Env(t) as env:
            check_conf(env)
            run_direct(env)
        for server, binary in (("lighttpd", "/usr/sbin/lighttpd"), ("nginx", "/usr/sbin/nginx"),
                               ("apache", "/usr/sbin/apache2")):
            if require_tool(t, server, binary):
                with Env(t) as env:
                    run_behind(env, server)
    t.done()


if __name__ == "__main__":
    main()
