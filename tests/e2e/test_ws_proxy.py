"""fastpush-ws behind lighttpd, Apache and nginx: each server is started
on an ephemeral port in the temp dir with the example from conf/ (the
bridge address rewritten), and WebSocket is spoken through it: the
handshake, the JSON protocol with a live event, ping/pong, Origin
refusals passed through, and the close handshake.  The servers are the
launcher's (fpstack Lighttpd, Apache, Nginx: a main file around the
example, ready once the port accepts)."""
import json
import os
import shutil
import struct

from harness import Env, Tap, require_tool
import fpstack  # noqa: E402  (harness puts tools/ on sys.path)
from wsclient import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WS, accept_key, close_payload, start_ws

t = Tap()


def example(env, name, bridge_port, wrap="{}"):
    """conf/NAME with the bridge's address rewritten (wrapped in `wrap`),
    written to the run; its path."""
    token = '"port" => 7410' if name.startswith("lighttpd") else "127.0.0.1:7410"
    text = fpstack.render(name, {token: token.replace("7410", str(bridge_port))})
    return fpstack.write(env.path(name), wrap.format(text))


def find(name):
    """name on PATH, else in /usr/sbin (not on every user's PATH); None."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}",) if os.access(p, os.X_OK)), None)


def lighttpd(env, bridge_port):
    if not require_tool(t, "lighttpd", fpstack.LIGHTTPD, "lighttpd: installed"):
        return None
    return env.add(fpstack.Lighttpd(env, example(env, "lighttpd-ws.conf", bridge_port)))


def apache(env, bridge_port):
    mods = "/usr/lib/apache2/modules"
    if not require_tool(t, "apache2", find("apache2"), "apache: installed") or \
            not require_tool(t, "mod_proxy_wstunnel", f"{mods}/mod_proxy_wstunnel.so",
                             "apache: mod_proxy_wstunnel installed"):
        return None
    snippet = example(env, "apache-ws.conf", bridge_port, "<VirtualHost *:*>\n{}\n</VirtualHost>\n")
    return env.add(fpstack.Apache(env, snippet, ["proxy", "proxy_http", "proxy_wstunnel"]))


def nginx(env, bridge_port):
    if not require_tool(t, "nginx", find("nginx"), "nginx: installed"):
        return None
    return env.add(fpstack.Nginx(env, example(env, "nginx-ws.conf", bridge_port)))


def jrecv(c, timeout=5.0):
    while True:
        op, data = c.recv(timeout)
        if op == OP_PING:
            c.send(OP_PONG, data)
            continue
        return op, data


def through(name, port, b):
    c = WS.open(port)
    st = c.handshake(protocols=["fastpush.v1"], headers={"Host": f"127.0.0.1:{port}",
                                                        "Origin": "https://app.example"})
    t.ok(st == 101 and c.header("sec-websocket-accept") == accept_key(c.key) and
         c.header("sec-websocket-protocol") == "fastpush.v1",
         f"{name}: the upgrade passes through (101, accept key, subprotocol)", c.response)
    if st != 101:
        return
    c.send(OP_TEXT, json.dumps({"type": "subscribe", "channels": [f"px-{name}"], "ref": name}))
    op, data = jrecv(c)
    t.eq(json.loads(data).get("type"), "ready", f"{name}: subscribe -> ready")
    b.publish(f"px-{name}", {"via": name})
    op, data = jrecv(c)
    t.eq(json.loads(data).get("data"), {"via": name}, f"{name}: a live event arrives through the proxy")
    c.send(OP_PING, b"proxied ping")
    t.eq(c.recv(), (OP_PONG, b"proxied ping"), f"{name}: ping/pong through the proxy")
    big = json.dumps({"type": "ping", "ref": "x" * 200})
    c.send(OP_TEXT, big, chop=7)
    op, data = jrecv(c)
    t.eq(json.loads(data), {"type": "pong", "ref": "x" * 200}, f"{name}: a message in 7-byte chops")
    c.send(OP_CLOSE, close_payload(1000))
    op, data = c.recv()
    t.ok(op == OP_CLOSE and struct.unpack("!H", data[:2])[0] == 1000, f"{name}: close handshake")
    t.ok(c.wait_eof(5), f"{name}: connection closed after the close handshake")
    c.close()
    c = WS.open(port)
    st = c.handshake(headers={"Host": f"127.0.0.1:{port}", "Origin": "https://evil.example"})
    t.eq(st, 403, f"{name}: an origin not allowed gets the bridge's 403")
    c.close()


with Env(t) as env:
    b = env.broker()
    w = start_ws(env, broker=b, origin="https://app.example")
    for name, start in (("lighttpd", lighttpd), ("apache", apache), ("nginx", nginx)):
        try:
            p = start(env, w.port)
        except RuntimeError as e:       # it exited or did not listen: its logs
            t.ok(False, f"{name}: starts from the generated config", str(e)[-3000:])
            continue
        if p is None:           # require_tool reported the missing tool
            continue
        t.ok(True, f"{name}: starts from the generated config")
        through(name, p.port, b)
        p.stop()
t.done()
