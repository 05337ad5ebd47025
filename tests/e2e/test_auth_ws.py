"""fastpush-ws with auth on: the token matrix at the handshake (401/403)
and at subscribe ("forbidden", the connection stays) with no event of a
refused channel delivered; the bearer.<token> subprotocol (only
fastpush.v1 echoed), Authorization and the query; RS256; publish rights
and the per-user publish rate; close 4001 at the token's expiry with
the cursors to resume from; connections per user (close 1008); the
proxy's user header with an ACL and its Origin requirement; the
counters in the REPORT."""
import base64
import json
import os
import subprocess
import time

from authlib import Keys
from harness import BIN, Env, Tap, wait_for
from wsclient import WS, start_ws

t = Tap()
CH = "room.1"


def connect(w, token=None, how="protocol", headers=None, path="/ws"):
    h = dict(headers or {})
    protos = ["fastpush.v1"]
    if token is not None and how == "protocol":
        protos.append("bearer." + token)
    elif token is not None and how == "header":
        h["Authorization"] = "Bearer " + token
    elif token is not None and how == "query":
        path += "?access_token=" + token
    c = WS.open(w.port)
    c.handshake(path, h, protos)
    return c


def is_type(ty):
    return lambda m: m.get("type") == ty or "_close" in m


def subscribe(c, channels, since=None):
    msg = {"type": "subscribe", "channels": channels, "ref": 1}
    if since:
        msg["since"] = since
    c.send_json(msg)
    return c.collect_json(lambda m: m.get("type") in ("ready", "error") or "_close" in m)


def events(msgs):
    return [m for m in msgs if "id" in m and "type" not in m]


def has_rights(tok):
    """Whether the token's fastpush claim grants any subscribe or publish
    right (its payload read without checking the signature)."""
    try:
        pl = tok.split(".")[1]
        rights = json.loads(base64.urlsafe_b64decode(pl + "=" * (-len(pl) % 4))).get("fastpush") or {}
    except (IndexError, ValueError, AttributeError):
        return True     # not a JWT: refused with 401 before any right is looked at
    return bool(rights.get("subscribe") or rights.get("publish"))


def check_matrix(b, w, keys, rs, name):
    for case, tok, allowed in keys.matrix(CH, rs=rs):
        c = connect(w, tok)
        if c.status == 101:
            t.ok(c.header("sec-websocket-protocol") == "fastpush.v1",
                 f"{name}: {case}: only fastpush.v1 is echoed", c.headers)
        if allowed is True:
            got = subscribe(c, [CH])
            b.publish(CH, {"case": case})
            evs = events(c.collect_json(lambda m: "id" in m, 5))
            t.ok(c.status == 101 and got and got[-1].get("type") == "ready" and
                 evs and evs[0]["data"] == {"case": case},
                 f"{name}: {case}: subscribed, event delivered", (c.status, got))
        elif allowed == 401:
            t.ok(c.status == 401 and b"fastpush-ws:" in c.body and
                 (c.header("www-authenticate") or "").startswith("Bearer"),
                 f"{name}: {case}: handshake 401", (c.status, c.body))
        elif not has_rights(tok):
            # a valid token with neither subscribe nor publish rights:
            # fp_access_admit refuses the handshake itself, and it is no
            # challenge (the client is known, only not allowed)
            t.ok(c.status == 403 and
                 c.body == b"fastpush-ws: connecting is not allowed for alice\n" and
                 c.header("www-authenticate") is None and c.wait_eof(5),
                 f"{name}: {case}: handshake 403 (no right at all), then closed",
                 (c.status, c.headers, c.body))
        else:
            got = subscribe(c, [CH])
            b.publish(CH, {"case": case})
            more = c.collect_json(lambda m: False, 0.5)
            t.ok(c.status == 101 and got and got[-1].get("error") == "forbidden" and
                 CH in got[-1].get("message", "") and not events(got + more),
                 f"{name}: {case}: subscribe forbidden, no event", (c.status, got, more))
            c.send_json({"type": "ping", "ref": 9})
            t.ok((c.recv_json() or {}).get("type") == "pong", f"{name}: {case}: connection stays")
        c.close()


def check_sources(b, w, keys):
    tok = keys.hs256(sub="alice", subscribe=["user.{sub}"])
    for how in ("protocol", "header", "query"):
        c = connect(w, tok, how)
        got = subscribe(c, ["user.alice"]) if c.status == 101 else []
        t.ok(got and got[-1].get("type") == "ready", f"token in the {how}: user.{{sub}} allowed",
             (c.status, got))
        c.close()
    c = connect(w)
    t.ok(c.status == 401, "no credentials and no anonymous rights: 401", c.status)
    c.close()
    c = WS.open(w.port)
    st = c.handshake("/ws", None, ["fastpush.v1", "bearer." + tok, "bearer." + tok])
    t.ok(st == 400, "two bearer subprotocols: 400", st)
    c.close()
    c = connect(w, tok, "header", {"Sec-WebSocket-Protocol": None})
    c2 = WS.open(w.port)
    c2.handshake("/ws", {"Authorization": "Bearer " + tok}, None)
    t.ok(c2.status == 101 and c2.header("sec-websocket-protocol") is None,
         "no subprotocol offered, none answered", c2.headers)
    c.close()
    c2.close()


def check_publish(b, w, keys):
    tok = keys.hs256(sub="pat", subscribe=["chat.*"], publish=["chat.*"])
    c = connect(w, tok)
    subscribe(c, ["chat.a"])
    c.send_json({"type": "publish", "channel": "chat.a", "data": 1, "ref": "p1"})
    got = c.collect_json(lambda m: m.get("type") in ("published", "error"))
    t.ok(got and got[-1].get("type") == "published", "publish where allowed", got)
    c.send_json({"type": "publish", "channel": "news", "data": 2, "ref": "p2"})
    got = c.collect_json(lambda m: m.get("type") in ("published", "error"))
    t.ok(got and got[-1].get("error") == "forbidden" and "news" in got[-1]["message"],
         "publish elsewhere: forbidden", got)
    codes = []
    for i in range(6):
        c.send_json({"type": "publish", "channel": "chat.a", "data": i, "ref": i})
    for m in c.collect_json(lambda m: False, 1.5):
        if m.get("type") in ("published", "error"):
            codes.append(m.get("error", "ok"))
    t.ok(codes.count("rate_limited") >= 2 and codes.count("ok") >= 2,
         "publish-rate 3 per user: the rest rate_limited", codes)
    c.close()


def check_expiry(b, w, keys):
    exp = int(time.time()) + 3
    tok = keys.hs256(sub="carol", subscribe=["tick"], exp=exp - int(time.time()))
    c = connect(w, tok)
    subscribe(c, ["tick"])
    published = []
    while time.time() < exp + 1.5:
        published.append((b.publish("tick", len(published))["id"], time.time()))
        time.sleep(0.1)
    msgs = c.collect_json(lambda m: "_close" in m, 5)
    err = [m for m in msgs if m.get("error") == "auth_expired"]
    close = [m for m in msgs if "_close" in m]
    got = [m["id"] for m in events(msgs)]
    after = {i for i, at in published if at >= exp}
    t.ok(err and close and close[0]["_close"] == 4001, "at expiry: auth_expired, then close 4001",
         msgs[-3:])
    t.ok(err and err[0].get("cursor") == got[-1], "the error carries the cursor", (err, got[-1:]))
    t.ok(got and not set(got) & after, "nothing published after the expiry was delivered",
         sorted(set(got) & after))
    c.close()
    c = connect(w, keys.hs256(sub="carol", subscribe=["tick"]))
    rest = subscribe(c, ["tick"], since=got[-1])
    t.eq(got + [m["id"] for m in events(rest)], [i for i, _ in published],
         "a new token from the cursor: every event once")
    c.close()


def check_user_limit(w, keys):
    tok = keys.hs256(sub="dave", subscribe=["news"])
    a, b2 = connect(w, tok), connect(w, tok)
    c = connect(w, tok)
    msgs = c.collect_json(lambda m: "_close" in m) if c.status == 101 else []
    t.ok(a.status == b2.status == 101 and msgs and msgs[0].get("error") == "too_many_connections"
         and msgs[-1].get("_close") == 1008, "max-user-connections 2: the third gets "
         "too_many_connections and close 1008", msgs)
    a.close()
    c.close()

    def again():
        x = connect(w, tok)
        ok = x.status == 101 and x.recv_json(0.3) is None
        x.close()
        return ok
    t.ok(wait_for(again, 5, 0.2), "the slot comes back when a connection closes")
    b2.close()


def check_user_header(env, b, keys):
    acl = env.path("ws.acl")
    with open(acl, "w") as f:
        f.write("user alice subscribe private.{user}\ngroup ops both ops.*\n")
    r = subprocess.run([os.path.join(BIN, "fastpush-ws"), "-n", "--auth", "on", "--acl", acl,
                        "--user-header", "X-Remote-User"], capture_output=True)
    t.ok(r.returncode != 0 and b"origin" in r.stderr, "user-header without an origin list "
         "refuses to start (cross-site WebSocket hijacking)", r.stderr)
    w = start_ws(env, "ws-user", broker=b, auth="on", acl=acl, user_header="X-Remote-User",
                 groups_header="X-Remote-Groups", origin="https://app.example")
    org = {"Origin": "https://app.example"}
    c = connect(w, headers=dict(org, **{"X-Remote-User": "alice"}))
    got = subscribe(c, ["private.alice"]) if c.status == 101 else []
    t.ok(got and got[-1].get("type") == "ready", "proxy user + ACL: private.{user}", got)
    got = subscribe(c, ["ops.x"])
    t.ok(got and got[-1].get("error") == "forbidden", "not in group ops: forbidden", got)
    c.close()
    c = connect(w, headers=dict(org, **{"X-Remote-User": "bob", "X-Remote-Groups": "dev, ops"}))
    got = subscribe(c, ["ops.x"]) if c.status == 101 else []
    t.ok(got and got[-1].get("type") == "ready", "group ops from the groups header", got)
    c.close()
    c = connect(w, headers={"Origin": "https://evil.example", "X-Remote-User": "alice"})
    t.ok(c.status == 403, "another origin: 403", c.status)
    c.close()
    c = connect(w, headers=org)
    t.ok(c.status == 401, "no user, no anonymous rule: 401", c.status)
    c.close()


with Env(t) as env:
    keys = Keys(env.dir)
    b = env.broker()
    w = start_ws(env, broker=b, auth="on", jwt_key=keys.hs_path, token_query="access_token",
                 max_user_connections=2, publish="on", publish_rate=3)
    check_matrix(b, w, keys, False, "HS256")
    check_sources(b, w, keys)
    check_publish(b, w, keys)
    check_expiry(b, w, keys)
    check_user_limit(w, keys)

    def reported():
        st, meta, _ = b.request("STATS")
        r = [x["stats"] for x in meta.get("responders", []) if x["transport"] == "ws"]
        return r and r[0].get("auth_expired", 0) >= 1 and r[0]
    s = wait_for(reported, 12, 0.5)
    t.ok(s and s["auth_unauthorized"] >= 6 and s["auth_forbidden"] >= 5 and
         s["publish_rate_limited"] >= 2 and s["user_connections_limited"] >= 1,
         "fastpush-ws REPORTs its auth counters to the broker", s)
    w2 = start_ws(env, "ws-rs", broker=b, auth="on", jwt_key=keys.rs_pub, jwt_alg="RS256")
    check_matrix(b, w2, keys, True, "RS256")
    check_user_header(env, b, keys)
t.done()
