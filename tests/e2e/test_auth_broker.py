"""Publishers on the broker's sockets: the publish token (PUBLISH and
ingest without it or with a wrong one refused and counted, with it
accepted), CURVE (a client without keys or with a key not in
curve-clients gets nothing, one with a listed key works), both through
the CLI, clients/python and clients/php; fastpush-ws still subscribes and
publishes through its hub with broker-token / broker-curve-* set; and the
broker's publish-rate per publisher connection (rate_limited)."""
import json
import os
import subprocess
import sys
import time

import zmq

from harness import BIN, Env, Tap, recv_all, wait_for
from wsclient import WS, start_ws

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
from fastpush_publisher import FastpushError, FastpushPublisher  # noqa: E402

t = Tap()
TOKEN = "a-publish-token-of-the-tests"


def events_of(msgs):
    return [m for _, m in msgs if "id" in m]


def php(b, opts, channel, data):
    code = f"""
require '{ROOT}/clients/php/FastpushPublisher.php';
$p = new FastpushPublisher(json_decode('{json.dumps(opts)}', true));
try {{ echo $p->publish('{channel}', '{data}'); }}
catch (FastpushException $e) {{ echo 'ERR ', $e->getErrorCode(); }}
"""
    return subprocess.run(["php", "-r", code], capture_output=True, timeout=20).stdout.decode()


def ws_roundtrip(w, b, channel):
    """Subscribe through fastpush-ws, publish through it, see the event."""
    c = WS.connect(w.port, protocols=["fastpush.v1"])
    c.send_json({"type": "subscribe", "channels": [channel]})
    ready = c.collect_json(lambda m: m.get("type") in ("ready", "error"))
    c.send_json({"type": "publish", "channel": channel, "data": "via ws"})
    got = c.collect_json(lambda m: "id" in m and "type" not in m, 5)
    c.close()
    return ready, got


def check_token(env):
    b = env.broker(publish_token=TOKEN)
    dealer = env.ctx.socket(zmq.DEALER)
    dealer.connect(b.control)
    body = json.dumps({"channel": "c", "data": 1}).encode()
    for frames, want, what in (
            ([b"PUBLISH", body], "unauthorized", "PUBLISH without the token"),
            ([b"PUBLISH", body, b"wrong-token-wrong-token"], "unauthorized", "with a wrong token"),
            ([b"PUBLISH", body, TOKEN.encode()], "OK", "with the token"),
            ([b"PING", b"{}"], "OK", "PING needs no token"),
            ([b"PING", b"{}", b"wrong"], "unauthorized", "but a wrong one is refused")):
        dealer.send_multipart(frames)
        r = dealer.recv_multipart() if dealer.poll(3000) else [b"none", b"{}"]
        got = r[0].decode() if r[0] == b"OK" else json.loads(r[1]).get("error")
        t.eq(got, want, f"token: {what}")
    sub = b.subscriber("p")
    time.sleep(0.2)
    push = env.ctx.socket(zmq.PUSH)
    push.connect(b.ingest)
    push.send(b'{"channel":"p","data":"no token"}')
    push.send_multipart([b'{"channel":"p","data":"bad token"}', b"nope-nope-nope-nope"])
    push.send_multipart([b'[{"channel":"p","data":"token"}]', TOKEN.encode()])
    got = [e["data"] for e in events_of(recv_all(sub, 1.0))]
    t.eq(got, ["token"], "ingest: only the message with the token is accepted")
    st = b.request("STATS")[1]
    t.ok(st["events"]["unauthorized"] == 5, "STATS counts the unauthorized requests",
         st["events"])
    r = b.cli("publish", "p", "1")
    t.ok(r.returncode == 1 and b"unauthorized" in r.stderr, "CLI without --token: refused",
         r.stderr)
    r = b.cli("--token", TOKEN, "publish", "p", "2")
    t.ok(r.returncode == 0, "CLI --token: published", r.stderr)
    r = subprocess.run([os.path.join(BIN, "fastpush"), "--control", b.control, "--ingest",
                        b.ingest, "publish", "--async", "p", "3"], capture_output=True,
                       env=dict(os.environ, FASTPUSH_TOKEN=TOKEN))
    t.ok(r.returncode == 0, "CLI --async with $FASTPUSH_TOKEN", r.stderr)
    with FastpushPublisher(control=b.control, ingest=b.ingest, token=TOKEN) as p:
        t.ok(p.publish("p", 4), "clients/python with token=")
        p.publish_async("p", 5)
    try:
        FastpushPublisher(control=b.control, timeout=1).publish("p", 6)
        t.ok(False, "clients/python without the token refused")
    except FastpushError as e:
        t.eq(e.code, "unauthorized", "clients/python without the token: unauthorized")
    out = php(b, {"control": b.control, "token": TOKEN}, "p", "7")
    t.ok("-" in out and "ERR" not in out, "clients/php with 'token'", out)
    out = php(b, {"control": b.control}, "p", "8")
    t.eq(out, "ERR unauthorized", "clients/php without it: unauthorized")
    got = [e["data"] for e in events_of(recv_all(sub, 1.0))]
    t.eq(sorted(map(str, got)), ["2", "3", "4", "5", "7"], "the authenticated ones arrived")
    w = start_ws(env, "ws-token", broker=b, publish="on", broker_token=TOKEN)
    ready, got = ws_roundtrip(w, b, "wsch")
    t.ok(ready and ready[-1].get("type") == "ready" and got and got[-1]["data"] == "via ws",
         "fastpush-ws with broker-token: subscribe and publish", (ready, got))
    w2 = start_ws(env, "ws-notoken", broker=b, publish="on")
    c = WS.connect(w2.port)
    c.send_json({"type": "publish", "channel": "wsch", "data": 1})
    m = c.recv_json()
    t.ok(m and m.get("error") == "unauthorized", "fastpush-ws without it: publish unauthorized", m)
    c.close()


def keygen(d, name):
    r = subprocess.run([os.path.join(BIN, "fastpush"), "keygen", os.path.join(d, name)],
                       capture_output=True)
    return os.path.join(d, name), os.path.join(d, name + "_secret"), r


def check_curve(env):
    d = env.path("keys")
    allowed = os.path.join(d, "clients")
    os.makedirs(allowed)
    server, server_secret, r = keygen(d, "broker")
    t.ok(r.returncode == 0 and os.path.exists(server_secret), "fastpush keygen", r.stderr)
    app, app_secret, _ = keygen(d, "app")
    ws, ws_secret, _ = keygen(d, "ws")
    _, stranger_secret, _ = keygen(d, "stranger")
    for p in (app, ws):
        with open(p) as src, open(os.path.join(allowed, os.path.basename(p)), "w") as dst:
            dst.write(src.read())
    exe = os.path.join(BIN, "fastpush-broker")
    r = subprocess.run([exe, "-n", "--curve-secret-key", server_secret, "--curve-clients", allowed],
                       capture_output=True, text=True)
    t.ok(r.returncode == 0 and "configuration OK" in r.stdout, "-n loads the CURVE keys", r.stderr)
    gone = os.path.join(d, "gone.key_secret")
    r = subprocess.run([exe, "-n", "--curve-secret-key", gone, "--curve-clients", allowed],
                       capture_output=True, text=True)
    t.ok(r.returncode != 0 and gone in r.stderr, "-n refuses a missing secret key", r.stderr)
    b = env.broker("curve-broker", curve_secret_key=server_secret, curve_clients=allowed)
    plain = env.ctx.socket(zmq.DEALER)
    plain.setsockopt(zmq.LINGER, 0)
    plain.connect(b.control)
    plain.send_multipart([b"PING", b"{}"])
    t.ok(not plain.poll(1500), "a client without CURVE keys gets no answer")
    with FastpushPublisher(control=b.control, ingest=b.ingest, timeout=1.5,
                           curve_server_cert=server, curve_client_cert=app_secret) as p:
        t.ok(p.publish("cv", "python"), "clients/python with a listed certificate publishes")
    try:
        FastpushPublisher(control=b.control, timeout=1.5, curve_server_cert=server,
                          curve_client_cert=stranger_secret).publish("cv", "x")
        t.ok(False, "a certificate not in curve-clients is refused")
    except FastpushError as e:
        t.ok(e.code in ("timeout", "broker_unavailable"),
             "a certificate not in curve-clients: no answer", e.code)
    r = b.cli("--curve-server-key", server, "--curve-key", app_secret, "publish", "cv", "cli")
    t.ok(r.returncode == 0, "CLI --curve-server-key/--curve-key publishes", r.stderr)
    r = b.cli("--timeout", "1000", "publish", "cv", "cli")
    t.ok(r.returncode == 3, "CLI without keys: broker not reachable (3)", r.returncode)
    out = php(b, {"control": b.control, "timeout": 2, "curve_server_cert": server,
                  "curve_client_cert": app_secret}, "cv", "php")
    t.ok("-" in out and "ERR" not in out, "clients/php with certificates", out)
    w = start_ws(env, "ws-curve", broker=b, publish="on", broker_curve_server_key=server,
                 broker_curve_key=ws_secret)
    ready, got = ws_roundtrip(w, b, "cv")
    t.ok(ready and ready[-1].get("type") == "ready" and got and got[-1]["data"] == "via ws",
         "fastpush-ws with broker-curve-*: fanout and control over CURVE", (ready, got))
    pub_only = os.path.join(d, "public-only")
    os.makedirs(pub_only)
    with open(server) as src, open(os.path.join(pub_only, "broker"), "w") as dst:
        dst.write(src.read())
    r = subprocess.run([os.path.join(BIN, "fastpush-broker"), "--ingest", "ipc://" + d + "/x1",
                        "--control", "ipc://" + d + "/x2", "--fanout", "ipc://" + d + "/x3",
                        "--curve-secret-key", os.path.join(pub_only, "broker"),
                        "--curve-clients", allowed], capture_output=True, timeout=10)
    t.ok(r.returncode != 0 and b"not a secret" in r.stderr,
         "a public certificate as curve-secret-key is refused at start", r.stderr)


def check_rate(env):
    b = env.broker("rate-broker", publish_rate=5)
    dealer = env.ctx.socket(zmq.DEALER)
    dealer.connect(b.control)
    for i in range(12):
        dealer.send_multipart([b"PUBLISH", json.dumps({"channel": "r", "data": i,
                                                       "tag": i}).encode()])
    codes = []
    while dealer.poll(1000):
        st, meta = dealer.recv_multipart()[:2]
        codes.append("OK" if st == b"OK" else json.loads(meta)["error"])
    t.ok(codes.count("OK") == 5 and codes.count("rate_limited") == 7,
         "publish-rate 5: a burst of 12 PUBLISH, 7 rate_limited", codes)
    other = env.ctx.socket(zmq.DEALER)
    other.connect(b.control)
    other.send_multipart([b"PUBLISH", b'{"channel":"r","data":"other"}'])
    t.ok(other.poll(2000) and other.recv_multipart()[0] == b"OK",
         "another publisher connection has its own budget")
    push = env.ctx.socket(zmq.PUSH)
    push.connect(b.ingest)
    push.send(json.dumps([{"channel": "r", "data": i} for i in range(10)]).encode())
    wait_for(lambda: b.request("STATS")[1]["events"]["rate_limited"] >= 12, 3)
    ev = b.request("STATS")[1]["events"]
    t.ok(ev["rate_limited"] == 12, "ingest: a batch of 10 past the budget: 5 refused", ev)


with Env(t) as env:
    check_token(env)
    check_curve(env)
    check_rate(env)
t.done()
