"""REMOTE_USER through real Apache Basic auth (htpasswd) with an ACL file,
for fastpush-sse and fastpush-poll behind mod_proxy_fcgi: user and
{user} rules, a group from a header Apache sets (a forged one is
replaced), 403 naming the channel, /poll and /state, POST /publish with
publish rights (JSON only: a form is refused), the publish rate, the
shared secret as the server-side alternative; and fastpush-poll with
JWTs through Apache (CGIPassAuth): the token matrix on /poll, /state
and /publish with no event for a refused request."""
import json
import os
import subprocess

from authlib import Keys
from harness import BIN, Env, Proc, Tap
from servers import WEB_GROUP, Apache, Stack, write
from sseclient import request

t = Tap()

USERS = {"alice": "pw-alice", "bob": "pw-bob", "carol": "pw-carol"}
ACL = """# fastpush ACL for the test
user alice subscribe news user.{user}
user bob subscribe news user.{user}
group staff both announcements staff.*
authenticated subscribe public.*
"""


def basic(user):
    import base64
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()}


def poll_proc(env, name, broker, directives):
    sock = env.path(f"{name}.sock")
    conf = write(env.path(f"{name}.conf"), "".join(
        f"{k.replace('_', '-')} {v}\n" for k, v in dict(
            {"listen": sock, "socket-mode": "0660", "control": broker.control,
             "fanout": broker.fanout, "prefix": "/" + name}, **directives).items()))
    p = Proc(env, name, [os.path.join(BIN, "fastpush-poll"), "-f", conf], ready_fd=True,
             group=WEB_GROUP)
    env.procs.append(p)
    return sock


def apache(env, sse_sock, acl_sock, jwt_sock, htpasswd):
    snip = write(env.path("auth-apache.conf"), f"""
<Location "/events">
    AuthType Basic
    AuthName "fastpush"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    # the groups header: never what the client sent, only what we set
    RequestHeader unset X-Remote-Groups
    RequestHeader set X-Remote-Groups "staff" "expr=%{{REMOTE_USER}} == 'carol'"
</Location>
<Location "/push">
    AuthType Basic
    AuthName "fastpush"
    AuthBasicProvider file
    AuthUserFile "{htpasswd}"
    Require valid-user
    RequestHeader unset X-Remote-Groups
    RequestHeader set X-Remote-Groups "staff" "expr=%{{REMOTE_USER}} == 'carol'"
</Location>
<Location "/jpush">
    CGIPassAuth On
</Location>
ProxyPass "/events" "unix:{sse_sock}|fcgi://localhost/events" flushpackets=on
ProxyPass "/push" "unix:{acl_sock}|fcgi://localhost/push"
ProxyPass "/jpush" "unix:{jwt_sock}|fcgi://localhost/jpush"
""")
    return Apache(env, snip, ["proxy", "proxy_fcgi", "auth_basic", "authn_core", "authn_file",
                              "authz_user", "headers"], name="auth-apache")


def jbody(body):
    try:
        return json.loads(body)
    except ValueError:
        return {}


def check_acl(st, port):
    def get(path, user, headers=None):
        return request(port, path, headers=dict(basic(user), **(headers or {})))
    c = st.stream("/events/user.alice,news,public.x", headers=basic("alice"))
    ev = c.next_event(5)
    t.ok(c.status == 200 and ev and ev.get("event") == "ready",
         "alice: user.{user}, news and public.* through Basic auth + ACL", c.status)
    st.broker.publish("user.alice", "for alice")
    st.broker.publish("user.bob", "for bob")
    ev = c.next_event(5)
    t.ok(ev and json.loads(ev["data"])["data"] == "for alice", "alice gets her channel's event")
    c.close()
    s, _, body = request(port, "/events/user.bob", headers=basic("alice"))
    t.ok(s == 403 and b"user.bob" in body and b"alice" in body, "alice on user.bob: 403 naming it",
         body)
    s, _, body = request(port, "/events/news")
    t.ok(s == 401, "no login: Apache's own 401", s)
    s, _, body = request(port, "/events/announcements", headers=basic("carol"))
    c = st.stream("/events/announcements", headers=basic("carol"))
    t.ok(c.status == 200, "carol (group staff from Apache's header): announcements", c.status)
    c.close()
    s, _, body = request(port, "/events/announcements",
                         headers=dict(basic("bob"), **{"X-Remote-Groups": "staff"}))
    t.ok(s == 403, "bob forging X-Remote-Groups: staff is still refused (Apache replaced it)",
         (s, body))
    s, h, body = get("/push/poll?channel=user.alice&since=earliest", "alice")
    evs = jbody(body).get("events", [])
    t.ok(s == 200 and [e["data"] for e in evs] == ["for alice"], "/poll: alice's channel", body)
    s, _, body = get("/push/poll?channel=user.alice,user.bob&since=earliest", "alice")
    t.ok(s == 403 and b"user.bob" in body and b"for bob" not in body,
         "/poll with another's channel: 403, nothing of it", body)
    s, _, body = get("/push/state?channel=user.bob", "alice")
    t.ok(s == 403 and b"for bob" not in body, "/state of another's channel: 403", body)
    s, _, body = get("/push/state?channel=user.bob", "bob")
    t.ok(s == 200, "/state of one's own channel: 200", body)


def check_publish(port):
    def post(user, body, ctype="application/json", extra=None):
        h = dict(basic(user), **{"Content-Type": ctype}, **(extra or {}))
        return request(port, "/push/publish", method="POST", headers=h, body=body)
    ev = json.dumps({"channel": "announcements", "data": "hello"}).encode()
    s, _, body = post("carol", ev)
    t.ok(s == 202 and b'"id"' in body, "carol (staff) publishes to announcements", body)
    s, _, body = post("alice", ev)
    t.ok(s == 403 and b"announcements" in body, "alice may not publish there: 403", body)
    s, _, body = post("carol", ev, "application/x-www-form-urlencoded")
    t.ok(s == 415 and b"cross-site" in body, "a login publishing a form body: 415 (CSRF)", body)
    codes = [post("carol", ev)[0] for _ in range(5)]
    t.ok(codes.count(429) >= 2 and codes.count(202) >= 1,
         "publish-rate 2 a second per user: 429 past it", codes)
    s, _, body = post("alice", ev, extra={"X-Fastpush-Secret": "the-server-side-secret"})
    t.ok(s == 202, "the shared secret still publishes (server-side publishers)", body)
    s, _, body = post("alice", ev, extra={"X-Fastpush-Secret": "wrong"})
    t.ok(s == 403 and b"forbidden" in body, "a wrong secret: 403, not the user's rights", body)


def check_jwt_poll(b, port, keys):
    ch = "room.1"
    b.publish(ch, "history")
    for case, tok, allowed in keys.matrix(ch):
        s, h, body = request(port, f"/jpush/poll?channel={ch}&since=earliest",
                             headers={"Authorization": "Bearer " + tok})
        if allowed is True:
            t.ok(s == 200 and b'"history"' in body, f"/poll {case}: 200 with the events", body)
        else:
            want = "unauthorized" if allowed == 401 else "forbidden"
            t.ok(s == allowed and jbody(body).get("error") == want and b"history" not in body
                 and (allowed != 401 or h.get("www-authenticate", "").startswith("Bearer")),
                 f"/poll {case}: {allowed}, no event", (s, body))
    tok = keys.hs256(sub="u1", subscribe=["room.*"], publish=["room.2"])
    auth = {"Authorization": "Bearer " + tok, "Content-Type": "text/plain"}
    s, _, body = request(port, "/jpush/state?channel=room.1", headers=auth)
    t.ok(s == 200, "/state with a token", body)
    s, _, body = request(port, "/jpush/state?channel=other", headers=auth)
    t.ok(s == 403, "/state of a channel not in the token: 403", body)
    s, _, body = request(port, "/jpush/publish", method="POST", headers=auth,
                         body=b'{"channel":"room.2","data":1}')
    t.ok(s == 202, "publish with a Bearer token (not ambient: any content type)", body)
    s, _, body = request(port, "/jpush/publish", method="POST", headers=auth,
                         body=b'{"channel":"room.1","data":1}')
    t.ok(s == 403 and b"room.1" in body, "publish outside the token's publish list: 403", body)
    s, _, body = request(port, "/jpush/publish", method="POST",
                         body=b'{"channel":"room.2","data":1}')
    t.ok(s == 401, "publish without credentials: 401", body)
    s, _, body = request(port, "/jpush/publish", method="POST",
                         headers={"Authorization": "Bearer " + keys.alg_none(publish=["*"])},
                         body=b'{"channel":"room.2","data":1}')
    t.ok(s == 401, "publish with alg none: 401", body)
    s, _, body = request(port, "/jpush/stats")
    st = jbody(body).get("self", {})
    t.ok(st.get("auth_unauthorized", 0) >= 8 and st.get("auth_forbidden", 0) >= 5,
         "/stats counts the refusals", st)
    s, _, body = request(port, "/jpush/metrics")
    t.ok(b"fastpush_auth_forbidden_total{" in body and
         b"fastpush_publish_rate_limited_total" in body, "/metrics has the auth counters",
         body[-600:])


with Env(t) as env:
    keys = Keys(env.dir)
    htpasswd = env.path("htpasswd")
    for i, (u, pw) in enumerate(USERS.items()):
        subprocess.run(["htpasswd", "-b"] + (["-c"] if i == 0 else []) + [htpasswd, u, pw],
                       check=True, capture_output=True)
    os.chmod(htpasswd, 0o644)
    acl = write(env.path("fastpush.acl"), ACL)
    auth = {"auth": "on", "acl": acl, "groups_header": "X-Remote-Groups"}
    st = Stack(env, "lighttpd", sse=dict(auth, heartbeat="1s"), name="acl")
    st.server.stop()                    # only its broker and fastpush-sse are used
    acl_sock = poll_proc(env, "push", st.broker, dict(auth, publish_rate=2,
                                                      publish_secret="the-server-side-secret"))
    jwt_sock = poll_proc(env, "jpush", st.broker, {"auth": "on", "jwt_key": keys.hs_path})
    web = apache(env, st.sock, acl_sock, jwt_sock, htpasswd)
    env.procs.append(web)
    st.port = web.port
    check_acl(st, web.port)
    check_publish(web.port)
    check_jwt_poll(st.broker, web.port, keys)
t.done()
