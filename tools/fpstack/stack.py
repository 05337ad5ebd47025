"""The fastpush stack of a run: broker, responders, bridge, web server.

    st = Stack(run, "nginx", broker={"history_count": 10}, sse={"heartbeat": "1s"})
    st = Stack(run, "lighttpd", sse=False, poll={"max_wait": "5s"})
    st = Stack(run, "origin", broker={...}, sse={...}, poll={...}, ws={...},
               origin={"docroot": d}, template=False)        # make demo
    st.broker.publish("news", {"n": 1}); st.port; st.stop()

A Stack is a broker (a new one, or one given), fastpush-sse (unless
sse=False), fastpush-poll (when poll is given: its directives),
fastpush-ws (when ws is given) and one web server:

    lighttpd        conf/lighttpd-sse.conf, fastpush-sse on a unix socket;
                    conf/lighttpd-poll.conf, fastpush-poll on a unix socket
    lighttpd-spawn  conf/lighttpd-sse-spawn.conf, lighttpd starts fastpush-sse
                    (fastpush-poll as for lighttpd)
    apache          conf/apache-sse.conf and conf/apache-poll.conf
                    (mod_proxy_fcgi), unix sockets
    apache-fcgid    conf/apache-sse-fcgid.conf and conf/apache-poll-fcgid.conf,
                    mod_fcgid starts fastpush-sse and fastpush-poll
    nginx           conf/nginx-sse.conf and conf/nginx-poll.conf, unix sockets
    origin          lighttpd serving a docroot, /js/, /events, /push and /ws
                    on one origin (web.origin_lighttpd_conf): make demo and
                    the browser tests

The responders' configs are conf/fastpush-sse.conf and
conf/fastpush-poll.conf with the stack's sockets and broker and the given
directives appended (template=False: the directives alone).  In front of
Apache or nginx the responders run with group www-data (as
conf/fastpush-*.service do) so their 0660 sockets admit the workers
(when the launcher runs as root; else with the caller's group).
server_opts are more keyword arguments for the web server's class
(tuning: Lighttpd settings, Nginx workers, Apache mpm...).
"""
import json
import os
import signal
import subprocess
import time

from . import web
from .conf import POLL_BIN, POLL_CONF, POLL_SOCK, SOCK, SSE_BIN, SSE_CONF, render, \
    responder_conf, write
from .proc import SLOW, Proc, free_port


class Broker(Proc):
    """fastpush-broker on ipc:// endpoints in the run's directory, from a
    config file of its directives (keyword arguments; endpoints given as
    directives, e.g. tcp://, are the ones used).  preexec_fn (optional)
    runs in the child before exec, at every start (it is in .popen, as
    the other Popen arguments of a Proc)."""

    def __init__(self, run, name="broker", preexec_fn=None, **directives):
        d = run.path(name)
        os.makedirs(d, exist_ok=True)
        base = {k: f"ipc://{d}/{k}" for k in ("ingest", "control", "fanout")}
        base.update({k.replace("_", "-"): str(v) for k, v in directives.items()})
        self.ingest, self.control, self.fanout = base["ingest"], base["control"], base["fanout"]
        self.directives = {}
        self.conf_path = run.path(f"{name}.conf")
        self.set_directives(**base)
        self._req = None
        popen = {"preexec_fn": preexec_fn} if preexec_fn else {}
        super().__init__(run, name, [run.prog("fastpush-broker"), "-f", self.conf_path],
                         ready_fd=True, **popen)

    def set_directives(self, **directives):
        """Rewrite the config file; the next restart() reads it."""
        self.directives.update({k.replace("_", "-"): str(v) for k, v in directives.items()})
        write(self.conf_path, "".join(f"{k} {v}\n" for k, v in self.directives.items()))

    def restart(self, sig=signal.SIGTERM):
        """Stop (SIGTERM, or e.g. SIGKILL for a crash) and start again."""
        self.stop(sig)
        if self._req is not None:
            self._req.close()
            self._req = None
        self.start()

    def env(self):
        """Environment variables that point the CLI and the publishers here."""
        return {"FASTPUSH_CONTROL": self.control, "FASTPUSH_FANOUT": self.fanout,
                "FASTPUSH_INGEST": self.ingest}

    # ------------------------------------------------------------ clients
    def request(self, cmd, body=None, timeout=5.0, raw_frames=None):
        """Send COMMAND [body] on a DEALER; return (status, meta, events)."""
        import zmq
        if self._req is None:
            self._req = self.run.ctx.socket(zmq.DEALER)
            self._req.setsockopt(zmq.LINGER, 0)
            self._req.connect(self.control)
        frames = raw_frames if raw_frames is not None else \
            [cmd.encode()] + ([json.dumps(body).encode()] if body is not None else [])
        self._req.send_multipart(frames)
        if not self._req.poll(int(timeout * SLOW * 1000)):
            self._req.close()
            self._req = None
            raise TimeoutError(f"no reply to {cmd}")
        r = self._req.recv_multipart()
        return r[0].decode(), json.loads(r[1]), \
            [json.loads(line) for f in r[2:] for line in f.split(b"\n") if line]

    def publish(self, channel, data, **kw):
        body = {"channel": channel, "data": data}
        body.update(kw)
        st, meta, _ = self.request("PUBLISH", body)
        if st != "OK":
            raise RuntimeError(f"publish refused: {meta}")
        return meta

    def subscriber(self, *channels, heartbeat=False):
        import zmq
        s = self.run.ctx.socket(zmq.SUB)
        s.setsockopt(zmq.LINGER, 0)
        s.setsockopt(zmq.RCVHWM, 0)
        for c in channels:
            s.setsockopt(zmq.SUBSCRIBE, c.encode() + b"\0")
        if heartbeat:
            s.setsockopt(zmq.SUBSCRIBE, b"\0")
        s.connect(self.fanout)
        return s

    def cli(self, *args, input=None, timeout=10):
        """Run the fastpush CLI against this broker."""
        argv = [self.run.prog("fastpush"), "--control", self.control, "--fanout",
                self.fanout, "--ingest", self.ingest] + list(args)
        return subprocess.run(argv, input=input, capture_output=True, timeout=timeout * SLOW)


class Peers:
    """Several brokers as the one broker of a Stack or start_ws: .control
    and .fanout list each broker's endpoint, comma-separated, in the
    order given (a responder's own broker first); request() (Stack.stats)
    goes to the first.  Stack.stop leaves them running."""

    def __init__(self, *brokers):
        self.brokers = brokers
        self.control = ",".join(b.control for b in brokers)
        self.fanout = ",".join(b.fanout for b in brokers)

    def request(self, *args, **kw):
        return self.brokers[0].request(*args, **kw)


def start_ws(run, name="ws", broker=None, port=None, ready=True, **directives):
    """fastpush-ws on 127.0.0.1:port (a free one by default) from a config
    file of its directives (a list value repeats the directive), connected
    to broker when given; returns the Proc with .port, .url, .conf_path."""
    from .conf import directives as lines
    port = port or free_port()
    d = {"listen": f"127.0.0.1:{port}"}
    if broker is not None:
        d["fanout"] = broker.fanout
        d["control"] = broker.control
    d.update({k.replace("_", "-"): v for k, v in directives.items()})
    conf = write(run.path(f"{name}.conf"), lines(d))
    p = run.start(name, [run.prog("fastpush-ws"), "-f", conf], ready_fd=ready)
    p.port, p.url, p.conf_path = port, f"ws://127.0.0.1:{port}/ws", conf
    return p


SERVERS = ("lighttpd", "lighttpd-spawn", "apache", "apache-fcgid", "nginx", "origin")


class Stack:
    """A broker, fastpush-sse and/or fastpush-poll, maybe fastpush-ws, and
    a web server in front of them."""

    SPAWNS_SSE = ("lighttpd-spawn", "apache-fcgid")
    SPAWNS_POLL = ("apache-fcgid",)

    def __init__(self, run, server, broker=None, sse=None, name=None, poll=None, ws=None,
                 origin=None, template=True, server_opts=None):
        """broker: directives for a new broker, or a broker to use (or
        Peers: several).
        sse: fastpush-sse's directives, or False for none.
        poll: fastpush-poll's directives, or None for none.
        ws: fastpush-ws's directives, or None for none.
        origin: for server "origin", Origin's arguments (docroot, port,
        host, aliases, extra).  template: responder configs from conf/."""
        assert server in SERVERS, server
        assert sse is not False or poll is not None, "a stack needs a responder"
        self.run, self.kind = run, server
        self.name = name or server
        self.template = template
        self.group = web.WEB_GROUP if os.geteuid() == 0 else None
        os.chmod(run.dir, 0o755)            # the web server's user reaches the socket
        if broker is None or isinstance(broker, dict):
            bd = dict(broker or {})
            if server == "apache-fcgid":    # the responders run as www-data: no ipc://
                ports = [free_port() for _ in range(3)]
                bd.update({k: f"tcp://127.0.0.1:{p}"
                           for k, p in zip(("ingest", "control", "fanout"), ports)})
            self.broker = run.broker(f"{self.name}-broker", **bd)
        else:
            self.broker = broker            # anything with .control and .fanout
        self.sse = self.poll = self.ws = None
        self.mercure = bool(sse and sse.get("mercure_path"))
        self.sock = self.poll_sock = self.sse_conf = self.poll_conf = self.ws_port = None
        if sse is not False:
            self.sock = run.path(f"{self.name}-sse.sock")
            self.sse_conf, self.sse = self._responder("sse", self.sock, sse or {},
                                                      server in self.SPAWNS_SSE)
        if poll is not None:
            self.poll_sock = run.path(f"{self.name}-poll.sock")
            self.poll_conf, self.poll = self._responder("poll", self.poll_sock, poll,
                                                        server in self.SPAWNS_POLL)
        if ws is not None:
            self.ws = start_ws(run, f"{self.name}-ws", self.broker, **ws)
            self.ws_port = self.ws.port
        self.snippet = None
        self.server = run.add(self._server(server, origin or {}, server_opts or {}))
        self.port = self.server.port

    def _responder(self, kind, sock, directives, spawned):
        """Write its configuration; start it unless the web server will:
        (conf path, Proc or None)."""
        conf = responder_conf(kind, self.run.path(f"{self.name}-{kind}.conf"), self.broker,
                              "" if spawned else sock, directives, self.template)
        if spawned:
            return conf, None
        popen = {"group": self.group} if self.group else {}
        p = self.run.start(f"{self.name}-{kind}", [self.run.prog(f"fastpush-{kind}"), "-f", conf],
                           ready_fd=True, **popen)
        p.conf_path = conf
        return conf, p

    def _snippet(self, kind):
        """The rendered conf/ files of this stack's responders, as one."""
        sse_bin, poll_bin = self.run.prog("fastpush-sse"), self.run.prog("fastpush-poll")
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
                if self.mercure:
                    parts.append(render(f.replace("-sse", "-mercure"), {SOCK: self.sock}))
        if self.poll_conf:
            if kind == "apache-fcgid":
                parts.append(render("apache-poll-fcgid.conf",
                                    {POLL_BIN: poll_bin, POLL_CONF: self.poll_conf}))
            else:
                f = {"lighttpd": "lighttpd-poll.conf", "lighttpd-spawn": "lighttpd-poll.conf",
                     "apache": "apache-poll.conf", "nginx": "nginx-poll.conf"}[kind]
                parts.append(render(f, {POLL_SOCK: self.poll_sock}))
        return write(self.run.path(f"{self.name}-snippet.conf"), "\n".join(parts))

    def _server(self, kind, origin, opts):
        run, n = self.run, self.name
        if kind == "origin":
            return web.Origin(run, self, name=n, **origin, **opts)
        self.snippet = snip = self._snippet(kind)
        if kind in ("lighttpd", "lighttpd-spawn"):
            return web.Lighttpd(run, snip, n, **opts)
        if kind == "apache":
            return web.Apache(run, snip, ["proxy", "proxy_fcgi"], name=n, **opts)
        if kind == "apache-fcgid":
            d = run.path(f"{n}-fcgid")
            os.makedirs(d, exist_ok=True)
            os.chown(d, *web.web_ids())
            extra = f'FcgidIPCDir "{d}"\nFcgidProcessTableFile "{d}/shm"\n'
            return web.Apache(run, snip, ["fcgid"], extra, name=n, **opts)
        return web.Nginx(run, snip, n, **opts)

    def parts(self):
        """{"broker", "sse", "poll", "ws", "server"}: the Procs this stack
        started (a broker given to it included)."""
        return {k: p for k, p in (("broker", self.broker), ("sse", self.sse), ("poll", self.poll),
                                  ("ws", self.ws), ("server", self.server))
                if isinstance(p, Proc)}

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
        answered), the bridge, the web server and the broker; exit statuses
        other than 0 are problems of the run.  (lighttpd 1.4.69 exits 1
        when stopped with a request in flight.)"""
        broker = self.broker if isinstance(self.broker, Proc) else None   # not Peers
        self.run.stop_each((self.sse, self.poll, self.ws, self.server, broker))
