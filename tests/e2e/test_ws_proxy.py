"""fastpush-ws behind lighttpd, Apache and nginx: each server is started
on an ephemeral port in the temp dir with the example from conf/ (the
bridge address rewritten), and WebSocket is spoken through it: the
handshake, the JSON protocol with a live event, ping/pong, Origin
refusals passed through, and the close handshake."""
import json
import os
import shutil
import struct
import time

from harness import Env, Tap, free_port, require_tool
import fpstack  # noqa: E402  (harness puts tools/ on sys.path)
from wsclient import OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, WS, accept_key, close_payload, start_ws

t = Tap()
CONF = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "conf")
EXAMPLE_BRIDGE = "127.0.0.1:7410"


def example(name, bridge_port):
    with open(os.path.join(CONF, name)) as f:
        text = f.read()
    assert EXAMPLE_BRIDGE in text or '"port" => 7410' in text, name
    return text.replace(EXAMPLE_BRIDGE, f"127.0.0.1:{bridge_port}").replace(
        '"port" => 7410', f'"port" => {bridge_port}')


def find(name):
    """name on PATH, else in /usr/sbin (not on every user's PATH); None."""
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}",) if os.access(p, os.X_OK)), None)


def lighttpd(env, port, bridge_port):
    exe = find("lighttpd")
    if not require_tool(t, "lighttpd", exe, "lighttpd: installed"):
        return None
    d = env.path("lighttpd")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "ws.conf"), "w") as f:
        f.write(example("lighttpd-ws.conf", bridge_port))
    with open(os.path.join(d, "lighttpd.conf"), "w") as f:
        f.write(f"""server.document-root = "{d}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{d}/error.log"
server.pid-file = "{d}/lighttpd.pid"
include "{d}/ws.conf"
""")
    return env.start("lighttpd", [exe, "-D", "-f", os.path.join(d, "lighttpd.conf")])


def apache(env, port, bridge_port):
    exe = find("apache2")
    mods = "/usr/lib/apache2/modules"
    if not require_tool(t, "apache2", exe, "apache: installed") or \
            not require_tool(t, "mod_proxy_wstunnel", f"{mods}/mod_proxy_wstunnel.so",
                             "apache: mod_proxy_wstunnel installed"):
        return None
    d = env.path("apache")
    os.makedirs(d, exist_ok=True)
    load = "\n".join(f"LoadModule {m}_module {mods}/mod_{m}.so" for m in
                     ("mpm_event", "authz_core", "proxy", "proxy_http", "proxy_wstunnel"))
    with open(os.path.join(d, "httpd.conf"), "w") as f:
        f.write(f"""{load}
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{d}/httpd.pid"
ErrorLog "{d}/error.log"
LogLevel warn
User nobody
Group nogroup
DefaultRuntimeDir "{d}"
Mutex file:{d} default
<VirtualHost *:{port}>
{example("apache-ws.conf", bridge_port)}
</VirtualHost>
""")
    return env.start("apache", [exe, "-X", "-f", os.path.join(d, "httpd.conf")])


def nginx(env, port, bridge_port):
    exe = find("nginx")
    if not require_tool(t, "nginx", exe, "nginx: installed"):
        return None
    d = env.path("nginx")
    os.makedirs(d, exist_ok=True)
    loc = example("nginx-ws.conf", bridge_port)
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(f"""daemon off;
master_process off;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen 127.0.0.1:{port};
{loc}
    }}
}}
""")
    return env.start("nginx", [exe, "-p", d, "-c", os.path.join(d, "nginx.conf")])


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
        port = free_port()
        p = start(env, port, w.port)
        if p is None:           # require_tool reported the missing tool
            continue
        if not t.ok(fpstack.wait_port(port, p.alive), f"{name}: starts from the generated config", p.read_log()):
            d = env.path(name)
            for f in ("error.log",):
                if os.path.exists(os.path.join(d, f)):
                    t.note(open(os.path.join(d, f)).read()[-1500:])
            continue
        through(name, port, b)
        p.stop()
t.done()
