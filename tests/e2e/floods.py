"""Hostile connection patterns for the fault matrix (test_faults.py).

    lor = Slowloris({"ws": (("127.0.0.1", port), head, 40), "sse-fcgi": (path, rec, 8)})
    lor.start(); ...; lor.stop()
    lor.cut_after("ws")            # seconds after the first byte each was closed, or None

    h = Holders(port, procs=5, per_proc=3800)    # idle WebSocket connections
    h.open()                       # each process connects and completes its handshakes
    h.more(300)                    # then connections that will wait in the backlog
    h.close(600)                   # each process closes some
    h.stop()

Slowloris: every connection sends the next byte of a request (an HTTP
upgrade, an SSE GET, a FastCGI record) once a second and watches for the
server closing it.  Holders: several client processes (one process may
hold 20,000 descriptors, not more), each from its own 127.0.0.x source
address, so that one server process can be given more connections than
its descriptor limit lets it accept.
"""
import multiprocessing
import resource
import select
import socket
import threading
import time

from wsclient import WS


class Slowloris(threading.Thread):
    """targets: {name: (address, request, n)}: n connections to the
    address (a unix socket path, or (host, port)), each sending one byte of
    the request a second, never the last; closed[name] = [seconds from the
    first byte to the server's close]."""

    def __init__(self, targets, period=1.0):
        super().__init__(daemon=True)
        self.period = period
        self.conns = []                 # [target, sock, request, sent, t0]
        self.closed = {name: [] for name in targets}
        for name, (addr, req, n) in targets.items():
            fam = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
            for _ in range(n):
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.connect(addr)
                s.setblocking(False)
                self.conns.append([name, s, req, 0, None])
        self._halt = False

    def run(self):
        while not self._halt:
            for c in self.conns:
                self._tick(c)
            time.sleep(self.period)

    def _tick(self, c):
        name, s, req, sent, t0 = c
        if s is None:
            return
        if select.select([s], [], [], 0)[0]:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                self._gone(c)
                return
        if sent < len(req) - 1:          # never the last byte: never complete
            try:
                s.send(req[sent:sent + 1])
            except OSError:
                self._gone(c)
                return
            c[3] += 1
            if c[4] is None:
                c[4] = time.monotonic()

    def _gone(self, c):
        self.closed[c[0]].append(time.monotonic() - (c[4] or time.monotonic()))
        c[1].close()
        c[1] = None

    def open_count(self, name):
        return sum(1 for c in self.conns if c[0] == name and c[1] is not None)

    def stop(self):
        self._halt = True
        self.join(5)
        for c in self.conns:
            if c[1] is not None:
                c[1].close()


def _hold(port, src, n, pipe):
    """Child: n WebSocket connections from src, handshakes done; then obey
    the parent: ("more", k) k more connections, not waited for; ("close",
    k) close k of the open ones; ("stop",)."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    socks, upgraded = [], 0
    for _ in range(n):
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(10)
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(WS(s).request_bytes())
        except OSError:
            s.close()
            continue
        socks.append(s)
    for s in socks:
        try:
            upgraded += s.recv(4096).startswith(b"HTTP/1.1 101")
        except OSError:
            pass
    pipe.send(upgraded)
    extra = []
    while True:
        cmd = pipe.recv()
        if cmd[0] == "more":
            for _ in range(cmd[1]):
                s = socket.socket()
                s.bind((src, 0))
                s.setblocking(False)
                s.connect_ex(("127.0.0.1", port))
                extra.append(s)
            time.sleep(0.5)
            for s in extra:
                try:
                    s.send(WS(s).request_bytes())
                except OSError:
                    pass
            pipe.send(len(extra))
        elif cmd[0] == "close":
            for s in socks[:cmd[1]]:
                s.close()
            socks = socks[cmd[1]:]
            pipe.send(len(socks))
        else:
            for s in socks + extra:
                s.close()
            pipe.send(0)
            return


class Holders:
    """procs client processes of per_proc idle WebSocket connections each,
    process k from source address 127.0.0.(k+2)."""

    def __init__(self, port, procs=5, per_proc=3800):
        self.port, self.procs, self.per_proc = port, procs, per_proc
        self.kids = []

    def open(self, timeout=120):
        """Start the processes; the number of 101 answers they got."""
        ctx = multiprocessing.get_context("fork")
        for k in range(self.procs):
            a, b = ctx.Pipe()
            p = ctx.Process(target=_hold, args=(self.port, f"127.0.0.{k + 2}",
                                                self.per_proc, b), daemon=True)
            p.start()
            b.close()
            self.kids.append((p, a))
        return sum(self._answer(a, timeout) for _, a in self.kids)

    def _answer(self, a, timeout):
        return a.recv() if a.poll(timeout) else 0

    def _all(self, cmd, timeout=60):
        for _, a in self.kids:
            a.send(cmd)
        return sum(self._answer(a, timeout) for _, a in self.kids)

    def more(self, k):
        """k more connections in each process, handshake sent, not waited for."""
        return self._all(("more", k))

    def close(self, k):
        """Each process closes k of its upgraded connections; how many are left."""
        return self._all(("close", k))

    def stop(self):
        if self.kids:
            self._all(("stop",))
        for p, a in self.kids:
            p.join(10)
            a.close()
        self.kids = []
