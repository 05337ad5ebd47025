"""Web servers in front of fastpush-sse and fastpush-poll, configured from
the files that ship in conf/, for the end-to-end tests.

    from servers import Stack
    with Env(t) as env:
        st = Stack(env, "nginx", broker={"history_count": 10}, sse={"heartbeat": "1s"})
        c = st.stream("/events/news")          # an sseclient.SseClient
        st.broker.publish("news", {"n": 1})
        st.stop()

        st = Stack(env, "lighttpd", sse=False, poll={"max_wait": "5s"})
        status, headers, body = st.request("/push/poll?channel=news")

A Stack is a broker, fastpush-sse (unless sse=False), fastpush-poll (when
poll is given: its directives) and one web server:

    lighttpd        conf/lighttpd-sse.conf, fastpush-sse on a unix socket;
                    conf/lighttpd-poll.conf, fastpush-poll on a unix socket
    lighttpd-spawn  conf/lighttpd-sse-spawn.conf, lighttpd starts fastpush-sse
                    (fastpush-poll as for lighttpd)
    apache          conf/apache-sse.conf and conf/apache-poll.conf
                    (mod_proxy_fcgi), unix sockets
    apache-fcgid    conf/apache-sse-fcgid.conf and conf/apache-poll-fcgid.conf,
                    mod_fcgid starts fastpush-sse and fastpush-poll
    nginx           conf/nginx-sse.conf and conf/nginx-poll.conf, unix sockets

What ships is what runs: render() takes a file from conf/ and replaces the
deployment paths in it (/run/fastpush/sse.sock, /usr/local/bin/fastpush-sse,
/etc/fastpush/sse.conf, their poll counterparts, the broker's
tcp://127.0.0.1:740x) with the test's own; a token that is missing fails the
test instead of quietly testing something else.  The servers' own main files are small shells around the
rendered snippet: an ephemeral port on 127.0.0.1, logs and run files in the
env's temp directory, Debian's module files (/etc/apache2/mods-available,
/etc/nginx/fastcgi_params).  Like the packaged services, the web servers
run their workers as www-data, and the responders run with group www-data
(as conf/fastpush-*.service do) so their 0660 sockets admit them.  Every
process is stopped by PID; processes a server started (spawned
fastpush-sse, Apache children) must be gone once it stopped.
"""
import os
import signal
import socket
import time

from harness import BIN, Proc, free_port, wait_for
from sseclient import SseClient, request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONF = os.path.join(ROOT, "conf")
WEB_GROUP = "www-data"

# the deployment paths in conf/ and what stands for them in a test
SOCK = "/run/fastpush/sse.sock"
SSE_BIN = "/usr/local/bin/fastpush-sse"
SSE_CONF = "/etc/fastpush/sse.conf"
POLL_SOCK = "/run/fastpush/poll.sock"
POLL_BIN = "/usr/local/bin/fastpush-poll"
POLL_CONF = "/etc/fastpush/poll.conf"


def render(name, subs):
    """conf/NAME with each key of subs replaced by its value."""
    with open(os.path.join(CONF, name)) as f:
        text = f.read()
    for token, value in subs.items():
        if token not in text:
            raise ValueError(f"conf/{name}: '{token}' not found; update the test with the file")
        text = text.replace(token, value)
    return text


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def responder_conf(name, sock, broker, path, listen, directives):
    """conf/NAME (a responder's file, its socket `sock`) for this broker and
    listen address, then the overrides in `directives`."""
    text = render(name, {
        f"listen {sock}": f'listen "{listen}"',
        "control tcp://127.0.0.1:7401": f"control {broker.control}",
        "fanout tcp://127.0.0.1:7402": f"fanout {broker.fanout}",
    })
    text += "\n# test overrides\n" + "".join(
        f"{k.replace('_', '-')} {v}\n" for k, v in directives.items())
    return write(path, text)


def sse_conf(env, broker, path, listen, directives):
    """conf/fastpush-sse.conf for this broker and socket, then overrides."""
    return responder_conf("fastpush-sse.conf", SOCK, broker, path, listen, directives)


def poll_conf(env, broker, path, listen, directives):
    """conf/fastpush-poll.conf for this broker and socket, then overrides."""
    return responder_conf("fastpush-poll.conf", POLL_SOCK, broker, path, listen, directives)


def _proc_tree(root):
    """PIDs of the live descendants of root (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        fields = st[st.rindex(")") + 2:].split()
        if fields[0] != "Z":
            kids.setdefault(int(fields[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except OSError:
        return False


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class WebServer(Proc):
    """A web server in the foreground on 127.0.0.1:port; ready once the
    port accepts connections."""

    def __init__(self, env, name, argv, port, logs=()):
        self.port = port
        self.logs = list(logs)
        super().__init__(env, name, argv)
        if not wait_for(lambda: self._listening() or not self.alive(), 15):
            raise RuntimeError(f"{name} does not listen on {port}:\n{self.read_log()}")
        if not self.alive():
            raise RuntimeError(f"{name} exited:\n{self.read_log()}")

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False

    def read_log(self):
        text = super().read_log()
        for p in self.logs:
            try:
                with open(p, "rb") as f:
                    text += f"\n--- {os.path.basename(p)} ---\n" + f.read().decode(errors="replace")
            except OSError:
                pass
        return text

    def spawned(self, name="fastpush-sse"):
        """PIDs of the processes below this server that run `name`."""
        return [p for p in _proc_tree(self.pid) if name in _cmdline(p)]

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        kids = _proc_tree(self.pid) if self.alive() else []
        rc = super().stop(sig, timeout)
        if not wait_for(lambda: not any(alive(k) for k in kids), 5):
            for k in kids:
                if alive(k):
                    self.env.problems.append(f"{self.name}: left running: {k} {_cmdline(k)}")
                    os.kill(k, signal.SIGKILL)
        return rc


class Lighttpd(WebServer):
    def __init__(self, env, snippet, name="lighttpd"):
        port = free_port()
        d = env.path(name)
        os.makedirs(os.path.join(d, "www"), exist_ok=True)
        errlog = os.path.join(d, "error.log")
        main = write(os.path.join(d, "lighttpd.conf"), f"""\
server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{errlog}"
server.upload-dirs = ( "{d}" )
include "{snippet}"
""")
        super().__init__(env, name, ["lighttpd", "-D", "-f", main], port, [errlog])

    def _clients(self):
        """Client connections lighttpd still holds on its port
        (ESTABLISHED, or CLOSE_WAIT: closed by the client, not yet read)."""
        with open("/proc/net/tcp") as f:
            rows = [line.split() for line in f.readlines()[1:]]
        return sum(1 for r in rows if int(r[1].split(":")[1], 16) == self.port
                   and r[3] in ("01", "08"))

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """lighttpd 1.4.69 exits 1 when a client connection is left at
        SIGTERM, even one the client has just closed: give it a moment
        to see those closes first."""
        if self.alive():
            wait_for(lambda: self._clients() == 0, 3, 0.05)
        return super().stop(sig, timeout)


class Apache(WebServer):
    MODS = "/etc/apache2/mods-available"

    def __init__(self, env, snippet, modules, extra="", name="apache"):
        port = free_port()
        d = env.path(name)
        os.makedirs(d, exist_ok=True)
        errlog = os.path.join(d, "error.log")
        loads = "".join(f"Include {self.MODS}/{m}.load\n" for m in ["mpm_event", "authz_core"] + modules)
        main = write(os.path.join(d, "apache2.conf"), f"""\
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile "{d}/apache2.pid"
DefaultRuntimeDir "{d}"
ErrorLog "{errlog}"
LogLevel warn
User {WEB_GROUP}
Group {WEB_GROUP}
{loads}
<IfModule mpm_event_module>
    StartServers 1
    ServerLimit 2
    ThreadsPerChild 32
    MaxRequestWorkers 64
    MinSpareThreads 8
    MaxSpareThreads 64
</IfModule>
{extra}
Include "{snippet}"
""")
        super().__init__(env, name, ["apache2", "-DFOREGROUND", "-f", main], port, [errlog])


class Nginx(WebServer):
    def __init__(self, env, snippet, name="nginx"):
        port = free_port()
        d = env.path(name)
        os.makedirs(d, exist_ok=True)
        errlog = os.path.join(d, "error.log")
        temps = "".join(f"    {k}_temp_path {d}/{k};\n"
                        for k in ("client_body", "fastcgi", "proxy", "scgi", "uwsgi"))
        main = write(os.path.join(d, "nginx.conf"), f"""\
daemon off;
user {WEB_GROUP} {WEB_GROUP};
worker_processes 1;
pid {d}/nginx.pid;
error_log {errlog} notice;
events {{ worker_connections 1024; }}
http {{
    access_log off;
{temps}    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
        include {snippet};
    }}
}}
""")
        super().__init__(env, name, ["nginx", "-e", errlog, "-p", d, "-c", main], port, [errlog])


SERVERS = ("lighttpd", "lighttpd-spawn", "apache", "apache-fcgid", "nginx")


class Stack:
    """A broker, fastpush-sse and/or fastpush-poll, and a web server in
    front of them."""

    SPAWNS_SSE = ("lighttpd-spawn", "apache-fcgid")
    SPAWNS_POLL = ("apache-fcgid",)

    def __init__(self, env, server, broker=None, sse=None, name=None, poll=None):
        """broker: directives for a new broker, or a broker to use.
        sse: fastpush-sse's directives, or False for none.
        poll: fastpush-poll's directives, or None for none."""
        assert server in SERVERS, server
        assert sse is not False or poll is not None, "a stack needs a responder"
        self.env, self.kind = env, server
        self.name = name or server
        os.chmod(env.dir, 0o755)            # the web server's user reaches the socket
        if broker is None or isinstance(broker, dict):
            bd = dict(broker or {})
            if server == "apache-fcgid":    # the responders run as www-data: no ipc://
                ports = [free_port() for _ in range(3)]
                bd.update({k: f"tcp://127.0.0.1:{p}"
                           for k, p in zip(("ingest", "control", "fanout"), ports)})
            self.broker = env.broker(f"{self.name}-broker", **bd)
        else:
            self.broker = broker            # anything with .control and .fanout
        self.sse = self.poll = None
        self.sock = self.poll_sock = self.sse_conf = self.poll_conf = None
        if sse is not False:
            self.sock = env.path(f"{self.name}-sse.sock")
            self.sse_conf, self.sse = self._responder(
                "fastpush-sse", sse_conf, self.sock, sse or {}, server in self.SPAWNS_SSE)
        if poll is not None:
            self.poll_sock = env.path(f"{self.name}-poll.sock")
            self.poll_conf, self.poll = self._responder(
                "fastpush-poll", poll_conf, self.poll_sock, poll, server in self.SPAWNS_POLL)
        self.server = self._server(server)
        env.procs.append(self.server)
        self.port = self.server.port

    def _responder(self, prog, make_conf, sock, directives, spawned):
        """Write its configuration; start it unless the web server will:
        (conf path, Proc or None)."""
        short = prog.split("-")[1]
        conf = make_conf(self.env, self.broker, self.env.path(f"{self.name}-{short}.conf"),
                         "" if spawned else sock, directives)
        if spawned:
            return conf, None
        p = Proc(self.env, f"{self.name}-{short}", [os.path.join(BIN, prog), "-f", conf],
                 ready_fd=True, group=WEB_GROUP)
        self.env.procs.append(p)
        return conf, p

    def _snippet(self, kind):
        """The rendered conf/ files of this stack's responders, as one."""
        sse_bin, poll_bin = os.path.join(BIN, "fastpush-sse"), os.path.join(BIN, "fastpush-poll")
        parts = []
        if self.sse_conf:
            if kind == "lighttpd-spawn":
                parts.append(render("lighttpd-sse-spawn.conf", {
                    "/run/lighttpd/fastpush-sse.sock": self.sock,
                    SSE_BIN: sse_bin, SSE_CONF: self.sse_conf}))
            elif kind == "apache-fcgid":
                parts.append(render("apache-sse-fcgid.conf",
                                    {SSE_BIN: sse_bin, SSE_CONF: self.sse_conf}))
            else:
                f = {"lighttpd": "lighttpd-sse.conf", "apache": "apache-sse.conf",
                     "nginx": "nginx-sse.conf"}[kind]
                parts.append(render(f, {SOCK: self.sock}))
        if self.poll_conf:
            if kind == "apache-fcgid":
                parts.append(render("apache-poll-fcgid.conf",
                                    {POLL_BIN: poll_bin, POLL_CONF: self.poll_conf}))
            else:
                f = {"lighttpd": "lighttpd-poll.conf", "lighttpd-spawn": "lighttpd-poll.conf",
                     "apache": "apache-poll.conf", "nginx": "nginx-poll.conf"}[kind]
                parts.append(render(f, {POLL_SOCK: self.poll_sock}))
        return write(self.env.path(f"{self.name}-snippet.conf"), "\n".join(parts))

    def _server(self, kind):
        env, n = self.env, self.name
        snip = self._snippet(kind)
        if kind in ("lighttpd", "lighttpd-spawn"):
            return Lighttpd(env, snip, n)
        if kind == "apache":
            return Apache(env, snip, ["proxy", "proxy_fcgi"], name=n)
        if kind == "apache-fcgid":
            d = env.path(f"{n}-fcgid")
            os.makedirs(d, exist_ok=True)
            os.chown(d, *_web_ids())
            extra = f'FcgidIPCDir "{d}"\nFcgidProcessTableFile "{d}/shm"\n'
            return Apache(env, snip, ["fcgid"], extra, name=n)
        return Nginx(env, snip, n)

    # ------------------------------------------------------------ clients
    def stream(self, path, **kw):
        return SseClient(self.port, path, **kw)

    def request(self, path, **kw):
        return request(self.port, path, **kw)

    # ------------------------------------------------------------ stats
    def reports(self, transport="sse"):
        """The REPORTs of one kind of responder the broker holds:
        [{"pid", "stats"...}]."""
        st, meta, _ = self.broker.request("STATS")
        return [r for r in meta.get("responders", []) if r.get("transport") == transport]

    def stats(self, transport="sse"):
        """Counters of this stack's fastpush-sse, or fastpush-poll with
        transport="poll" (summed over its processes)."""
        total = {}
        for r in self.reports(transport):
            for k, v in r["stats"].items():
                if isinstance(v, bool):
                    total[k] = total.get(k, False) or v
                elif isinstance(v, int):
                    total[k] = total.get(k, 0) + v
        return total

    def wait_stats(self, cond, timeout=15.0, transport="sse"):
        """Poll the reports (sent every 5 s) until cond(stats); the last stats."""
        end = time.monotonic() + timeout
        while True:
            st = self.stats(transport)
            if (st and cond(st)) or time.monotonic() > end:
                return st
            time.sleep(0.25)

    def stop(self):
        """Stop the responders (streams end properly, long-polls are
        answered), the web server and the broker; exit statuses other than
        0 are problems of the env.  (lighttpd 1.4.69 exits 1 when stopped
        with a request in flight.)"""
        for p in (self.sse, self.poll, self.server, self.broker):
            if p is not None and not p.stopped:
                rc = p.stop()
                if rc not in (0, None):
                    self.env.problems.append(f"{p.name} exited with status {rc}")


def _web_ids():
    import grp
    import pwd
    return pwd.getpwnam(WEB_GROUP).pw_uid, grp.getgrnam(WEB_GROUP).gr_gid
