"""The systems the benchmarks compare, each started fresh from a scratch
directory with the configuration shown in RESULTS.md.

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
import signal
import socket
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_PATH = "/usr/share/nodejs"        # Debian's node-ws
NCHAN_SO = "/usr/lib/nginx/modules/ngx_nchan_module.so"

# Ramp rates (connections/s) per system.  Pushpin answers bursts with
# 502s (every subscription is a round trip to the backend), so it gets
# a slower ramp (seen in this suite at 2000/s: most subscriptions
# refused).
RAMP = {"pushpin": 500}
RAMP_DEFAULT = 2000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc=None, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


def wait_path(path, proc=None, timeout=15.0):
    end = time.time() + timeout
    while time.time() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not appear")


def nginx_head(d):
    """The part of an nginx.conf both nginx systems share: 2 workers,
    each allowed 18,000 connections, everything kept in d."""
    os.makedirs(f"{d}/tmp", exist_ok=True)
    return f"""worker_processes 2;
worker_rlimit_nofile 19000;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log warn;
daemon off;
events {{ worker_connections 18000; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;"""


class System:
    name = "?"
    label = "?"
    modes = ()                  # transports: sse, ws, longpoll, poll

    def __init__(self, ctx, conns=1000):
        self.ctx = ctx
        self.conns = conns
        self.dir = os.path.join(ctx.tmp, f"{self.name}-{int(time.time() * 1000)}")
        os.makedirs(self.dir)
        os.chmod(ctx.tmp, 0o755)        # nginx and Apache workers reach
        os.chmod(self.dir, 0o755)       # the FastCGI socket in here
        self.procs = []
        self.configs = {}       # file name -> text, shown in RESULTS.md

    # -- life cycle
    def spawn(self, name, argv, cwd=None, env=None):
        log = open(os.path.join(self.dir, f"{name}.log"), "ab")
        penv = dict(os.environ)
        penv.update(env or {})
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, cwd=cwd or self.dir, env=penv)
        p.fp_name = name
        self.procs.append(p)
        return p

    def write(self, name, text, show=True):
        with open(os.path.join(self.dir, name), "w") as f:
            f.write(text)
        if show:
            self.configs[name] = text
        return os.path.join(self.dir, name)

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
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        time.sleep(0.3)         # let the kernel release the ports

    def log_tail(self, n=2000):
        out = []
        for f in sorted(os.listdir(self.dir)):
            if f.endswith(".log") or f.endswith("error.log"):
                with open(os.path.join(self.dir, f), "rb") as fh:
                    out.append(f"--- {f}\n" + fh.read()[-n:].decode(errors="replace"))
        return "\n".join(out)

    def pids(self):
        return [p.pid for p in self.procs if p.poll() is None]

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
    behind a front web server (subclasses)."""
    front = "?"
    sse_extra = ""              # more fastpush-sse directives (variants)

    def start_core(self):
        b = self.ctx.bin
        d = self.dir
        self.ep = {k: f"ipc://{d}/{k}" for k in ("ingest", "control", "fanout")}
        self.write("broker.conf", "".join(f"{k} {v}\n" for k, v in self.ep.items()) +
                   "log-level warn\n")
        self.spawn("broker", [f"{b}/fastpush-broker", "-f", f"{d}/broker.conf"])
        wait_path(f"{d}/fanout", self.procs[-1])
        self.sse_sock = f"{d}/sse.sock"
        self.write("fastpush-sse.conf",
                   f"listen {self.sse_sock}\nsocket-mode 0666\nfanout {self.ep['fanout']}\n"
                   f"control {self.ep['control']}\nprefix /events\nlog-level warn\n"
                   + self.sse_extra)
        self.spawn("fastpush-sse", [f"{b}/fastpush-sse", "-f", f"{d}/fastpush-sse.conf"])
        wait_path(self.sse_sock, self.procs[-1])
        self.poll_sock = None
        if os.path.exists(f"{b}/fastpush-poll"):
            self.poll_sock = f"{d}/poll.sock"
            self.write("fastpush-poll.conf",
                       f"listen {self.poll_sock}\nsocket-mode 0666\nfanout {self.ep['fanout']}\n"
                       f"control {self.ep['control']}\nlog-level warn\n")
            self.spawn("fastpush-poll", [f"{b}/fastpush-poll", "-f", f"{d}/fastpush-poll.conf"])
            wait_path(self.poll_sock, self.procs[-1])

    def pub(self, mode):
        return ("zmq-fastpush", self.ep["ingest"])

    def missing(self, mode):
        if mode in ("longpoll", "poll"):
            return "fastpush-poll is not in this build"
        return "not supported"


class FastpushLighttpd(Fastpush):
    name = "fastpush"
    label = "fastpush (lighttpd)"
    front = "lighttpd"
    per_instance = 6000         # 2 fds per stream, max-fds 16384

    def start(self):
        self.start_core()
        n = max(1, math.ceil(self.conns / self.per_instance))
        self.ports = []
        for i in range(n):
            port = free_port()
            poll = ""
            if self.poll_sock:
                poll = (f',\n    "/push" => ( ( "socket" => "{self.poll_sock}", '
                        f'"check-local" => "disable" ) )')
            conf = f"""server.modules = ( "mod_fastcgi" )
server.document-root = "{self.dir}"
server.bind = "127.0.0.1"
server.port = {port}
server.pid-file = "{self.dir}/lighttpd{i}.pid"
server.errorlog = "{self.dir}/lighttpd{i}-error.log"
server.max-fds = 16384
server.max-connections = 8000
server.listen-backlog = 4096
server.stream-response-body = 2
fastcgi.server = (
    "/events" => ( ( "socket" => "{self.sse_sock}", "check-local" => "disable" ) ){poll}
)
"""
            self.write(f"lighttpd{i}.conf", conf, show=(i == 0))
            self.spawn(f"lighttpd{i}", ["lighttpd", "-D", "-f", f"{self.dir}/lighttpd{i}.conf"])
            wait_port(port, self.procs[-1])
            self.ports.append(port)
        self.ws_port = None
        if os.path.exists(f"{self.ctx.bin}/fastpush-ws"):
            self.ws_port = free_port()
            self.write("fastpush-ws.conf",
                       f"listen 127.0.0.1:{self.ws_port}\nworkers 2\npath /ws\n"
                       f"fanout {self.ep['fanout']}\ncontrol {self.ep['control']}\n"
                       "log-level warn\n")
            self.spawn("fastpush-ws", [f"{self.ctx.bin}/fastpush-ws", "-f",
                                       f"{self.dir}/fastpush-ws.conf"])
            wait_port(self.ws_port, self.procs[-1])

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
    sse_extra = "heartbeat 1s\n"

    def describe(self):
        return super().describe() + " fastpush-sse with `heartbeat 1s` (default 15 s)."


class FastpushNginx(Fastpush):
    name = "fastpush-nginx"
    label = "fastpush (nginx)"
    front = "nginx"

    def start(self):
        self.start_core()
        self.port = free_port()
        conf = nginx_head(self.dir) + f"""
  server {{
    listen 127.0.0.1:{self.port} reuseport backlog=4096;
    location /events {{
      include /etc/nginx/fastcgi_params;
      fastcgi_pass unix:{self.sse_sock};
      fastcgi_buffering off;
      fastcgi_read_timeout 1h;
    }}
  }}
}}
"""
        self.write("nginx.conf", conf)
        self.spawn("nginx", ["nginx", "-p", self.dir + "/", "-c", f"{self.dir}/nginx.conf",
                             "-e", f"{self.dir}/nginx-error.log"])
        wait_port(self.port, self.procs[-1])

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
        self.start_core()
        self.port = free_port()
        children = math.ceil(self.conns / 500) + 1
        conf = f"""ServerRoot "{self.dir}"
ServerName localhost
Listen 127.0.0.1:{self.port}
PidFile {self.dir}/apache.pid
ErrorLog {self.dir}/apache-error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so
ServerLimit {children}
ThreadLimit 500
ThreadsPerChild 500
MaxRequestWorkers {children * 500}
StartServers {children}
MinSpareThreads 100
MaxSpareThreads {children * 500}
ThreadStackSize 262144
ListenBacklog 4096
Timeout 300
ProxyTimeout 300
ProxyPass "/events" "unix:{self.sse_sock}|fcgi://localhost/events" flushpackets=on
"""
        self.write("apache2.conf", conf)
        self.spawn("apache2", ["apache2", "-f", f"{self.dir}/apache2.conf", "-DFOREGROUND"])
        wait_port(self.port, self.procs[-1], timeout=30)

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
        self.port = free_port()
        conf = f"load_module {NCHAN_SO};\n" + nginx_head(self.dir) + f"""
  nchan_shared_memory_size 256M;
  server {{
    listen 127.0.0.1:{self.port} reuseport backlog=4096;
    location ~ ^/sub/(\\w+)$ {{              # SSE, WebSocket, long-poll
      nchan_subscriber;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
      nchan_eventsource_ping_interval 15;
    }}
    location ~ ^/ipoll/(\\w+)$ {{            # interval poll (304 when nothing new)
      nchan_subscriber intervalpoll;
      nchan_channel_id $1;
      nchan_subscriber_first_message newest;
    }}
    location ~ ^/pub/(\\w+)$ {{
      allow 127.0.0.1; deny all;
      nchan_publisher;
      nchan_channel_id $1;
      nchan_message_buffer_length 10;
      nchan_message_timeout 1h;
    }}
  }}
}}
"""
        self.write("nginx.conf", conf)
        self.spawn("nginx", ["nginx", "-p", self.dir + "/", "-c", f"{self.dir}/nginx.conf",
                             "-e", f"{self.dir}/nginx-error.log"])
        wait_port(self.port, self.procs[-1])

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
        self.port = free_port()
        self.bport = free_port()
        self.pull = free_port()
        self.http_pub = free_port()
        self.sub = free_port()
        self.cmd = free_port()
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
                                    str(self.bport), f"http://127.0.0.1:{self.http_pub}/publish/"])
        wait_port(self.bport, self.procs[-1])
        self.spawn("pushpin", ["pushpin", f"--config={self.dir}/pushpin.conf"])
        wait_port(self.port, self.procs[-1], timeout=30)
        wait_port(self.pull, self.procs[-1], timeout=30)
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
        self.port = free_port()
        src = os.path.join(HERE, "peers", "node_server.js")
        self.configs["node_server.js"] = "(bench/peers/node_server.js, unchanged)"
        self.spawn("node", ["node", src, str(self.port)], env={"NODE_PATH": NODE_PATH})
        wait_port(self.port, self.procs[-1])

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
