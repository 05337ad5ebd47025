"""The systems the benchmarks compare, each started fresh from a scratch
directory with the configuration shown in RESULTS.md.  Processes, readiness
waits and stopping by PID are the launcher's (tools/fpstack); the fastpush
systems are fpstack Stacks (the shipped conf/ snippet of their web server,
the benchmark's tuning), the peers write their own configs.

    sys = make("nchan", ctx, conns=10000)
    with sys:                         # start ... stop
        sys.url("sse")                # loadgen --url for a transport
        sys.pub("sse")                # loadgen --pub KIND TARGET
        sys.pids()                    # server process roots for /proc

A system lacks a transport when sys.url(mode) is None; sys.missing(mode)
says why.  Every server is sized for `conns` connections within the
machine's limit of 20,000 file descriptors per process (several
lighttpd instances, 2 nginx workers, enough Apache children).
"""
import math
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))
import fpstack  # noqa: E402  (the launcher: processes, readiness, web servers)

NODE_PATH = "/usr/share/nodejs"        # Debian's node-ws
NCHAN_SO = "/usr/lib/nginx/modules/ngx_nchan_module.so"

# Ramp rates (connections/s) per system.  Pushpin answers bursts with
# 502s (every subscription is a round trip to the backend), so it gets
# a slower ramp (seen in this suite at 2000/s: most subscriptions
# refused).
RAMP = {"pushpin": 500}
RAMP_DEFAULT = 2000

# nginx (fastpush-nginx, nchan): 2 workers, each allowed 18,000 connections
NGINX_OPTS = {"workers": 2, "connections": 18000, "head": "worker_rlimit_nofile 19000;\n",
              "listen_opts": "reuseport backlog=4096"}


class System:
    """One system in a scratch directory: its processes are an fpstack.Run
    (started with readiness waits, stopped by PID)."""
    name = "?"
    label = "?"
    modes = ()                  # transports: sse, ws, longpoll, poll

    def __init__(self, ctx, conns=1000):
        self.ctx = ctx
        self.conns = conns
        self.dir = os.path.join(ctx.tmp, f"{self.name}-{int(time.time() * 1000)}")
        self.run = fpstack.Run(self.dir, ctx.bin)
        os.chmod(ctx.tmp, 0o755)        # nginx and Apache workers reach
        os.chmod(self.dir, 0o755)       # the FastCGI socket in here
        self.configs = {}       # file name -> text, shown in RESULTS.md

    # -- life cycle
    def spawn(self, name, argv, env=None, **ready):
        """Start a peer's process; ready: fpstack.Proc's port=, timeout=..."""
        return self.run.start(name, argv, extra_env=env, **ready)

    def write(self, name, text, show=True):
        if show:
            self.configs[name] = text
        return fpstack.write(os.path.join(self.dir, name), text)

    def show(self, name, *paths):
        """Show the files a launcher wrote (concatenated) in RESULTS.md."""
        text = ""
        for p in paths:
            with open(p) as f:
                text += f.read()
        self.configs[name] = text

    def __enter__(self):
        try:
            self.start()
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def stop(self):
        self.run.stop_all(together=True)
        self.run.procs = []
        time.sleep(0.3)         # let the kernel release the ports

    def log_tail(self, n=2000):
        out = []
        for top, _, files in sorted(os.walk(self.dir)):
            for f in sorted(files):
                if f.endswith(".log"):
                    path = os.path.join(top, f)
                    with open(path, "rb") as fh:
                        out.append(f"--- {os.path.relpath(path, self.dir)}\n" +
                                   fh.read()[-n:].decode(errors="replace"))
        return "\n".join(out)

    def pids(self):
        return [p.pid for p in self.run.procs if p.alive()]

    # -- what loadgen needs
    def url(self, mode):
        return None

    def pub(self, mode):
        return None

    def ramp(self):
        return RAMP.get(self.name, RAMP_DEFAULT)

    def ws_sub(self):
        return None

    def missing(self, mode):
        return "not supported"

    def describe(self):
        return ""


# ------------------------------------------------------------ fastpush

class Fastpush(System):
    """broker + fastpush-sse (+ fastpush-poll, fastpush-ws when built)
    behind a front web server: an fpstack.Stack with the shipped conf/
    snippet of the front server (subclasses) and the benchmark's own
    responder directives (template=False: only these)."""
    front = "?"
    sse_extra = {}              # more fastpush-sse directives (variants)
    broker_extra = {}           # more fastpush-broker directives (variants)
    with_poll = with_ws = False

    def start_stack(self, server_opts):
        b = self.ctx.bin
        quiet = {"socket_mode": "0666", "log_level": "warn"}
        poll = quiet if self.with_poll and os.path.exists(f"{b}/fastpush-poll") else None
        ws = None
        if self.with_ws and os.path.exists(f"{b}/fastpush-ws"):
            ws = {"workers": 2, "path": "/ws", "log_level": "warn"}
        self.stack = fpstack.Stack(self.run, self.front, name="fastpush",
                                   broker=dict({"log_level": "warn"}, **self.broker_extra),
                                   template=False,
                                   sse=dict(quiet, prefix="/events", **self.sse_extra),
                                   poll=poll, ws=ws, server_opts=server_opts)
        self.poll_sock, self.ws_port = self.stack.poll_sock, self.stack.ws_port
        for p in (self.stack.broker, self.stack.sse, self.stack.poll, self.stack.ws):
            if p is not None:
                self.show(os.path.basename(p.conf_path), p.conf_path)
        self.show(os.path.basename(self.stack.server.conf_path), self.stack.server.conf_path,
                  self.stack.snippet)

    def pub(self, mode):
        return ("zmq-fastpush", self.stack.broker.ingest)

    def missing(self, mode):
        if mode in ("longpoll", "poll"):
            return "fastpush-poll is not in this build"
        return "not supported"


class FastpushLighttpd(Fastpush):
    name = "fastpush"
    label = "fastpush (lighttpd)"
    front = "lighttpd"
    with_poll = with_ws = True
    per_instance = 6000         # 2 fds per stream, max-fds 16384
    TUNING = """server.max-fds = 16384
server.max-connections = 8000
server.listen-backlog = 4096
"""

    def start(self):
        self.start_stack({"settings": self.TUNING})
        self.ports = [self.stack.port]
        for i in range(1, max(1, math.ceil(self.conns / self.per_instance))):
            w = self.run.add(fpstack.Lighttpd(self.run, self.stack.snippet, f"lighttpd{i}",
                                              settings=self.TUNING))
            self.ports.append(w.port)

    def url(self, mode):
        if mode == "sse":
            return [f"http://127.0.0.1:{p}/events/%c" for p in self.ports]
        if mode in ("longpoll", "poll") and self.poll_sock:
            wait = 30 if mode == "longpoll" else 0
            return [f"http://127.0.0.1:{p}/push/poll?channel=%c&since=%C&wait={wait}"
                    for p in self.ports]
        if mode == "ws" and self.ws_port:
            return [f"http://127.0.0.1:{self.ws_port}/ws"]
        return None

    def ws_sub(self):
        return '{"type":"subscribe","channels":["%c"]}'

    def missing(self, mode):
        if mode == "ws":
            return "fastpush-ws is not in this build"
        return super().missing(mode)

    def describe(self):
        return (f"fastpush-broker + one fastpush-sse process (unix socket) behind "
                f"{len(self.ports)} lighttpd 1.4 instance(s) "
                f"(up to {self.per_instance} streams each: 2 fds per stream)"
                + (" + fastpush-poll" if self.poll_sock else "")
                + (" + fastpush-ws (2 workers)" if self.ws_port else "")
                + "; publisher: ZeroMQ PUSH to the broker's ingest.")


class FastpushLighttpdHb1(FastpushLighttpd):
    """The same with a 1 s heartbeat: lighttpd notices a client that left
    only when it next writes to it, so the heartbeat interval is how long
    a dead stream holds lighttpd's two descriptors (docs/deploy.md)."""
    name = "fastpush-hb1"
    label = "fastpush (lighttpd, heartbeat 1 s)"
    sse_extra = {"heartbeat": "1s"}

    def describe(self):
        return super().describe() + " fastpush-sse with `heartbeat 1s` (default 15 s)."


class FastpushNginx(Fastpush):
    name = "fastpush-nginx"
    label = "fastpush (nginx)"
    front = "nginx"

    def start(self):
        self.start_stack(NGINX_OPTS)
        self.port = self.stack.port

    def url(self, mode):
        return [f"http://127.0.0.1:{self.port}/events/%c"] if mode == "sse" else None

    def describe(self):
        return ("fastpush-broker + fastpush-sse behind nginx 1.22 (2 workers, reuseport, "
                "fastcgi_buffering off); SSE only (the hosting comparison).")


class FastpushApache(Fastpush):
    name = "fastpush-apache"
    label = "fastpush (Apache)"
    front = "apache"

    def start(self):
        children = math.ceil(self.conns / 500) + 1
        mpm = f"""ServerLimit {children}
ThreadLimit 500
ThreadsPerChild 500
MaxRequestWorkers {children * 500}
StartServers {children}
MinSpareThreads 100
MaxSpareThreads {children * 500}
ThreadStackSize 262144"""
        self.start_stack({"mpm": mpm, "extra": "ListenBacklog 4096\nTimeout 300\n",
                          "timeout": 30})
        self.port = self.stack.port

    def url(self, mode):
        return [f"http://127.0.0.1:{self.port}/events/%c"] if mode == "sse" else None

    def describe(self):
        return ("fastpush-broker + fastpush-sse behind Apache 2.4 event MPM with "
                "mod_proxy_fcgi (flushpackets=on); each stream holds one Apache worker "
                "thread, so there are enough 500-thread children for the run.")


# ------------------------------------------------------------ peers

class Nchan(System):
    name = "nchan"
    label = "nchan"
    modes = ("sse", "ws", "longpoll", "poll")

    def start(self):
        snippet = self.write("nchan.conf", """\
location ~ ^/sub/(\\w+)$ {              # SSE, WebSocket, long-poll
  nchan_subscriber;
  nchan_channel_id $1;
  nchan_subscriber_first_message newest;
  nchan_eventsource_ping_interval 15;
}
location ~ ^/ipoll/(\\w+)$ {            # interval poll (304 when nothing new)
  nchan_subscriber intervalpoll;
  nchan_channel_id $1;
  nchan_subscriber_first_message newest;
}
location ~ ^/pub/(\\w+)$ {
  allow 127.0.0.1; deny all;
  nchan_publisher;
  nchan_channel_id $1;
  nchan_message_buffer_length 10;
  nchan_message_timeout 1h;
}
""", show=False)
        opts = dict(NGINX_OPTS, head=f"load_module {NCHAN_SO};\n" + NGINX_OPTS["head"],
                    http="    nchan_shared_memory_size 256M;\n")
        w = self.run.add(fpstack.Nginx(self.run, snippet, "nginx", **opts))
        self.port = w.port
        self.show("nginx.conf", w.conf_path, snippet)

    def url(self, mode):
        base = f"http://127.0.0.1:{self.port}"
        return {"sse": [f"{base}/sub/%c"], "ws": [f"{base}/sub/%c"],
                "longpoll": [f"{base}/sub/%c"], "poll": [f"{base}/ipoll/%c"]}.get(mode)

    def pub(self, mode):
        return ("http", f"http://127.0.0.1:{self.port}/pub/%c")

    def describe(self):
        return ("nginx 1.22 + libnginx-mod-nchan 1.3.6 (Debian), 2 workers with reuseport, "
                "memory store, `nchan_subscriber_first_message newest`; publisher: HTTP POST "
                "to the publisher location (one keep-alive connection).")


class Pushpin(System):
    name = "pushpin"
    label = "Pushpin"
    modes = ("sse", "ws", "longpoll", "poll")
    message_rate = int(os.environ.get("PUSHPIN_MESSAGE_RATE", "1000000"))
    message_hwm = int(os.environ.get("PUSHPIN_MESSAGE_HWM", "1000000"))
    client_buffer = int(os.environ.get("PUSHPIN_CLIENT_BUFFER", "8192"))   # default

    def start(self):
        fp = fpstack.free_port
        self.port, self.bport, self.pull = fp(), fp(), fp()
        self.http_pub, self.sub, self.cmd = fp(), fp(), fp()
        os.makedirs(f"{self.dir}/run", exist_ok=True)
        os.makedirs(f"{self.dir}/log", exist_ok=True)
        conf = f"""[global]
include={{libdir}}/internal.conf
rundir=run
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:{self.port}
logdir=log
log_level=1
client_buffer_size={self.client_buffer}
client_maxconn=50000
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile=routes
debug=false
auto_cross_origin=false
sig_iss=pushpin
sig_key=changeme
updates_check=off
zurl_out_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in
zurl_out_stream_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-in-stream
zurl_in_specs=ipc://{{rundir}}/{{ipc_prefix}}zurl-out

[handler]
push_in_spec=tcp://127.0.0.1:{self.pull}
push_in_sub_specs=tcp://127.0.0.1:{self.sub}
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port={self.http_pub}
stats_spec=ipc://{{rundir}}/{{ipc_prefix}}stats
command_spec=tcp://127.0.0.1:{self.cmd}
message_rate={self.message_rate}
message_hwm={self.message_hwm}
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=json
"""
        self.write("pushpin.conf", conf)
        self.write("routes", f"* 127.0.0.1:{self.bport},over_http\n")
        self.spawn("grip-backend", ["node", os.path.join(HERE, "peers", "pushpin_backend.js"),
                                    str(self.bport), f"http://127.0.0.1:{self.http_pub}/publish/"],
                   port=self.bport)
        p = self.spawn("pushpin", ["pushpin", f"--config={self.dir}/pushpin.conf"],
                       port=self.port, timeout=30)
        if not fpstack.wait_port(self.pull, p.alive, 30):
            raise RuntimeError(f"pushpin-handler does not listen on {self.pull}:\n{p.read_log()}")
        time.sleep(1.0)         # proxy and handler finish starting

    def url(self, mode):
        base = f"http://127.0.0.1:{self.port}"
        return {"sse": [f"{base}/sse/%c"], "ws": [f"{base}/ws/%c"],
                "longpoll": [f"{base}/poll/%c?since=%C&wait=30"],
                "poll": [f"{base}/poll/%c?since=%C&wait=0"]}.get(mode)

    def pub(self, mode):
        if mode in ("longpoll", "poll"):   # needs the backend's history
            return ("http", f"http://127.0.0.1:{self.bport}/pub/%c")
        return ("zmq-pushpin", f"tcp://127.0.0.1:{self.pull}")

    def describe(self):
        return ("Pushpin 1.36 (Debian: condure, zurl, pushpin-proxy, pushpin-handler) with "
                "`message_rate` and `message_hwm` raised to 1,000,000 (defaults 2,500/s and "
                "25,000 cap fan-out), default `client_buffer_size` 8192; GRIP backend "
                "bench/peers/pushpin_backend.js (Node, one process; counted in its memory). "
                "Publisher: ZeroMQ PUSH to pushpin-handler for streams; for polls HTTP POST to "
                "the backend (which keeps the history Pushpin lacks) and on to Pushpin's "
                "publish API. Ramp 500 connections/s.")


class Node(System):
    name = "node"
    label = "Node.js"
    modes = ("sse", "ws", "longpoll", "poll")

    def start(self):
        self.port = fpstack.free_port()
        src = os.path.join(HERE, "peers", "node_server.js")
        self.configs["node_server.js"] = "(bench/peers/node_server.js, unchanged)"
        self.spawn("node", ["node", src, str(self.port)], env={"NODE_PATH": NODE_PATH},
                   port=self.port)

    def url(self, mode):
        base = f"http://127.0.0.1:{self.port}"
        return {"sse": [f"{base}/sse/%c"], "ws": [f"{base}/ws/%c"],
                "longpoll": [f"{base}/poll/%c?since=%C&wait=30"],
                "poll": [f"{base}/poll/%c?since=%C&wait=0"]}.get(mode)

    def pub(self, mode):
        return ("http", f"http://127.0.0.1:{self.port}/pub/%c")

    def describe(self):
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
        return (f"Node.js {node}, one process: bench/peers/node_server.js (native http SSE, "
                "long-poll and poll, Debian node-ws 8.11 for WebSocket, POST publish).")


SYSTEMS = {c.name: c for c in (FastpushLighttpd, FastpushLighttpdHb1, FastpushNginx,
                               FastpushApache, Nchan, Pushpin, Node)}
PEERS = ["fastpush", "nchan", "pushpin", "node"]
HOSTING = ["fastpush", "fastpush-nginx", "fastpush-apache"]


def selected(names):
    """Filter by $BENCH_SYSTEMS (comma-separated) if set."""
    only = os.environ.get("BENCH_SYSTEMS")
    if not only:
        return list(names)
    keep = set(only.split(","))
    return [n for n in names if n in keep]


def make(name, ctx, conns=1000):
    return SYSTEMS[name](ctx, conns)


def have(prog):
    return shutil.which(prog) is not None
