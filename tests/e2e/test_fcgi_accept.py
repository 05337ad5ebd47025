"""The FastCGI accept path of fastpush-sse and fastpush-poll, driven by a
FastCGI client of our own (fcgiclient.py) so that it can do what no web
server does on purpose:

- peers that connect and send nothing are closed after 2 s, and peers
  that stop half-way through their parameters 5 s after their first
  byte, unanswered: a real request behind them is answered at once (they
  hold no acceptor thread while their request is incomplete), and
  SIGTERM does not wait for them for ever (it did: libfcgi reads the
  rest of a request without a timeout);
- a request that was being read when SIGTERM came is answered, not closed
  (a closed connection is a 502 at the web server): fastpush-sse sends the
  headers and retry: and ends the stream at once (the browser reconnects),
  fastpush-poll answers a long-poll at once instead of parking it.
"""
import json
import os
import signal
import time

from fcgiclient import FcgiConn, begin, cgi_env, params, request, stdin
from harness import BIN, Env, Tap

t = Tap()
SILENT_S = 2            # a new connection's first bytes must come within 2 s
STALLED_S = 5           # then a read that waits 5 s ends the request


def responder(env, b, prog, name, **directives):
    sock = env.path(f"{name}.sock")
    argv = [os.path.join(BIN, prog), "--listen", sock, "--control", b.control,
            "--fanout", b.fanout, "--threads", "2"]
    for k, v in directives.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return env.start(name, argv, ready_fd=True), sock


def stalled(sock, n, half):
    """n peers that connect and send nothing, or (half) stop in the
    middle of their parameters."""
    peers = [FcgiConn(sock) for _ in range(n)]
    if half:
        for c in peers:
            c.send(begin() + params(cgi_env("GET", "/push/poll?channel=acc")))
    return peers


def answered_behind(sock, peers, limit):
    """A real request sent after the peers took both acceptor threads:
    (status, body, seconds)."""
    time.sleep(0.3)
    t0 = time.monotonic()
    c = FcgiConn(sock)
    c.send(request("GET", "/push/poll?channel=acc"))
    status, _, body, ended = c.response(timeout=limit)
    c.close()
    return (status if ended else None), body, time.monotonic() - t0


def check_stalled_peers(env, b):
    p, sock = responder(env, b, "fastpush-poll", "poll-stalled")
    for half, what, limit in ((False, "that send nothing", SILENT_S + 3),
                              (True, "that stop half-way through their parameters",
                               STALLED_S + 4)):
        peers = stalled(sock, 2, half)                  # as many as acceptor threads
        status, body, took = answered_behind(sock, peers, limit + 5)
        t.ok(status == 200 and "cursor" in json.loads(body or b"{}") and took < 2,
             f"two peers {what} (as many as acceptor threads): a real request is "
             f"answered after {took:.1f} s, not held up by them", (status, body[:200]))
        t.ok(all(x.response(timeout=limit)[0] is None and x.sock.recv(1) == b""
                 for x in peers), f"... and the peers {what} were closed, unanswered, "
             f"within {limit} s")
    peers = stalled(sock, 2, True)
    time.sleep(0.3)
    t0 = time.monotonic()
    rc = p.stop(timeout=STALLED_S + 8)
    took = time.monotonic() - t0
    t.ok(rc == 0 and took < STALLED_S + 4,
         f"SIGTERM with two stalled peers: exit 0 after {took:.1f} s (bounded by their "
         f"receive timeouts, not by the peers)", rc)
    for x in peers:
        x.close()


def half_then_term(p, sock, uri):
    """Send all but the end of a request, SIGTERM, then the rest."""
    c = FcgiConn(sock)
    c.send(begin() + params(cgi_env("GET", uri)))
    time.sleep(0.3)                             # an acceptor thread is reading it
    p.send_signal(signal.SIGTERM)
    time.sleep(0.5)                             # the responder is stopping
    t0 = time.monotonic()
    c.send(params({}) + stdin())
    got = c.response(timeout=10)
    c.close()
    return got, time.monotonic() - t0


def check_sse_request_at_sigterm(env, b):
    p, sock = responder(env, b, "fastpush-sse", "sse-term", retry="1500ms")
    (status, headers, body, ended), took = half_then_term(p, sock, "/events/acc")
    t.ok(status == 200 and headers.get("content-type", "").startswith("text/event-stream")
         and b"retry: 1500" in body and ended and took < 2,
         f"fastpush-sse: a request read during SIGTERM gets 200, retry: and an ended "
         f"stream ({took:.2f} s), not a closed connection", (status, headers, body[:200], ended))
    t.eq(p.stop(), 0, "fastpush-sse exits 0")


def check_poll_request_at_sigterm(env, b):
    p, sock = responder(env, b, "fastpush-poll", "poll-term")
    (status, headers, body, ended), took = half_then_term(p, sock, "/push/poll?channel=acc&wait=20")
    ok = status == 200 and ended and took < 3
    try:
        ok = ok and json.loads(body)["events"] == []
    except (ValueError, KeyError):
        ok = False
    t.ok(ok, f"fastpush-poll: a long-poll read during SIGTERM is answered at once "
         f"({took:.2f} s), not parked for 20 s", (status, body[:200], ended))
    t.eq(p.stop(), 0, "fastpush-poll exits 0")


def main():
    with Env(t) as env:
        b = env.broker()
        check_stalled_peers(env, b)
        check_sse_request_at_sigterm(env, b)
        check_poll_request_at_sigterm(env, b)
    t.done()


if __name__ == "__main__":
    main()
