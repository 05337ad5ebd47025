"""The Pusher HTTP API on fastpush-poll (docs/pusher.md), behind lighttpd,
nginx and Apache (conf/*-poll.conf plus conf/*-pusher.conf), and below
/push with pusher-path (lighttpd): the real npm
`pusher` server library (tests/e2e/node/pusher_client.js) triggers to one
and to several channels and sends batches; a native poll of the fastpush
channels "APP_ID:NAME" sees the events with the Pusher names and data
strings.  Hand-signed requests (Python hmac) that must be refused: a bad
signature, a stale timestamp, a wrong body_md5, an unknown key, another
app's key, an oversize batch, oversize data, too many channels, a bad
event name -- each with its status and the broker's head unchanged
(nothing published).  Channel queries: occupied, the list by prefix,
presence users and user_count (members joined with the broker's PRESENCE
request, as a responder joins them), and the answers not implemented yet
(501).

node and the npm module `pusher` (package.json) must be installed: a
missing one fails the test."""
import hashlib
import hmac
import json
import os
import re
import subprocess
import time
import urllib.parse

from harness import Env, Tap
from pollclient import get, start
from servers import Stack
from fpstack.conf import POLL_SOCK, render, write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
CLIENT = os.path.join(HERE, "node", "pusher_client.js")
MODULE = os.path.join(ROOT, "node_modules", "pusher", "package.json")
APPS = [("1001", "key-1001", "secret-of-app-1001"), ("app2", "key-two", "secret-of-app-two")]
ID, KEY, SECRET = APPS[0]


class PusherStack(Stack):
    """A Stack whose web server also sends /apps to fastpush-poll
    (conf/lighttpd-pusher.conf or conf/nginx-pusher.conf)."""

    def _snippet(self, kind):
        path = super()._snippet(kind)
        with open(path) as f:
            text = f.read()
        server = {"nginx": "nginx", "apache": "apache"}.get(kind, "lighttpd")
        extra = render(f"{server}-pusher.conf", {POLL_SOCK: self.poll_sock})
        return write(path, text + "\n" + extra)


def decode_type(t):
    """fp_pusher_type_decode: ':XX' back to the byte."""
    return re.sub(r":([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), t)


def node(st, ops):
    spec = {"host": "127.0.0.1", "port": st.port, "appId": ID, "key": KEY, "secret": SECRET,
            "ops": ops}
    r = subprocess.run(["node", CLIENT, json.dumps(spec)], capture_output=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"node failed: {r.stderr.decode()[-2000:]}")
    return json.loads(r.stdout)


def signed(method, path, body=None, key=KEY, secret=SECRET, ts=None, md5=None, params=None,
           sig=None):
    """A Pusher-signed path with its query, as the libraries sign."""
    q = {"auth_key": key, "auth_timestamp": str(int(time.time()) if ts is None else ts),
         "auth_version": "1.0"}
    if body is not None:
        q["body_md5"] = md5 or hashlib.md5(body).hexdigest()
    q.update(params or {})
    qs = "&".join(f"{k}={q[k]}" for k in sorted(q))
    mac = hmac.new(secret.encode(), f"{method}\n{path}\n{qs}".encode(), hashlib.sha256)
    enc = "&".join(f"{k}={urllib.parse.quote(str(q[k]), safe='')}" for k in sorted(q))
    return f"{path}?{enc}&auth_signature={sig or mac.hexdigest()}"


def post(st, path, obj=None, raw=None, front="", **kw):
    """POST a signed body; front: the URL path in front of the signed
    /apps/... (pusher-path)."""
    body = raw if raw is not None else json.dumps(obj).encode()
    return get(st.port, front + signed("POST", path, body, **kw), method="POST",
               headers={"Content-Type": "application/json"}, body=body)


def head(st):
    return st.broker.request("PING")[1]["head"]


def poll_since(st, channels, cursor):
    a = get(st.port, f"/push/poll?channel={','.join(channels)}&since={cursor}")
    return a.json or {}


def cursor(st, channels):
    return get(st.port, f"/push/poll?channel={','.join(channels)}").json["cursor"]


def pairs(evs):
    return [(e["channel"], decode_type(e["event"]), e["data"]) for e in evs]


def check_library(t, st, k):
    chans = [f"{ID}:news", f"{ID}:sport", f"{ID}:private-x"]
    cur = cursor(st, chans[:2])
    laravel = "App\\Events\\OrderShipped"
    data = json.dumps({"order": 7, "text": "caf\u00e9 \"quoted\""})
    out = node(st, [
        {"op": "trigger", "channels": "news", "event": "greeting", "data": {"hello": "world"}},
        {"op": "trigger", "channels": ["news", "sport"], "event": laravel, "data": data},
        {"op": "trigger", "channels": "news", "event": "with-socket", "data": "x",
         "params": {"socket_id": "123.456"}},
        {"op": "batch", "batch": [
            {"channel": "sport", "name": "b1", "data": "one"},
            {"channel": "news", "name": "b2", "data": {"n": 2}},
            {"channel": "private-x", "name": "b3", "data": "three"}]},
    ])
    t.eq([o["status"] for o in out], [200, 200, 200, 200],
         f"{k}: the npm pusher library's trigger, multi-channel trigger, socket_id and "
         f"triggerBatch: 200")
    t.eq([json.loads(o["body"]) if o["status"] == 200 else o for o in out],
         [{}, {}, {}, {"batch": [{}, {}, {}]}], f"{k}: answers {{}} and {{\"batch\": [{{}}...]}}")
    got = pairs(poll_since(st, chans[:2], cur).get("events", []))
    t.eq(got, [
        (f"{ID}:news", "greeting", '{"hello":"world"}'),
        (f"{ID}:news", laravel, data), (f"{ID}:sport", laravel, data),
        (f"{ID}:news", "with-socket", "x"),
        (f"{ID}:sport", "b1", "one"), (f"{ID}:news", "b2", '{"n":2}'),
    ], f"{k}: a native poll of {ID}:news,{ID}:sport sees every event in order, Pusher names "
       f"decoded, data the strings the library sent")
    st_, meta, evs = st.broker.request("SINCE", {"channels": [f"{ID}:private-x"],
                                                 "cursor": "earliest"})
    t.ok(st_ == "OK" and [(e["event"], e["data"]) for e in evs][-1:] == [("b3", "three")],
         f"{k}: the batch's private channel got its event too (broker SINCE)", (st_, meta, evs))


def check_refusals(t, st, k):
    p = f"/apps/{ID}/events"
    good = {"name": "e", "data": "d", "channel": "refused"}
    a = post(st, p, good)
    t.eq(a.status, 200, f"{k}: a hand-signed trigger (Python hmac) is accepted")
    h0 = head(st)
    big = "x" * (10 * 1024 + 1)
    cases = [
        ("a bad signature", 401, dict(obj=good, sig="0" * 64)),
        ("a stale timestamp (601 s old)", 401, dict(obj=good, ts=int(time.time()) - 601)),
        # 610: a second may tick between here and the check (601 raced it)
        ("a timestamp 610 s ahead", 401, dict(obj=good, ts=int(time.time()) + 610)),
        ("a wrong body_md5", 401, dict(obj=good, md5="0" * 32)),
        ("an unknown key", 401, dict(obj=good, key="nobody", secret="whatever-secret")),
        ("another app's key and secret", 401, dict(obj=good, key=APPS[1][1],
                                                     secret=APPS[1][2])),
        ("the right key with another secret", 401, dict(obj=good, secret="wrong-secret!")),
        ("data over 10 KB", 413, dict(obj=dict(good, data=big))),
        ("101 channels", 400, dict(obj={"name": "e", "data": "d",
                                        "channels": [f"c{i}" for i in range(101)]})),
        ("a bad channel name", 400, dict(obj=dict(good, channel="a,b"))),
        ("a bad event name (pusher:)", 400, dict(obj=dict(good, name="pusher:x"))),
        ("the broker's own event name member_added", 400,
         dict(obj=dict(good, name="member_added"))),
        ("a bad socket_id", 400, dict(obj=dict(good, socket_id="12"))),
        ("data that is not a string", 400, dict(obj=dict(good, data={"x": 1}))),
        ("both channel and channels", 400, dict(obj=dict(good, channels=["a"]))),
        ("invalid JSON", 400, dict(raw=b"{nope")),
    ]
    for desc, want, kw in cases:
        a = post(st, p, **kw)
        t.ok(a.status == want and (a.json or {}).get("message"),
             f"{k}: {desc}: {want} with a JSON error", a)
    batch = {"batch": [{"name": "e", "data": "d", "channel": f"b{i}"} for i in range(11)]}
    a = post(st, f"/apps/{ID}/batch_events", batch)
    t.ok(a.status == 413 and "Batch too large" in (a.json or {}).get("message", ""),
         f"{k}: a batch of 11 events: 413 Batch too large", a)
    batch["batch"] = batch["batch"][:3]
    batch["batch"][2]["data"] = big
    a = post(st, f"/apps/{ID}/batch_events", batch)
    t.eq(a.status, 413, f"{k}: a batch whose third event is too large: 413")
    a = post(st, f"/apps/{ID}/events", good, key=APPS[1][1], secret=APPS[1][2])
    t.eq(a.status, 401, f"{k}: app2's signature on app 1001's path: 401")
    t.eq(head(st), h0, f"{k}: the broker's head is unchanged: none of the refused requests "
                       f"published anything (not even the batch's first two events)")
    a = get(st.port, signed("GET", f"/apps/{ID}/events"))
    t.eq(a.status, 405, f"{k}: GET on events: 405")
    a = get(st.port, signed("GET", f"/apps/{ID}/nothing"))
    t.eq(a.status, 404, f"{k}: an unknown route below /apps/ID: 404")


def check_channels(t, st, k):
    lp = get(st.port, f"/push/poll?channel={ID}:room-1")     # a cursor, then park one

    pend = start(st.port, f"/push/poll?channel={ID}:room-1&since={lp.json['cursor']}&wait=8")
    time.sleep(0.5)
    out = node(st, [
        {"op": "get", "path": "/channels/room-1"},
        {"op": "get", "path": "/channels/empty-room"},
        {"op": "get", "path": "/channels", "params": {"filter_by_prefix": "room-"}},
        {"op": "get", "path": "/channels/room-1", "params": {"info": "subscription_count"}},
        {"op": "get", "path": "/channels", "params": {"info": "user_count"}},
        {"op": "get", "path": "/channels/room-1", "params": {"info": "user_count"}},
        {"op": "get", "path": "/channels/room-1/users"},
    ])
    body = [json.loads(o["body"]) if o["status"] == 200 else o["status"] for o in out]
    t.eq(body[0], {"occupied": True}, f"{k}: GET channels/NAME while a client waits on it: "
                                      f"occupied")
    t.eq(body[1], {"occupied": False}, f"{k}: a channel nobody follows: not occupied")
    t.eq(body[2], {"channels": {"room-1": {}}}, f"{k}: GET channels?filter_by_prefix=room-: "
                                                f"the occupied channel by its Pusher name")
    t.eq(body[3:], [501, 400, 400, 400], f"{k}: subscription_count: 501 not implemented; "
         f"user_count of the list without filter_by_prefix=presence-, user_count or users of a "
         f"channel that is not presence: 400")
    sub = st.broker.subscriber(f"{ID}:presence-room")     # as fastpush-ws would hold it
    time.sleep(0.3)
    for u, info in (("u1", {"name": "Ann"}), ("u2", None)):
        j = {"op": "join", "instance": "test-1", "conn": f"c-{u}",
             "channel": f"{ID}:presence-room", "user_id": u}
        if info:
            j["user_info"] = info
        rc = st.broker.request("PRESENCE", j)
        t.eq(rc[0], "OK", f"{k}: PRESENCE join of {u} (as a responder would)")
    out = node(st, [
        {"op": "get", "path": "/channels/presence-room/users"},
        {"op": "get", "path": "/channels/presence-room", "params": {"info": "user_count"}},
        {"op": "get", "path": "/channels/presence-none", "params": {"info": "user_count"}},
        {"op": "get", "path": "/channels/presence-none/users"},
        {"op": "get", "path": "/channels", "params": {"filter_by_prefix": "presence-",
                                                      "info": "user_count"}},
        {"op": "get", "path": "/channels", "params": {"filter_by_prefix": "presence-"}},
    ])
    sub.close()
    body = [json.loads(o["body"]) if o["status"] == 200 else o for o in out]
    t.eq(sorted(u["id"] for u in body[0].get("users", [])) if isinstance(body[0], dict)
         else body[0], ["u1", "u2"], f"{k}: GET channels/presence-room/users: the members")
    t.eq(body[1:4], [{"occupied": True, "user_count": 2}, {"occupied": False, "user_count": 0},
                     {"users": []}], f"{k}: info=user_count of a presence channel with two "
         f"members and of an empty one; users of an empty one")
    t.eq(body[4:], [{"channels": {"presence-room": {"user_count": 2}}},
                    {"channels": {"presence-room": {}}}],
         f"{k}: the list of presence- channels, with user_count and without")
    node(st, [{"op": "trigger", "channels": "room-1", "event": "wake", "data": "up"}])
    a = pend.finish(8)
    t.eq(pairs((a.json or {}).get("events", [])), [(f"{ID}:room-1", "wake", "up")],
         f"{k}: the waiting long-poll was woken by the library's trigger")


def run(t, server):
    with Env(t) as env:
        apps = write(env.path("pusher-apps"), "".join(f"{i} {k} {s}\n" for i, k, s in APPS))
        os.chmod(apps, 0o644)       # read by fastpush-poll (www-data group when root)
        st = PusherStack(env, server, sse=False, broker={"heartbeat": "250ms"},
                         poll={"pusher_apps": apps, "max_wait": "10s"})
        check_library(t, st, server)
        check_refusals(t, st, server)
        check_channels(t, st, server)
        st.stop()


def run_prefixed(t):
    """pusher-path /push: the API below the /push the web server already
    sends to fastpush-poll (conf/lighttpd-poll.conf alone), signed on
    /apps/... as pusher-php-server signs it with its `path` option."""
    k = "lighttpd, pusher-path /push"
    with Env(t) as env:
        apps = write(env.path("pusher-apps"), "".join(f"{i} {k_} {s}\n" for i, k_, s in APPS))
        os.chmod(apps, 0o644)
        st = Stack(env, "lighttpd", sse=False, broker={"heartbeat": "250ms"},
                   poll={"pusher_apps": apps, "pusher_path": "/push"})
        cur = cursor(st, [f"{ID}:pre"])
        a = post(st, f"/apps/{ID}/events", {"name": "e", "data": "d", "channel": "pre"},
                 front="/push")
        t.eq(a.status, 200, f"{k}: a trigger at /push/apps/ID/events signed on /apps/ID/events")
        t.eq(pairs(poll_since(st, [f"{ID}:pre"], cur).get("events", [])),
             [(f"{ID}:pre", "e", "d")], f"{k}: ... published")
        a = get(st.port, signed("GET", f"/push/apps/{ID}/channels"))
        t.eq(a.status, 401, f"{k}: signed on the path with the prefix: 401")
        a = get(st.port, "/push/poll?channel=x")
        t.eq(a.status, 200, f"{k}: the native routes under /push still answer")
        st.stop()


t = Tap()
have = t.ok(os.path.exists("/usr/bin/node") or bool(subprocess.run(
    ["sh", "-c", "command -v node"], capture_output=True).stdout), "node is installed")
have = t.ok(os.path.exists(MODULE), f"the npm module pusher is installed ({MODULE})") and have
if have:
    for server in ("lighttpd", "nginx", "apache"):
        run(t, server)
    run_prefixed(t)
t.done()
