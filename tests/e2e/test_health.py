"""Health checks: `fastpush health` (exit 0 ready, 1 answering but not
ready, 3 no answer), GET /push/health and /push/health/ready through
lighttpd (fastpush-poll) and on fastpush-ws's own port, the broker's PING
`ready`.

The broker's store is made to fail for real: the broker runs with a
file-size limit (RLIMIT_FSIZE, SIGXFSZ ignored), so once its segment
reaches it every write fails with EFBIG and publishes are refused with
store_failed; raising the limit again (prlimit on the running broker)
lets the next write work.  Then the broker is stopped: liveness stays
200, readiness 503, the CLI says 3."""
import json
import resource
import signal
import socket
import subprocess
import time

from harness import Env, Tap
from pollclient import get
from servers import Stack

t = Tap()
LIMIT = 256 << 10


def limited():
    """preexec_fn: the broker may write files of at most LIMIT bytes and
    gets EFBIG instead of being killed past it."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT, resource.RLIM_INFINITY))


def cli_health(st, *args):
    r = st.broker.cli("health", *args)
    return r.returncode, (r.stdout + r.stderr).decode().strip()


def ws_get(port, path, timeout=5.0):
    """(status, headers, body) of a plain HTTP GET on fastpush-ws's port."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    hdrs = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), {k.lower(): v for k, v in hdrs.items()}, body


def wait(fn, want, timeout=8.0):
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got == want or time.monotonic() > end:
            return got
        time.sleep(0.2)


def poll_ready(st):
    return get(st.port, "/push/health/ready").status


def ws_ready(st):
    return ws_get(st.ws_port, "/push/health/ready")[0]


def fill_store(st):
    """Publish until the store refuses: (events acknowledged, the refusal)."""
    n = 0
    while n < 10000:
        stt, meta, _ = st.broker.request("PUBLISH", {"channel": "h", "data": "x" * 400})
        if stt != "OK":
            return n, meta
        n += 1
    return n, None


with Env(t) as env:
    store = env.path("store")
    st = Stack(env, "lighttpd", broker={"store": store, "heartbeat": "250ms",
                                        "preexec_fn": limited},
               poll={}, ws={})

    # ready
    rc, out = cli_health(st)
    t.ok(rc == 0 and out.startswith("ready: broker"), "fastpush health: exit 0, ready", out)
    stt, meta, _ = st.broker.request("PING")
    t.ok(stt == "OK" and meta.get("ready") is True and "problem" not in meta,
         "PING says ready: true", meta)
    a = get(st.port, "/push/health")
    t.ok(a.status == 200 and a.json.get("live") is True and a.json.get("transport") == "poll"
         and a.headers.get("cache-control") == "no-store",
         "lighttpd: GET /push/health is 200 {live: true} (poll), not cached", (a.status, a.body))
    t.eq(wait(lambda: poll_ready(st), 200), 200, "lighttpd: GET /push/health/ready is 200")
    code, hdrs, body = ws_get(st.ws_port, "/push/health")
    t.ok(code == 200 and json.loads(body).get("transport") == "ws" and
         hdrs.get("content-type") == "application/json",
         "fastpush-ws: GET /push/health is 200 {live: true} (ws)", (code, body))
    t.eq(wait(lambda: ws_ready(st), 200), 200, "fastpush-ws: GET /push/health/ready is 200")
    t.eq(ws_get(st.ws_port, "/push/health/readyx")[0], 404,
         "fastpush-ws: another path is still a WebSocket 404")
    t.eq(ws_get(st.ws_port, "/push/health?probe=1")[0], 200,
         "fastpush-ws: a query string after the health path is fine")
    r = st.broker.cli("health", "extra")
    t.eq(r.returncode, 2, "fastpush health with an argument: usage, exit 2")

    # the store fails
    n, refusal = fill_store(st)
    t.ok(refusal and refusal.get("error") == "store_failed",
         f"with the file-size limit the store refuses after {n} events: store_failed", refusal)
    rc, out = cli_health(st)
    t.ok(rc == 1 and out.startswith("not ready: store") and "File too large" in out,
         "fastpush health: exit 1, not ready, the store's reason", out)
    stt, meta, _ = st.broker.request("PING")
    t.ok(meta.get("ready") is False and "store" in meta.get("problem", ""),
         "PING: ready false with the problem", meta)
    r = st.broker.cli("--json", "health")
    try:
        j = json.loads(r.stdout)
    except ValueError:
        j = {}
    t.ok(r.returncode == 1 and j.get("live") is True and j.get("ready") is False,
         "fastpush --json health: live true, ready false", r.stdout)
    t.eq(wait(lambda: poll_ready(st), 503), 503,
         "lighttpd: /push/health/ready turns 503 within a few heartbeats")
    a = get(st.port, "/push/health/ready")
    t.ok(a.json.get("error") == "not_ready" and "cannot store" in a.json.get("message", ""),
         "... with error not_ready and why", a.body)
    t.eq(get(st.port, "/push/health").status, 200, "lighttpd: /push/health stays 200")
    t.eq(wait(lambda: ws_ready(st), 503), 503, "fastpush-ws: /push/health/ready turns 503")
    code, hdrs, body = ws_get(st.ws_port, "/push/health/ready")
    t.ok(json.loads(body or b"{}").get("error") == "not_ready" and hdrs.get("retry-after"),
         "... with error not_ready and Retry-After", (hdrs, body))

    # the store works again
    resource.prlimit(st.broker.pid, resource.RLIMIT_FSIZE,
                     (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    stt, meta, _ = st.broker.request("PUBLISH", {"channel": "h", "data": "after"})
    t.ok(stt == "OK", "with the limit raised the next publish is stored", meta)
    rc, out = cli_health(st)
    t.ok(rc == 0, "fastpush health: ready again", out)
    t.eq(wait(lambda: poll_ready(st), 200), 200, "lighttpd: /push/health/ready is 200 again")
    t.eq(wait(lambda: ws_ready(st), 200), 200, "fastpush-ws: /push/health/ready is 200 again")

    # the broker stopped
    st.broker.stop()
    r = subprocess.run([env.prog("fastpush"), "--control", st.broker.control, "--timeout",
                        "500", "health"], capture_output=True, text=True, timeout=10)
    t.ok(r.returncode == 3, "broker stopped: fastpush health exits 3", r.stderr)
    t.eq(wait(lambda: poll_ready(st), 503), 503,
         "lighttpd: /push/health/ready is 503 once the heartbeats stop")
    a = get(st.port, "/push/health/ready")
    t.ok("no heartbeat" in a.json.get("message", ""), "... saying no heartbeat", a.body)
    t.eq(get(st.port, "/push/health").status, 200, "... while /push/health stays 200")
    t.eq(wait(lambda: ws_ready(st), 503), 503, "fastpush-ws: readiness 503 too")
    t.eq(ws_get(st.ws_port, "/push/health")[0], 200, "... and liveness 200")
    st.stop()
t.done()
