"""The FastCGI accept path of fastpush-sse and fastpush-poll, driven by a
FastCGI client of our own (fcgiclient.py) so that it can do what no web
server does on purpose:

- peers that connect and send nothing hold an acceptor thread for the
  receive timeout (5 s) at most: a real request behind them is answered,
  and SIGTERM does not wait for them for ever (it did: libfcgi reads the
  parameters without a timeout);
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
TIMEOUT_S = 5           # body_timeout_ms: the receive timeout of a new connection


def responder(env, b, prog, name, **directives):
    sock = env.path(f"{name}.sock")
    argv = [os.path.join(BIN, prog), "--listen", sock, "--control", b.control,
            "--fanout", b.fanout, "--threads", "2"]
    for k, v in directives.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return env.start(name, argv, ready_fd=True), sock


def silent(sock, n):
    return [FcgiConn(sock) for _ in range(n)]


def check_silent_peers(env, b):
    p, sock = responder(env, b, "fastpush-poll", "poll-silent")
    idle = silent(sock, 2)                      # one per acceptor thread
    time.sleep(0.3)
    t0 = time.monotonic()
    c = FcgiConn(sock)
    c.send(request("GET", "/push/poll?channel=acc"))
    status, _, body, ended = c.response(timeout=TIMEOUT_S + 8)
    took = time.monotonic() - t0
    t.ok(status == 200 and ended and "cursor" in json.loads(body),
         f"two silent peers on both acceptor threads: a real request is still answered "
         f"({took:.1f} s)", (status, body[:200]))
    t.ok(all(x.response(timeout=1)[0] is None for x in idle) and all(
        x.sock.recv(1) == b"" for x in idle), "the silent peers were closed, unanswered")
    c.close()
    idle = silent(sock, 2)
    time.sleep(0.3)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rc = p.stop(timeout=TIMEOUT_S + 8)
    took = time.monotonic() - t0
    t.ok(rc == 0 and took < TIMEOUT_S + 5,
         f"SIGTERM with silent peers connected: exit 0 after {took:.1f} s "
         f"(their receive timeout, not never)", rc)
    for x in idle:
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
        check_silent_peers(env, b)
        check_sse_request_at_sigterm(env, b)
        check_poll_request_at_sigterm(env, b)
    t.done()


if __name__ == "__main__":
    main()
