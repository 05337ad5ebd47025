"""The whole fastpush system behind lighttpd, as command lines and configs.

Shared by the demo (tools/demo.py) and the browser tests
(tests/e2e/test_browser_*.py), which start and stop the processes
themselves.  One origin serves everything:

    /            the files of `docroot` (the demo dashboard, web/)
    /js/         clients/js (the browser client)
    /events/...  fastpush-sse   (FastCGI, streamed: stream-response-body 2)
    /push/...    fastpush-poll  (FastCGI: poll, state, publish, stats, metrics)
    /ws          fastpush-ws    (mod_proxy with the upgrade passed through)

Usage:

    s = Stack(bin_dir, run_dir)           # sockets and configs in run_dir
    argv = s.broker_argv(store="var/store")
    argv = s.sse_argv(); s.poll_argv(secret="x"); s.ws_argv(port)
    s.write_lighttpd(port, docroot, ws_port)  # -> path of lighttpd.conf
"""
import os
import shutil
import socket
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JS_DIR = os.path.join(ROOT, "clients", "js")
WEB_DIR = os.path.join(ROOT, "web")

# /usr/sbin is not on every user's PATH
LIGHTTPD = shutil.which("lighttpd") or next(
    (p for p in ("/usr/sbin/lighttpd",) if os.access(p, os.X_OK)), None)

MIME = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
        ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
        ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon",
        ".json": "application/json", ".ts": "text/plain; charset=utf-8",
        ".md": "text/plain; charset=utf-8", ".php": "text/plain; charset=utf-8",
        ".txt": "text/plain; charset=utf-8"}


def free_port(host="127.0.0.1", prefer=None):
    """`prefer` if it can be bound on host, else a port the kernel picks."""
    for p in ([prefer] if prefer else []) + [0]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, p))
            return s.getsockname()[1]
        except OSError:
            continue
        finally:
            s.close()
    raise OSError("no free port")


def wait_port(port, alive=lambda: True, timeout=10.0, host="127.0.0.1"):
    """True once something accepts on host:port (False if `alive()` turns
    false or the time runs out)."""
    end = time.time() + timeout
    while time.time() < end:
        if not alive():
            return False
        try:
            socket.create_connection((host, port), 0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def _directives(d):
    argv = []
    for k, v in d.items():
        for item in (v if isinstance(v, list) else [v]):
            argv += [f"--{k}", str(item)]
    return argv


class Stack:
    """Command lines and the lighttpd config of one system in run_dir."""

    def __init__(self, bin_dir, run_dir, endpoints=None):
        self.bin = os.path.abspath(bin_dir)
        self.dir = os.path.abspath(run_dir)
        os.makedirs(self.dir, exist_ok=True)
        eps = endpoints or {n: f"ipc://{self.dir}/{n}" for n in ("ingest", "control", "fanout")}
        self.ingest, self.control, self.fanout = eps["ingest"], eps["control"], eps["fanout"]
        self.sse_sock = os.path.join(self.dir, "sse.sock")
        self.poll_sock = os.path.join(self.dir, "poll.sock")

    def _prog(self, name, directives):
        return [os.path.join(self.bin, name)] + _directives(directives)

    def _client(self, **extra):
        d = {"control": self.control, "fanout": self.fanout}
        d.update({k.replace("_", "-"): v for k, v in extra.items()})
        return d

    def broker_argv(self, store=None, **extra):
        d = {"ingest": self.ingest, "control": self.control, "fanout": self.fanout}
        if store:
            d["store"] = store
        d.update({k.replace("_", "-"): v for k, v in extra.items()})
        return self._prog("fastpush-broker", d)

    def sse_argv(self, **extra):
        return self._prog("fastpush-sse", self._client(listen=self.sse_sock, prefix="/events",
                                                       **extra))

    def poll_argv(self, secret=None, **extra):
        if secret:
            extra["publish_secret"] = secret
        return self._prog("fastpush-poll", self._client(listen=self.poll_sock, prefix="/push",
                                                        **extra))

    def ws_argv(self, port, **extra):
        return self._prog("fastpush-ws", self._client(listen=f"127.0.0.1:{port}", **extra))

    def env(self):
        """Environment variables that point the CLI and the publishers here."""
        return {"FASTPUSH_CONTROL": self.control, "FASTPUSH_FANOUT": self.fanout,
                "FASTPUSH_INGEST": self.ingest}

    def lighttpd_conf(self, port, docroot, ws_port, host="127.0.0.1", buffered_sse=False,
                      name="lighttpd", aliases=None, extra=""):
        """lighttpd.conf text.  buffered_sse: leave /events buffered (the
        default of lighttpd), as a misconfigured server would.  aliases:
        more URL -> path pairs; extra: more config text."""
        mime = ",\n    ".join(f'"{k}" => "{v}"' for k, v in MIME.items())
        stream = 0 if buffered_sse else 2
        alias = ", ".join(f'"{k}" => "{v}"' for k, v in
                          dict({"/js/": JS_DIR + "/"}, **(aliases or {})).items())
        return f"""# generated by tools/fpstack.py
server.modules += ( "mod_alias", "mod_fastcgi", "mod_proxy", "mod_setenv" )
server.document-root = "{docroot}"
server.bind = "{host}"
server.port = {port}
server.errorlog = "{self.dir}/{name}-error.log"
server.pid-file = "{self.dir}/{name}.pid"
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
        "socket" => "{self.sse_sock}", "check-local" => "disable" ) ) )
}}
# polls, long-polls, publish, stats, metrics
$HTTP["url"] =~ "^/push/" {{
    fastcgi.server = ( "/push" => ( (
        "socket" => "{self.poll_sock}", "check-local" => "disable" ) ) )
}}
# WebSocket: lighttpd hands the upgraded connection to fastpush-ws
$HTTP["url"] =~ "^/ws($|\\?)" {{
    proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {ws_port} ) ) )
    proxy.header = ( "upgrade" => "enable" )
}}
{extra}"""

    def write_lighttpd(self, port, docroot, ws_port, name="lighttpd", **kw):
        path = os.path.join(self.dir, f"{name}.conf")
        with open(path, "w") as f:
            f.write(self.lighttpd_conf(port, docroot, ws_port, name=name, **kw))
        return path
