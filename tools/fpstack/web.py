"""Web servers in the foreground on 127.0.0.1 (an ephemeral port unless
given), their main files written around a snippet, logs and run files in
the run's directory; ready once the port accepts.

    Lighttpd(run, snippet, name, settings="")          lighttpd -D
    Apache(run, snippet, modules, extra="", name, mpm=None)   apache2 -DFOREGROUND
    Nginx(run, snippet, name, workers=1, connections=1024, head="", http="",
          listen_opts="")                              nginx, daemon off

Like the packaged services, Apache and nginx run their workers as
www-data.  stop() waits for what the server started (fastpush-sse spawned
by lighttpd or mod_fcgid, Apache children) to be gone; one left running
is killed and is a problem of the run.  origin_lighttpd_conf() is the one
origin of `make demo` and the browser tests (dashboard, /js/, /events,
/push, /ws).
"""
import os
import shutil
import signal

from .conf import write
from .proc import ROOT, Proc, alive, cmdline, free_port, proc_tree, read_text, wait_for

WEB_GROUP = "www-data"
JS_DIR = os.path.join(ROOT, "clients", "js")
WEB_DIR = os.path.join(ROOT, "web")

# /usr/sbin is not on every user's PATH
LIGHTTPD = shutil.which("lighttpd") or next(
    (p for p in ("/usr/sbin/lighttpd",) if os.access(p, os.X_OK)), None)


def web_ids():
    """(uid, gid) of the web servers' user."""
    import grp
    import pwd
    return pwd.getpwnam(WEB_GROUP).pw_uid, grp.getgrnam(WEB_GROUP).gr_gid


class WebServer(Proc):
    """A web server started from its main file; `logs` are more files
    read_log() shows."""

    def __init__(self, run, name, argv, port, logs=(), timeout=15.0):
        self.logs = list(logs)
        super().__init__(run, name, argv, port=port, timeout=timeout)

    def read_log(self):
        text = super().read_log()
        for p in self.logs:
            if os.path.exists(p):
                text += f"\n--- {os.path.basename(p)} ---\n" + read_text(p)
        return text

    def spawned(self, name="fastpush-sse"):
        """PIDs of the processes below this server that run `name`."""
        return [p for p in proc_tree(self.pid) if name in cmdline(p)]

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        kids = proc_tree(self.pid) if self.alive() else []
        rc = super().stop(sig, timeout)
        if not wait_for(lambda: not any(alive(k) for k in kids), 5):
            for k in kids:
                if alive(k):
                    self.run.problems.append(f"{self.name}: left running: {k} {cmdline(k)}")
                    os.kill(k, signal.SIGKILL)
        return rc


class Lighttpd(WebServer):
    """settings: more lines for the main file (server.max-fds ...)."""

    def __init__(self, run, snippet, name="lighttpd", settings="", port=None):
        self.port = port or free_port()
        d = run.path(name)
        os.makedirs(os.path.join(d, "www"), exist_ok=True)
        errlog = os.path.join(d, "error.log")
        self.conf_path = write(os.path.join(d, "lighttpd.conf"), f"""\
server.document-root = "{d}/www"
server.bind = "127.0.0.1"
server.port = {self.port}
server.errorlog = "{errlog}"
server.pid-file = "{d}/lighttpd.pid"
server.upload-dirs = ( "{d}" )
{settings}include "{snippet}"
""")
        super().__init__(run, name, [LIGHTTPD or "lighttpd", "-D", "-f", self.conf_path],
                         self.port, [errlog])

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
        if self.alive() and sig is not None:
            wait_for(lambda: self._clients() == 0, 3, 0.05)
        return super().stop(sig, timeout)


class Origin(WebServer):
    """lighttpd with the demo's one-origin config (origin_lighttpd_conf);
    kw as for origin_lighttpd_conf."""

    def __init__(self, run, stack, docroot, name="lighttpd", port=None, **kw):
        self.port = port or free_port()
        errlog = run.path(f"{name}-error.log")
        self.conf_path = write(run.path(f"{name}.conf"), origin_lighttpd_conf(
            run.dir, stack, self.port, docroot, name=name, **kw))
        super().__init__(run, name, [LIGHTTPD or "lighttpd", "-D", "-f", self.conf_path],
                         self.port, [errlog])


class Apache(WebServer):
    """modules: mods-available names beyond mpm_event and authz_core;
    mpm: the event MPM's settings (a small default); extra: more lines."""
    MODS = "/etc/apache2/mods-available"
    MPM = """StartServers 1
ServerLimit 2
ThreadsPerChild 32
MaxRequestWorkers 64
MinSpareThreads 8
MaxSpareThreads 64"""

    def __init__(self, run, snippet, modules, extra="", name="apache", mpm=None, timeout=15.0):
        self.port = free_port()
        d = run.path(name)
        os.makedirs(d, exist_ok=True)
        errlog = os.path.join(d, "error.log")
        loads = "".join(f"Include {self.MODS}/{m}.load\n"
                        for m in ["mpm_event", "authz_core"] + modules)
        mpm = (mpm or self.MPM).replace("\n", "\n    ")
        self.conf_path = write(os.path.join(d, "apache2.conf"), f"""\
ServerRoot "{d}"
ServerName 127.0.0.1
Listen 127.0.0.1:{self.port}
PidFile "{d}/apache2.pid"
DefaultRuntimeDir "{d}"
ErrorLog "{errlog}"
LogLevel warn
User {WEB_GROUP}
Group {WEB_GROUP}
{loads}
<IfModule mpm_event_module>
    {mpm}
</IfModule>
{extra}
Include "{snippet}"
""")
        super().__init__(run, name, ["apache2", "-DFOREGROUND", "-f", self.conf_path],
                         self.port, [errlog], timeout)


class Nginx(WebServer):
    """snippet: the server block's contents.  head: main-context lines
    (load_module, worker_rlimit_nofile); http: http-context lines;
    listen_opts: after the listen address (reuseport backlog=N)."""

    def __init__(self, run, snippet, name="nginx", workers=1, connections=1024, head="",
                 http="", listen_opts=""):
        self.port = free_port()
        d = run.path(name)
        os.makedirs(d, exist_ok=True)
        errlog = os.path.join(d, "error.log")
        temps = "".join(f"    {k}_temp_path {d}/{k};\n"
                        for k in ("client_body", "fastcgi", "proxy", "scgi", "uwsgi"))
        listen = f"127.0.0.1:{self.port}" + (f" {listen_opts}" if listen_opts else "")
        self.conf_path = write(os.path.join(d, "nginx.conf"), f"""\
{head}daemon off;
user {WEB_GROUP} {WEB_GROUP};
worker_processes {workers};
pid {d}/nginx.pid;
error_log {errlog} notice;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
{temps}{http}    server {{
        listen {listen};
        server_name localhost;
        include {snippet};
    }}
}}
""")
        super().__init__(run, name, ["nginx", "-e", errlog, "-p", d, "-c", self.conf_path],
                         self.port, [errlog])


# ------------------------------------------------------------ one origin

MIME = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
        ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
        ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
        ".json": "application/json", ".ts": "text/plain; charset=utf-8",
        ".md": "text/plain; charset=utf-8", ".php": "text/plain; charset=utf-8",
        ".txt": "text/plain; charset=utf-8"}


def origin_lighttpd_conf(run_dir, stack, port, docroot, host="127.0.0.1", buffered_sse=False,
                         name="lighttpd", aliases=None, extra=""):
    """lighttpd.conf text serving docroot, /js/ (clients/js) and the
    stack's responders (.sock, .poll_sock) and bridge (.ws_port) on one
    origin.  buffered_sse: leave /events buffered (the default of
    lighttpd), as a misconfigured server would.  aliases: more URL -> path
    pairs; extra: more config text."""
    mime = ",\n    ".join(f'"{k}" => "{v}"' for k, v in MIME.items())
    stream = 0 if buffered_sse else 2
    alias = ", ".join(f'"{k}" => "{v}"' for k, v in
                      dict({"/js/": JS_DIR + "/"}, **(aliases or {})).items())
    return f"""# generated by tools/fpstack/web.py
server.modules += ( "mod_alias", "mod_fastcgi", "mod_proxy", "mod_setenv" )
server.document-root = "{docroot}"
server.bind = "{host}"
server.port = {port}
server.errorlog = "{run_dir}/{name}-error.log"
server.pid-file = "{run_dir}/{name}.pid"
server.max-write-idle = 360
index-file.names = ( "index.html" )
mimetype.assign = (
    {mime}
)
alias.url = ( {alias} )
$HTTP["url"] =~ "^/js/" {{
    setenv.add-response-header = ( "Cache-Control" => "no-cache" )
}}

# Server-Sent Events: stream each event as it comes (the default, 0,
# buffers the whole response, which never ends)
$HTTP["url"] =~ "^/events(/|\\?|$)" {{
    server.stream-response-body = {stream}
    fastcgi.server = ( "/events" => ( (
        "socket" => "{stack.sock}", "check-local" => "disable" ) ) )
}}
# polls, long-polls, publish, stats, metrics
$HTTP["url"] =~ "^/push/" {{
    fastcgi.server = ( "/push" => ( (
        "socket" => "{stack.poll_sock}", "check-local" => "disable" ) ) )
}}
# WebSocket: lighttpd hands the upgraded connection to fastpush-ws
$HTTP["url"] =~ "^/ws($|\\?)" {{
    proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {stack.ws_port} ) ) )
    proxy.header = ( "upgrade" => "enable" )
}}
{extra}"""
