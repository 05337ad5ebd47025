"""fastpush-sse with auth on, behind lighttpd and nginx: the token matrix
(valid, expired, not yet valid, wrong channel, wildcard edges, {sub},
forged, alg none, HS/RS confusion, malformed) with the right status and
no event for a refused stream; token from the header, a cookie and the
query; RS256; the end of a stream at its token's expiry (auth-expired,
nothing published after it delivered); connections per user (429);
CORS '*' without credentials; the counters in the REPORT."""
import json
import time

from authlib import Keys
from harness import Env, Tap, wait_for
from servers import Stack
from sseclient import payload

t = Tap()

CH = "room.1"


def open_stream(st, path, token=None, how="header", headers=None):
    h = dict(headers or {})
    if token is not None and how == "header":
        h["Authorization"] = f"Bearer {token}"
    elif token is not None and how == "cookie":
        h["Cookie"] = f"theme=dark; fp_token={token}"
    elif token is not None and how == "query":
        path += ("&" if "?" in path else "?") + "access_token=" + token
    return st.stream(path, headers=h)


def ready(c):
    ev = c.next_event(5)
    return ev is not None and ev.get("event") == "ready"


def check_matrix(st, keys, rs, name):
    for case, tok, allowed in keys.matrix(CH, rs=rs):
        c = open_stream(st, f"/events/{CH}", tok)
        if allowed is True:
            ok = c.status == 200 and ready(c)
            st.broker.publish(CH, {"case": case})
            ev = c.next_event(5) if ok else None
            t.ok(ok and ev and payload(ev)["data"] == {"case": case},
                 f"{name}: {case}: stream open, event delivered", (c.status, c.body[:300]))
        else:
            c.read_to_end(5)
            body = c.body.decode(errors="replace")
            err = json.loads(body).get("error") if body.startswith("{") else None
            want = "unauthorized" if allowed == 401 else "forbidden"
            t.ok(c.status == allowed and err == want and "data:" not in body and
                 (allowed != 401 or c.headers.get("www-authenticate", "").startswith("Bearer")),
                 f"{name}: {case}: {allowed} {want}, no event", (c.status, body[:300]))
        c.close()


def check_sources(st, keys):
    for how in ("header", "cookie", "query"):
        tok = keys.hs256(sub=f"{how}-user", subscribe=["user.{sub}", "news"])
        c = open_stream(st, f"/events/user.{how}-user,news", tok, how)
        t.ok(c.status == 200 and ready(c), f"token in the {how}: {{sub}} and news allowed",
             (c.status, c.body[:200]))
        c.close()
    tok = keys.hs256(sub="frank", subscribe=["user.{sub}", "news"])
    c = open_stream(st, "/events/user.bob", tok)
    c.read_to_end(5)
    t.ok(c.status == 403 and b"user.bob" in c.body and b"frank" in c.body, "{sub} does not open another user's channel: "
         "403 naming it", c.body[:200])
    c = open_stream(st, "/events/news", None)
    c.read_to_end(5)
    t.ok(c.status == 401 and b"unauthorized" in c.body, "no credentials: 401", c.body[:200])
    c = open_stream(st, "/events/news", "", headers={"Authorization": "Bearer "})
    c.read_to_end(5)
    t.ok(c.status == 401, "an empty Bearer is an invalid token, not anonymous", c.body[:200])
    bad = keys.hs256(sub="alice", subscribe=["news"], exp=-60)
    c = open_stream(st, "/events/news", bad, "cookie")
    c.read_to_end(5)
    t.ok(c.status == 401 and b"expired" in c.body, "an expired cookie is 401, never anonymous",
         c.body[:200])
    # a stream of several channels needs all of them
    c = open_stream(st, "/events/news,secret", tok)
    c.read_to_end(5)
    t.ok(c.status == 403 and b"secret" in c.body, "one channel not allowed: the whole stream "
         "refused", c.body[:200])


def check_expiry(st, keys):
    exp = int(time.time()) + 3
    tok = keys.hs256(sub="carol", subscribe=["tick"], exp=exp - int(time.time()))
    c = open_stream(st, "/events/tick", tok)
    t.ok(c.status == 200 and ready(c), "a token valid for 3 s opens a stream")
    published = []
    while time.time() < exp + 1.5:
        meta = st.broker.publish("tick", {"n": len(published)})
        published.append((meta["id"], time.time()))
        time.sleep(0.1)
    c.read_to_end(5)
    evs = [it for it in c.items if "data" in it]
    expired = [e for e in evs if e.get("event") == "auth-expired"]
    got = [e["id"] for e in evs if e.get("event") == "message"]
    after = {i for i, at in published if at >= exp}
    t.ok(len(expired) == 1 and c.ended, "auth-expired, then the response ends",
         [e.get("event") for e in evs][-5:])
    t.ok(expired and json.loads(expired[0]["data"]).get("error") == "auth_expired" and
         "id" not in expired[0], "auth-expired: code, no id (Last-Event-ID stays)", expired)
    t.ok(got and not (set(got) & after), "nothing published after the expiry was delivered",
         (len(got), sorted(set(got) & after)))
    # resume with a new token from the last event id: nothing lost
    tok2 = keys.hs256(sub="carol", subscribe=["tick"])
    c2 = open_stream(st, "/events/tick", tok2, headers={"Last-Event-ID": got[-1]})
    rest = c2.events_until(lambda e: any(x.get("event") == "ready" for x in e), 5)
    ids = got + [x["id"] for x in rest if x.get("event") == "message"]
    t.eq(ids, [i for i, _ in published], "a new token and Last-Event-ID: every event once")
    c.close()
    c2.close()


def check_user_limit(st, keys):
    tok = keys.hs256(sub="dave", subscribe=["news"])
    a, b = open_stream(st, "/events/news", tok), open_stream(st, "/events/news", tok)
    t.ok(a.status == 200 and b.status == 200, "two streams of one user")
    c = open_stream(st, "/events/news", tok)
    c.read_to_end(5)
    t.ok(c.status == 429 and b"too_many_connections" in c.body and
         "retry-after" in c.headers, "the third: 429 too_many_connections", c.body[:200])
    other = open_stream(st, "/events/news", keys.hs256(sub="erin", subscribe=["news"]))
    t.ok(other.status == 200, "another user is not affected")
    a.close()
    again = None

    def reopen():
        nonlocal again
        if again is not None:
            again.close()
        again = open_stream(st, "/events/news", tok)
        return again.status == 200
    t.ok(wait_for(reopen, 10, 0.3), "a slot comes back when a stream ends")
    for x in (b, c, other, again):
        x.close()


def check_cors(st, keys):
    tok = keys.hs256(sub="alice", subscribe=["news"])
    c = open_stream(st, "/events/news", tok, headers={"Origin": "https://elsewhere.example"})
    t.ok(c.status == 200 and c.headers.get("access-control-allow-origin") == "*" and
         "access-control-allow-credentials" not in c.headers,
         "allow-origin * with auth on: '*', no credentials", c.headers)
    c.close()
    c = open_stream(st, "/events/news", tok, headers={"Origin": "https://app.example"})
    t.ok(c.headers.get("access-control-allow-origin") == "https://app.example" and
         c.headers.get("access-control-allow-credentials") == "true",
         "a listed origin keeps credentials", c.headers)
    c.close()


with Env(t) as env:
    keys = Keys(env.dir)
    sse = {"auth": "on", "jwt_key": keys.hs_path, "token_cookie": "fp_token",
           "token_query": "access_token", "max_user_connections": 2, "heartbeat": "1s",
           "allow_origin": "* https://app.example"}
    st = Stack(env, "lighttpd", sse=sse)
    check_matrix(st, keys, False, "lighttpd HS256")
    check_sources(st, keys)
    check_expiry(st, keys)
    check_user_limit(st, keys)
    check_cors(st, keys)
    s = st.wait_stats(lambda s: s.get("auth_expired", 0) >= 1 and
                      s.get("user_connections_limited", 0) >= 1)
    t.ok(s.get("auth_unauthorized", 0) >= 8 and s.get("auth_forbidden", 0) >= 5 and
         s.get("auth_expired", 0) >= 1 and s.get("user_connections_limited", 0) >= 1,
         "the REPORT counts 401, 403, expiries and the user limit", s)
    st.stop()

    rs = {"auth": "on", "jwt_key": keys.rs_pub, "jwt_alg": "RS256", "heartbeat": "1s"}
    st = Stack(env, "nginx", sse=rs)
    check_matrix(st, keys, True, "nginx RS256")
    st.stop()
t.done()
