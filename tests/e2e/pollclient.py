"""Poll requests for the end-to-end tests (over sseclient's HTTP/1.1 reader).

    a = get(port, "/push/poll?channel=news&since=" + cursor)
    a.status, a.headers, a.json, a.body

    lp = start(port, "/push/poll?channel=news&since=...&wait=10")
    ...publish...
    a = lp.finish(5)                       # a.t: when the answer had arrived

    answers = park_many(port, paths, procs=4, ready=fn, timeout=10)

park_many() holds many requests at once from several client processes
(each process a few hundred sockets): every process sends its requests,
reports that they are out, the parent calls ready() (e.g. publishes), and
every answer comes back with the monotonic time it completed (the clock is
the same across processes).
"""
import json
import multiprocessing
import select
import time

from sseclient import SseClient

ACCEPT = {"Accept": "application/json"}


class Answer:
    def __init__(self, c, t):
        self.status, self.headers, self.body, self.t = c.status, c.headers, c.body, t
        self.ended = c.ended
        try:
            self.json = json.loads(c.body) if c.body else None
        except ValueError:
            self.json = None

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


class Pending:
    """A request sent, its answer not read yet."""

    def __init__(self, port, path, headers=None, method="GET", body=None):
        h = dict(ACCEPT)
        h.update(headers or {})
        self.t0 = time.monotonic()
        self.c = SseClient(port, path, headers=h, method=method, body=body, head_timeout=0)

    def done(self):
        return self.c.ended or self.c.eof

    def finish(self, timeout=5.0):
        """The answer (status None if none came within timeout)."""
        self.c.read_to_end(timeout)
        a = Answer(self.c, time.monotonic())
        self.c.close()
        return a

    def close(self):
        self.c.close()


def start(port, path, **kw):
    return Pending(port, path, **kw)


def get(port, path, headers=None, method="GET", body=None, timeout=5.0):
    return Pending(port, path, headers, method, body).finish(timeout)


def _park_proc(port, paths, conn, timeout):
    """Child: send every request, say so, then collect the answers."""
    pend = []
    for p in paths:
        pend.append(Pending(port, p))
    conn.send("sent")
    out = [None] * len(pend)
    left = len(pend)
    end = time.monotonic() + timeout
    by_fd = {pd.c.sock.fileno(): i for i, pd in enumerate(pend)}
    poller = select.poll()
    for fd in by_fd:
        poller.register(fd, select.POLLIN)
    while left and time.monotonic() < end:
        for fd, _ in poller.poll(max(0, int((end - time.monotonic()) * 1000))):
            pd = pend[by_fd[fd]]
            pd.c._recv(0)
            if pd.done():
                a = Answer(pd.c, time.monotonic())
                out[by_fd[fd]] = (a.status, a.t, a.json)
                poller.unregister(fd)
                left -= 1
    for pd in pend:
        pd.close()
    conn.send(out)
    conn.close()


def park_many(port, paths, procs=4, ready=None, timeout=10.0):
    """Send every path as a request, spread over `procs` processes; once all
    are out call ready(); return [(status, time, json) or None] in order."""
    ctx = multiprocessing.get_context("fork")
    chunks = [paths[i::procs] for i in range(procs)]
    kids = []
    for ch in chunks:
        a, b = ctx.Pipe()
        p = ctx.Process(target=_park_proc, args=(port, ch, b, timeout), daemon=True)
        p.start()
        b.close()
        kids.append((p, a))
    for p, a in kids:
        if not a.poll(timeout) or a.recv() != "sent":
            raise RuntimeError("a client process did not send its requests")
    if ready:
        ready()
    res = []
    for p, a in kids:
        res.append(a.recv() if a.poll(timeout + 5) else [None] * len(chunks[len(res)]))
        p.join(5)
    out = [None] * len(paths)
    for k, r in enumerate(res):
        for j, v in enumerate(r):
            out[k + j * procs] = v
    return out
