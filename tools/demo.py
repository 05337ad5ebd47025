#!/usr/bin/python3
"""make demo: the whole fastpush system on this machine, and a dashboard.

    python3 tools/demo.py [--bin build/bin] [--port 8080] [--var var/demo]

Installs what is missing (`make deps`, which needs root: sudo is used when
there is one) and builds the programs, then starts:

  - fastpush-broker, its durable store in var/demo/store;
  - fastpush-sse and fastpush-poll as FastCGI responders, fastpush-ws, and
    lighttpd in front of them all on one origin (the launcher's "origin"
    stack, tools/fpstack): the dashboard (web/), the client (/js/),
    /events, /push, /ws;
  - a publisher that ticks a clock, a counter and a keyed "prices" channel;
  - a small control service for the dashboard's buttons (stop and start a
    part, restart the broker, publish a burst), at /demo/ behind lighttpd;
  - a Pusher app "demo" (fastpush-poll's HTTP API at /apps, fastpush-ws's
    Pusher protocol at /app/KEY) and /pusher.html, a page written for
    Pusher Channels with pusher-js, its channel auth at /demo/pusher-auth.

With --cluster (make demo CLUSTER=1) the history lives in NATS JetStream
instead of the broker's store: three nats-server nodes (one cluster, the
stream on all three) and two brokers with `engine jetstream`; every
responder and the publisher use both brokers.  Stop a broker or a NATS
node from the dashboard and watch the page go on without a reset.

It prints the URL.  A part that dies is started again after 2 s (one
stopped from the dashboard stays stopped until started there).  Ctrl-C or
SIGTERM stops everything, by PID.  Logs: var/demo/run/*.log.
"""
import argparse
import hashlib
import hmac
import http.server
import json
import os
import random
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import fpstack
from fpstack.conf import POLL_SOCK, render
from fpstack.nats import NATS_SERVER, NatsCluster

ROOT = fpstack.ROOT
PARTS = ("broker", "sse", "poll", "ws", "lighttpd")
LABELS = {"broker": "fastpush-broker", "sse": "fastpush-sse", "poll": "fastpush-poll",
          "ws": "fastpush-ws", "lighttpd": "lighttpd", "broker2": "fastpush-broker (2)",
          "nats1": "nats-server (1)", "nats2": "nats-server (2)", "nats3": "nats-server (3)"}
CLUSTER_PARTS = ("broker2", "nats1", "nats2", "nats3")
PROGRAMS = ("fastpush-broker", "fastpush-sse", "fastpush-poll", "fastpush-ws", "fastpush")
PUSHER_APP, PUSHER_KEY = "demo", "demo-key"       # the Pusher app of /pusher.html
PUSHER_JS = os.path.join(ROOT, "node_modules", "pusher-js", "dist", "web")


def say(msg):
    print(f"demo: {msg}", flush=True)


def rel(path):
    """path relative to the source tree when inside it."""
    r = os.path.relpath(path, ROOT)
    return path if r.startswith("..") else r


# ------------------------------------------------------------ installing

def missing():
    """What `make deps` would install that is not there yet."""
    need = []
    if not fpstack.LIGHTTPD:
        need.append("lighttpd")
    try:
        import zmq  # noqa: F401
    except ImportError:
        need.append("python3-zmq")
    have_libs = shutil.which("pkg-config") and subprocess.run(
        ["pkg-config", "--exists", "libczmq", "jansson"], capture_output=True).returncode == 0
    if not have_libs or not shutil.which("cc"):
        need.append("the build dependencies")
    return need


def install(bin_dir):
    need = missing()
    if need:
        say(f"missing: {', '.join(need)}: running `make deps` (apt-get, as root)")
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        if sudo and not shutil.which("sudo"):
            sys.exit("demo: run `make deps` as root first (apt-get needs root)")
        if subprocess.run(sudo + ["make", "-C", ROOT, "deps"]).returncode != 0:
            sys.exit("demo: `make deps` failed")
    build = os.path.dirname(os.path.abspath(bin_dir))
    targets = [os.path.join(bin_dir, p) for p in PROGRAMS]
    say("building the programs (make)")
    rc = subprocess.run(["make", "-C", ROOT, "-j2", f"BUILD={os.path.relpath(build, ROOT)}"] +
                        [os.path.relpath(os.path.abspath(t), ROOT) for t in targets],
                        stdout=subprocess.DEVNULL).returncode
    if rc != 0:
        sys.exit("demo: the build failed (run `make` to see why)")


# ------------------------------------------------------------ processes

class Part:
    """One process of the stack (an fpstack.Proc): restarted when it dies,
    unless stopped on purpose."""

    def __init__(self, name, proc):
        self.name, self.proc = name, proc
        self.held = False               # stopped from the dashboard
        self.restarts = []

    @property
    def pid(self):
        return self.proc.pid if self.running() else None

    def running(self):
        return self.proc.alive()

    def start(self):
        self.held = False
        try:
            self.proc.start()
        except RuntimeError:
            raise RuntimeError(f"{LABELS[self.name]} did not start; see "
                               f"{rel(self.proc.log_path)}") from None

    def stop(self, hold=False):
        self.held = hold
        self.proc.stop(timeout=8)

    def check(self):
        """Restart a part that died (at most 5 times a minute)."""
        if self.held or self.running():
            return
        now = time.time()
        self.restarts = [t for t in self.restarts if now - t < 60]
        if len(self.restarts) >= 5:
            raise RuntimeError(f"{LABELS[self.name]} keeps dying; see its log")
        say(f"{LABELS[self.name]} exited (status {self.proc.p.returncode}); starting it again")
        self.restarts.append(now)
        time.sleep(2)
        self.start()
        say(f"{LABELS[self.name]} is back (pid {self.pid})")


# ------------------------------------------------------------ publisher

class Publisher(threading.Thread):
    """Ticks: "clock" every second, the keyed "counter" twice a second (each
    number acknowledged before the next, continuing over demo restarts),
    one of the keyed "prices" five times a second; bursts on request."""

    SYMBOLS = {"EURUSD": 1.0842, "GBPUSD": 1.2671, "USDJPY": 151.37, "BTCUSD": 67120.0,
               "GOLD": 2331.4}

    def __init__(self, broker):
        super().__init__(daemon=True)
        from fastpush_publisher import FastpushPublisher
        self.pub = FastpushPublisher(control=broker.control, ingest=broker.ingest, timeout=0.5)
        self.halt = threading.Event()
        self.lock = threading.Lock()
        self.prices = dict(self.SYMBOLS)

    def send(self, channel, data, **kw):
        """Publish without waiting; False if the broker is not there."""
        with self.lock:
            try:
                self.pub.publish_async(channel, data, **kw)
                return True
            except Exception:
                return False

    def count(self, n):
        """Publish n on the keyed "counter" and wait for the broker: True
        once it has n (also when the answer was lost in a restart but the
        event was taken: its state tells), so no number is skipped or
        published twice."""
        with self.lock:
            try:
                self.pub.publish("counter", n, key="value", event="count")
                return True
            except Exception:
                try:
                    _, evs = self.pub.request("STATE", {"channel": "counter"})
                    return bool(evs) and evs[-1]["data"] == n
                except Exception:
                    return False

    def last_count(self):
        """Where the counter stands in the broker (its store keeps it)."""
        try:
            _, evs = self.pub.request("STATE", {"channel": "counter"})
            return int(evs[-1]["data"]) if evs else 0
        except Exception:
            return 0

    def burst(self, n):
        """n events on "burst" as fast as the ingest socket takes them."""
        t0 = time.time()
        for start in range(0, n, 200):
            batch = [{"channel": "burst", "data": {"i": i + 1, "of": n}}
                     for i in range(start, min(n, start + 200))]
            with self.lock:
                self.pub.publish_batch_async(batch)
        return time.time() - t0

    def run(self):
        step, counter, quotes = 0, self.last_count(), 0
        syms = list(self.prices)
        while not self.halt.wait(0.05):
            step += 1
            if step % 5 == 0:
                # every symbol once first (a full table within a second),
                # then a random walk
                sym = syms[quotes] if quotes < len(syms) else random.choice(syms)
                quotes += 1
                p = self.prices[sym] * (1 + random.gauss(0, 0.0008))
                self.prices[sym] = p
                self.send("prices", {"symbol": sym, "price": round(p, 6 if p < 10 else 2)},
                          key=sym, event="quote")
            if step % 10 == 2 and self.count(counter + 1):
                counter += 1
            if step % 20 == 0:
                tick = {"time": time.strftime("%H:%M:%S"), "unix": time.time()}
                self.send("clock", tick, event="tick")
                self.send(f"{PUSHER_APP}:clock", tick, event="tick")   # Pusher's "clock"
        self.pub.close()


# ------------------------------------------------------------ control service

def control_handler(demo):
    """The dashboard's buttons: GET /demo/state, POST /demo/stop|start|
    restart?part=NAME, POST /demo/burst?n=N (with X-Fastpush-Secret)."""

    class H(http.server.BaseHTTPRequestHandler):
        def reply(self, status, obj):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            if urllib.parse.urlparse(self.path).path != "/demo/state":
                return self.reply(404, {"error": "not_found"})
            self.reply(200, demo.state())

        def do_POST(self):
            u = urllib.parse.urlparse(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path == "/demo/pusher-auth":
                n = min(int(self.headers.get("Content-Length") or 0), 4096)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(n).decode()))
                answer = demo.pusher_auth(form.get("socket_id", ""),
                                          form.get("channel_name", ""), q.get("user", ""))
                return self.reply(200 if answer else 403, answer or {"error": "forbidden"})
            if self.headers.get("X-Fastpush-Secret") != demo.secret:
                return self.reply(403, {"error": "forbidden"})
            try:
                return self.reply(200, demo.command(u.path.rsplit("/", 1)[-1], q))
            except (KeyError, ValueError) as e:
                return self.reply(400, {"error": "bad_request", "message": str(e)})

        def log_message(self, *a):
            pass

    return H


# ------------------------------------------------------------ the demo

class Brokers:
    """The brokers of the cluster demo as one broker for the stack and the
    publisher: control, fanout and ingest list them all (the first one's
    own first); env and the CLI use the first."""

    def __init__(self, brokers):
        self.all = brokers
        for k in ("control", "fanout", "ingest"):
            setattr(self, k, ",".join(getattr(b, k) for b in brokers))

    def env(self):
        return self.all[0].env()


class Demo:
    def __init__(self, args):
        self.var = os.path.abspath(args.var)
        self.run = os.path.join(self.var, "run")
        shutil.rmtree(self.run, ignore_errors=True)
        os.makedirs(self.run)
        self.host = args.host
        self.stats_access = args.stats_access
        self.port = fpstack.free_port(self.host, args.port)
        if args.port and self.port != args.port:
            say(f"port {args.port} is busy: using {self.port}")
        self.secret = secrets.token_urlsafe(12)
        self.pusher_secret = secrets.token_hex(16)
        # the processes: their own session, so that Ctrl-C reaches only
        # the demo, which stops them in order
        self.fp = fpstack.Run(self.run, args.bin, popen={"start_new_session": True})
        self.eps = self.endpoints(args.ipc)
        self.stack = None
        self.lock = threading.Lock()
        self.parts = {}
        self.cluster = args.cluster
        self.nats = None

    def endpoints(self, ipc):
        """The broker's default TCP ports when they are free (so the CLI
        and the publishers need no settings), else ipc:// sockets."""
        ports = (7400, 7401, 7402)
        if not ipc and all(fpstack.free_port("127.0.0.1", p) == p for p in ports):
            return {n: f"tcp://127.0.0.1:{p}" for n, p in zip(("ingest", "control", "fanout"),
                                                              ports)}
        d = self.run if len(self.run) < 90 else f"/tmp/fastpush-demo-{os.getuid()}"
        os.makedirs(d, exist_ok=True)
        return {n: f"ipc://{d}/{n}" for n in ("ingest", "control", "fanout")}

    def write_config(self, env):
        """demo-config.js and env.sh; env: the broker's variables (Broker.env)."""
        url = f"http://{'127.0.0.1' if self.host in ('0.0.0.0', '::') else self.host}:{self.port}"
        exports = " ".join(f"{k}={v}" for k, v in env.items())
        commands = {
            "cli": f"{'' if self.default_eps() else 'export ' + exports + chr(10)}"
                   f"{rel(self.fp.bin)}/fastpush publish chat "
                   "'{\"user\":\"shell\",\"text\":\"hello from the CLI\"}'",
            "php": f"{'' if self.default_eps() else 'export ' + exports + chr(10)}"
                   "php clients/php/example.php chat",
            "curl": f"curl -H 'X-Fastpush-Secret: {self.secret}' -d "
                    "'{\"channel\":\"chat\",\"data\":{\"user\":\"curl\",\"text\":\"hi\"}}' "
                    f"{url}/push/publish",
        }
        commands["pusher"] = (
            "node -e 'new (require(\"pusher\"))({appId: \"%s\", key: \"%s\", "
            "secret: \"%s\", host: \"%s\", port: \"%d\", useTLS: false})"
            ".trigger(\"presence-lobby\", \"announcement\", {text: \"hello from node\"})"
            ".then(r => console.log(r.status))'" % (PUSHER_APP, PUSHER_KEY, self.pusher_secret,
                                                   url.split("//")[1].split(":")[0], self.port))
        cfg = {"publishSecret": self.secret, "commands": commands,
               "pusher": {"key": PUSHER_KEY, "command": commands["pusher"]}}
        with open(os.path.join(self.run, "demo-config.js"), "w") as f:
            f.write("window.FASTPUSH_DEMO = " + json.dumps(cfg, indent=1) + ";\n")
        with open(os.path.join(self.var, "env.sh"), "w") as f:
            f.write("".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()))
        return url, commands

    def default_eps(self):
        return self.eps["control"] == "tcp://127.0.0.1:7401"

    # history and the SSE buffer hold a whole burst from the dashboard
    # (fastpush-sse cuts a stream with max-buffer queued: 256k by default)
    HISTORY = {"history_count": 20000, "history_bytes": "8m"}

    def start_brokers(self):
        """The broker's directives for the stack (a store of its own), or,
        with --cluster, three NATS nodes and two brokers on them."""
        if not self.cluster:
            return dict(self.eps, store=os.path.join(self.var, "store"), store_fsync="always",
                        **self.HISTORY)
        if not NATS_SERVER:
            raise RuntimeError("nats-server is missing: make deps installs it")
        say("starting 3 NATS JetStream nodes")
        self.nats = NatsCluster(self.fp, n=3, name="nats")
        js = dict(engine="jetstream", nats_url=self.nats.urls, nats_replicas=3, **self.HISTORY)
        a = self.fp.broker("demo-broker", **self.eps, **js)
        b = self.fp.broker("demo-broker2", **js)
        for i, nd in enumerate(self.nats.nodes):
            self.parts[f"nats{i + 1}"] = Part(f"nats{i + 1}", nd)
        self.parts["broker2"] = Part("broker2", b)
        return Brokers([a, b])

    def pusher_auth(self, socket_id, channel, user):
        """What an application's channel auth endpoint answers (Pusher's
        signature with the app's secret; presence: user as the member), or
        None.  The demo signs for anyone: a real one asks who is logged in."""
        if not (channel.startswith("private-") or channel.startswith("presence-")) or \
                not socket_id or not user or len(user) > 64:
            return None
        msg, out = f"{socket_id}:{channel}", {}
        if channel.startswith("presence-"):
            out["channel_data"] = json.dumps({"user_id": user, "user_info": {"name": user}})
            msg += ":" + out["channel_data"]
        sig = hmac.new(self.pusher_secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
        out["auth"] = f"{PUSHER_KEY}:{sig}"
        return out

    def pusher_routes(self, ws_port):
        """lighttpd: /apps to fastpush-poll, /app/ to fastpush-ws
        (conf/lighttpd-pusher.conf and conf/lighttpd-pusher-ws.conf)."""
        return "\n".join([
            render("lighttpd-pusher.conf", {POLL_SOCK: self.fp.path("demo-poll.sock")}),
            render("lighttpd-pusher-ws.conf", {"7410": str(ws_port)})])

    def start_stack(self, ctl_port):
        """broker, fastpush-sse, -poll, -ws and lighttpd on one origin
        (an fpstack.Stack of kind "origin"), started in that order; with
        --cluster the NATS nodes and the brokers come first."""
        origins = [] if self.host != "127.0.0.1" else \
            [f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"]
        apps = os.path.join(self.run, "pusher-apps")
        with open(apps, "w") as f:
            f.write(f"{PUSHER_APP} {PUSHER_KEY} {self.pusher_secret} client-events\n")
        os.chmod(apps, 0o600)
        ws_port = fpstack.free_port()
        ws = {"publish": "on", "pusher_apps": apps, "port": ws_port}
        if origins:
            ws["origin"] = origins
        self.stack = fpstack.Stack(
            self.fp, "origin", name="demo", template=False,
            broker=self.start_brokers(),
            sse={"prefix": "/events", "max_buffer": "4m"},
            poll={"prefix": "/push", "publish_secret": self.secret,
                  "stats_access": self.stats_access, "pusher_apps": apps},
            ws=ws,
            origin={"docroot": fpstack.WEB_DIR, "port": self.port, "host": self.host,
                    "aliases": {"/demo-config.js": os.path.join(self.run, "demo-config.js"),
                                "/pusher-js/": PUSHER_JS + "/"},
                    "extra": f'''# the demo's control service (dashboard buttons)
$HTTP["url"] =~ "^/demo/" {{
    proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {ctl_port} ) ) )
}}
''' + self.pusher_routes(ws_port)})
        parts = self.stack.parts()
        if self.cluster:
            parts["broker"] = self.stack.broker.all[0]
        for name in PARTS:
            self.parts[name] = Part(name, parts["server" if name == "lighttpd" else name])

    def state(self):
        with self.lock:
            return {"parts": {n: {"label": LABELS[n], "pid": p.pid, "running": p.running(),
                                  "held": p.held} for n, p in self.parts.items()}}

    def command(self, what, q):
        if what == "burst":
            n = max(1, min(20000, int(q.get("n", 1000))))
            return {"published": n, "seconds": round(self.publisher.burst(n), 4)}
        part = q["part"]
        if part not in ("broker", "sse", "poll", "ws") + (CLUSTER_PARTS if self.cluster else ()):
            raise ValueError(f"no part {part!r}")
        p = self.parts[part]
        with self.lock:
            if what == "stop":
                say(f"stopping {LABELS[part]} (from the dashboard)")
                p.stop(hold=True)
            elif what == "start" and not p.running():
                say(f"starting {LABELS[part]} (from the dashboard)")
                p.start()
            elif what == "restart":
                say(f"restarting {LABELS[part]} (from the dashboard)")
                p.stop()
                p.start()
            elif what not in ("start",):
                raise ValueError(f"unknown command {what!r}")
        return self.state()

    def main(self):
        sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
        ctl = http.server.ThreadingHTTPServer(("127.0.0.1", 0), control_handler(self))
        threading.Thread(target=ctl.serve_forever, daemon=True).start()
        stopping = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *a: stopping.set())
        try:
            self.start_stack(ctl.server_address[1])
            url, commands = self.write_config(self.stack.broker.env())
            self.publisher = Publisher(self.stack.broker)
            self.publisher.start()
            self.banner(url, commands)
            while not stopping.wait(0.5):
                with self.lock:
                    for p in self.parts.values():
                        p.check()
        except RuntimeError as e:
            say(f"error: {e}")
            return 1
        finally:
            say("stopping")
            if hasattr(self, "publisher"):
                self.publisher.halt.set()
                self.publisher.join(2)
            self.fp.stop_all()          # newest first: lighttpd, ws, poll, sse, broker
            ctl.shutdown()
            say("stopped")
        return 0

    def banner(self, url, commands):
        pids = ", ".join(f"{LABELS[n]} {p.pid}" for n, p in self.parts.items())
        store = f"NATS: {self.nats.urls} (stream FASTPUSH, 3 replicas)" if self.cluster \
            else f"Store: {rel(self.var)}/store"
        print(f"""
fastpush demo is running:

    {url}/

Publish from elsewhere and watch the page:
    {commands['cli'].replace(chr(10), chr(10) + '    ')}
    {commands['php'].replace(chr(10), chr(10) + '    ')}
    {commands['curl']}

A page written for Pusher (pusher-js, presence, client events): {url}/pusher.html
    and publishing to it with the npm pusher library:
    {commands['pusher']}

Stats: {url}/push/stats   Prometheus: {url}/push/metrics   (stats-access {self.stats_access})
Processes: {pids}
  (kill one to watch the page fall back; it is started again after 2 s)
Logs: {rel(self.run)}/*.log   {store}

Ctrl-C stops everything.
""", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--var", default=os.path.join(ROOT, "var", "demo"),
                    help="state and logs (var/demo)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8080)),
                    help="HTTP port ($PORT, 8080; a free one if busy)")
    ap.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"),
                    help="address to serve on ($HOST, 127.0.0.1)")
    ap.add_argument("--stats-access", default=os.environ.get("STATS_ACCESS", "local"),
                    help="who may read /push/stats and /push/metrics, which the dashboard "
                         "shows ($STATS_ACCESS, local: browsers on this host only; open for "
                         "a demo on a trusted network)")
    ap.add_argument("--ipc", action="store_true",
                    help="broker on ipc:// sockets even if its TCP ports are free")
    ap.add_argument("--cluster", action="store_true",
                    default=os.environ.get("CLUSTER", "") not in ("", "0"),
                    help="history in NATS JetStream: 3 nats-server nodes and 2 brokers "
                         "($CLUSTER=1)")
    ap.add_argument("--no-install", action="store_true", help="do not run make deps / make")
    args = ap.parse_args()
    if not args.no_install:
        install(args.bin)
    return Demo(args).main()


if __name__ == "__main__":
    sys.exit(main())
