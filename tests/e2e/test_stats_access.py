"""Who may read /push/stats and /push/metrics (fastpush-poll's
stats-access) and the broker's STATS (its stats-access, stats-channels).

Through lighttpd (whose REMOTE_ADDR is 127.0.0.1 here) and straight over
FastCGI to fastpush-poll's socket, where a test can play a web server
that saw a remote peer (REMOTE_ADDR 203.0.113.7): the default `local`
admits the first and refuses the second, whatever X-Forwarded-For says;
`token` wants Authorization: Bearer with the stats-token; `off` is 404;
`auth` wants a JWT that may subscribe to stats-right.  Every refusal is a
JSON error and the responder keeps answering.  fastpush-ws serves no
stats: a plain GET there is never a stats answer.  The broker's STATS:
open, token (publish-token as the last frame), off; stats-channels off
leaves every channel name out.
"""
import json
import socket
import subprocess

from authlib import Keys
from fcgiclient import FcgiConn, request
from harness import BIN, Env, Tap
from pollclient import get
from servers import Stack
from fpstack import start_ws

t = Tap()
REMOTE = "203.0.113.7"          # TEST-NET-3: not loopback
TOKEN = "stats-token-0123456789abcdef"
PUBTOKEN = "publish-token-0123456789"


def fcgi(st, uri, **extra):
    """(status, headers, json or None) of a direct FastCGI GET."""
    c = FcgiConn(st.poll_sock)
    try:
        c.send(request("GET", uri, **extra))
        status, headers, body, _ = c.response(5)
    finally:
        c.close()
    try:
        doc = json.loads(body) if body else None
    except ValueError:
        doc = None
    return status, headers, doc, body


def refused(status, doc, code="forbidden", want=403):
    return status == want and isinstance(doc, dict) and doc.get("error") == code and \
        doc.get("message")


def serves(st):
    a = get(st.port, "/push/poll?channel=alive")
    return a.status == 200 and "cursor" in (a.json or {})


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


with Env(t) as env:
    # ------------------------------------------------------------ local
    st = Stack(env, "lighttpd", sse=False, poll={})
    st.broker.publish("secret.channel", 1)
    a = get(st.port, "/push/stats")
    t.ok(a.status == 200 and "broker" in (a.json or {}),
         "default (stats-access local): /push/stats through lighttpd from 127.0.0.1", a)
    t.ok(any(c.get("channel") == "secret.channel" for c in a.json["broker"]["top"]),
         "... and it names the channels (the broker's stats-channels is on)")
    a = get(st.port, "/push/metrics")
    t.ok(a.status == 200 and b"fastpush_up 1" in a.body, "... /push/metrics too", a)
    a = get(st.port, "/push/stats", headers={"X-Forwarded-For": REMOTE})
    t.ok(a.status == 200, "X-Forwarded-For does not count: the peer is what lighttpd saw", a)
    s, h, doc, _ = fcgi(st, "/push/stats")
    t.ok(s == 200 and "broker" in (doc or {}), "FastCGI with REMOTE_ADDR 127.0.0.1: 200")
    s, h, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR="::1")
    t.ok(s == 200, "FastCGI with REMOTE_ADDR ::1: 200", s)
    s, h, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR=REMOTE)
    t.ok(refused(s, doc) and REMOTE in doc["message"] and
         h.get("content-type") == "application/json",
         f"FastCGI with REMOTE_ADDR {REMOTE}: 403 forbidden naming the peer", (s, doc))
    s, h, doc, body = fcgi(st, "/push/metrics", REMOTE_ADDR=REMOTE,
                           HTTP_X_FORWARDED_FOR="127.0.0.1", HTTP_X_REAL_IP="127.0.0.1")
    t.ok(refused(s, doc) and b"secret.channel" not in body,
         "/push/metrics from a remote peer claiming X-Forwarded-For/X-Real-IP 127.0.0.1: 403",
         (s, doc))
    s, h, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR="")
    t.ok(refused(s, doc), "no REMOTE_ADDR at all: 403", (s, doc))
    s, h, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR=REMOTE,
                        HTTP_AUTHORIZATION="Bearer " + TOKEN)
    t.ok(refused(s, doc), "a bearer token does not help when stats-access is local only")
    t.ok(serves(st), "the responder keeps serving after the refusals")
    a = get(st.port, "/push/stats")
    t.ok(a.status == 200 and a.json["self"]["stats_refused"] >= 4,
         f"refusals are counted (self.stats_refused = {a.json['self'].get('stats_refused')})")

    # the bridge has no stats route
    w = start_ws(env, "ws", st.broker)
    s = socket.create_connection(("127.0.0.1", w.port), timeout=5)
    s.sendall(b"GET /push/stats HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = b""
    try:
        while b"\r\n\r\n" not in reply:
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    except OSError:
        pass
    s.close()
    t.ok(not reply.startswith(b"HTTP/1.1 200") and b"secret.channel" not in reply,
         "fastpush-ws: a plain GET /push/stats is not a stats answer", reply[:80])
    st.stop()
    w.stop()

    # ------------------------------------------------------------ token
    st = Stack(env, "lighttpd", name="tok", sse=False,
               poll={"stats_access": "token", "stats_token": TOKEN})
    for path in ("/push/stats", "/push/metrics"):
        a = get(st.port, path)
        t.ok(refused(a.status, a.json), f"token: {path} without a token from 127.0.0.1: 403", a)
        a = get(st.port, path, headers=bearer(TOKEN[:-1] + "X"))
        t.ok(refused(a.status, a.json), f"token: {path} with a wrong token: 403", a)
        a = get(st.port, path, headers=bearer(TOKEN))
        t.ok(a.status == 200, f"token: {path} with the right token through lighttpd: 200", a)
    s, h, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR=REMOTE,
                        HTTP_AUTHORIZATION="Bearer " + TOKEN)
    t.ok(s == 200, "token: from a remote peer with the right token: 200", s)
    s, h, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR=REMOTE, HTTP_AUTHORIZATION="Bearer")
    t.ok(refused(s, doc), "token: an empty Bearer: 403", (s, doc))
    t.ok(serves(st), "token: the responder keeps serving")
    st.stop()

    # ------------------------------------------------------------ both, off
    st = Stack(env, "lighttpd", name="both", sse=False,
               poll={"stats_access": "local,token", "stats_token": TOKEN})
    t.ok(get(st.port, "/push/stats").status == 200, "local,token: loopback without a token")
    s, _, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR=REMOTE)
    t.ok(refused(s, doc) and "Bearer" in doc["message"],
         "local,token: remote without a token: 403 saying what would do", doc)
    s, _, doc, _ = fcgi(st, "/push/stats", REMOTE_ADDR=REMOTE,
                        HTTP_AUTHORIZATION="Bearer " + TOKEN)
    t.ok(s == 200, "local,token: remote with the token")
    st.stop()

    st = Stack(env, "lighttpd", name="off", sse=False, poll={"stats_access": "off"})
    for path in ("/push/stats", "/push/metrics"):
        a = get(st.port, path)
        t.ok(refused(a.status, a.json, "not_found", 404) and "off" in a.json["message"],
             f"off: {path} is 404 not_found", a)
    t.ok(serves(st), "off: polls are still answered")
    st.stop()

    # ------------------------------------------------------------ auth (JWT)
    keys = Keys(env.dir)
    st = Stack(env, "lighttpd", name="auth", sse=False,
               poll={"stats_access": "auth", "auth": "on", "jwt_key": keys.hs_path})
    ops = keys.hs256(sub="ops", subscribe=["fastpush.stats"])
    user = keys.hs256(sub="bob", subscribe=["news"])
    a = get(st.port, "/push/stats", headers=bearer(ops))
    t.ok(a.status == 200, "auth: a JWT that may subscribe to fastpush.stats: 200", a)
    a = get(st.port, "/push/metrics", headers=bearer(user))
    t.ok(refused(a.status, a.json), "auth: a JWT without that right: 403", a)
    a = get(st.port, "/push/stats")
    t.ok(refused(a.status, a.json), "auth: no token, even from 127.0.0.1: 403", a)
    st.stop()

    # ------------------------------------------------------------ bad directives
    exe = f"{BIN}/fastpush-poll"
    for args, want in ((["--stats-access", "lokal"], "lokal"),
                       (["--stats-access", "off,local"], "stand alone"),
                       (["--stats-access", "token"], "stats-token"),
                       (["--stats-access", "token", "--stats-token", "short"], "16"),
                       (["--stats-access", "auth"], "auth on")):
        r = subprocess.run([exe, "-n"] + args, capture_output=True, text=True)
        t.ok(r.returncode == 1 and want in r.stderr, f"fastpush-poll -n {' '.join(args)}: "
             f"refused, naming '{want}'", r.stderr)

    # ------------------------------------------------------------ broker STATS
    b = env.broker("b-off", stats_access="off")
    st_, meta, _ = b.request("STATS")
    t.ok(st_ == "ERROR" and meta.get("error") == "forbidden",
         "broker stats-access off: STATS is ERROR forbidden", meta)
    st_, meta, _ = b.request("PING")
    t.ok(st_ == "OK", "... and the broker keeps answering (PING)")
    b.stop()

    b = env.broker("b-tok", stats_access="token", publish_token=PUBTOKEN,
                   stats_channels="off")
    st_, meta, _ = b.request("STATS")
    t.ok(st_ == "ERROR" and meta.get("error") == "unauthorized",
         "broker stats-access token: STATS without the token is ERROR unauthorized", meta)
    st_, meta, _ = b.request("STATS", raw_frames=[b"STATS", b"{}", b"wrong-token-0123456789"])
    t.ok(st_ == "ERROR" and meta.get("error") == "unauthorized", "... with a wrong one too")
    b.request("PUBLISH", raw_frames=[b"PUBLISH", json.dumps({"channel": "hidden.chan",
                                                             "data": 1}).encode(),
                                     PUBTOKEN.encode()])
    st_, meta, _ = b.request("STATS", raw_frames=[b"STATS", b'{"top": 50}', PUBTOKEN.encode()])
    t.ok(st_ == "OK" and meta["top"] == [] and meta["channels"]["count"] >= 1,
         "... with it: OK; stats-channels off: no channel named, the totals stay", meta.get("top"))
    st_, meta, _ = b.request("STATS", raw_frames=[b"STATS", b'{"channel": "hidden.chan"}',
                                                  PUBTOKEN.encode()])
    t.ok(st_ == "OK" and meta["top"] == [], "... nor when asked for by name")
    # the poll responder passes its broker-token, so /push/stats still works
    st = Stack(env, "lighttpd", name="bt", sse=False, broker=b,
               poll={"broker_token": PUBTOKEN})
    a = get(st.port, "/push/stats")
    t.ok(a.status == 200 and a.json["broker"]["top"] == [] and
         b"hidden.chan" not in a.body,
         "/push/stats over a broker with stats-access token, stats-channels off", a)
    st.stop()
    b.stop()
    r = subprocess.run([f"{BIN}/fastpush-broker", "-n", "--stats-access", "token"],
                       capture_output=True, text=True)
    t.ok(r.returncode == 1 and "publish-token" in r.stderr,
         "broker -n --stats-access token without a publish-token: refused", r.stderr)
t.done()
