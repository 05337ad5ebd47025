"""loadgen end to end: a few clients against fastpush-sse behind lighttpd
and against the Node peer (bench/peers), every transport loadgen speaks.
A system whose server is not installed fails (harness.require_tool; a
skip with FP_ALLOW_SKIP=1)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from harness import BIN, Tap, require_tool

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../bench"))
import systems  # noqa: E402


class Ctx:
    def __init__(self):
        self.bin = os.path.abspath(BIN)
        self.tmp = tempfile.mkdtemp(prefix="fp-lg-")

    def log(self, msg):
        pass


def loadgen(t, sys_, mode, n, phases=(), extra=()):
    out = os.path.join(sys_.dir, f"lg-{mode}.json")
    argv = [os.path.join(BIN, "loadgen"), "--quiet", "--mode", mode, "--conns", str(n),
            "--hold", "0.3", "--drain", "3", "--json", out]
    for u in sys_.url(mode):
        argv += ["--url", u]
    if phases or mode in ("poll", "longpoll"):
        argv += ["--pub", *sys_.pub(mode)]
    for r, s in phases:
        argv += ["--phase", f"{r}:{s}"]
    if mode == "ws" and sys_.ws_sub():
        argv += ["--ws-sub", sys_.ws_sub()]
    for pid in sys_.pids():
        argv += ["--pid", str(pid)]
    p = subprocess.run(argv + list(extra), capture_output=True, text=True, timeout=60)
    if not t.ok(p.returncode == 0 and os.path.exists(out), f"loadgen {mode} ran", p.stderr):
        return None
    with open(out) as f:
        return json.load(f)


def check_broadcast(t, r, what, n):
    if r is None:
        return
    ph = r["phases"][0]
    t.eq(r["ramp"]["connected"], n, f"{what}: all clients connected")
    t.ok(ph["published"] == 10 and ph["received"] == 10 * n,
         f"{what}: every event reached every client", ph)
    t.ok(0 < ph["p50_ms"] <= ph["p99_ms"] <= ph["max_ms"] < 2000,
         f"{what}: latency percentiles are ordered and plausible", ph)
    t.ok(ph["bytes_per_event"] > 1024, f"{what}: bytes per event count the 1 KB data", ph)
    t.eq(r["totals"]["failed"] + r["totals"]["non2xx"], 0, f"{what}: no errors")


def main():
    t = Tap()
    ctx = Ctx()
    try:
        if require_tool(t, "lighttpd", shutil.which("lighttpd"),   # bench/systems.py runs it from PATH
                        "fastpush case: lighttpd installed"):
            with systems.make("fastpush", ctx, 20) as s:
                r = loadgen(t, s, "sse", 20, phases=[(10, 1)])
                check_broadcast(t, r, "fastpush SSE", 20)
                if r:
                    t.ok(r["mem"]["idle"]["procs"] >= 3 and r["mem"]["idle"]["pss_kb"] > 0,
                         "memory sampled over broker, fastpush-sse and lighttpd", r["mem"])
        if require_tool(t, "node", shutil.which("node"), "Node cases: node installed") and \
                require_tool(t, "node-ws", systems.NODE_PATH + "/ws", "Node cases: node-ws installed"):
            with systems.make("node", ctx, 20) as s:
                check_broadcast(t, loadgen(t, s, "ws", 20, phases=[(10, 1)]), "Node WebSocket", 20)
                check_broadcast(t, loadgen(t, s, "longpoll", 20, phases=[(10, 1)]),
                                "Node long-poll", 20)
                r = loadgen(t, s, "poll", 5, extra=["--duration", "0.5"])
                if r:
                    t.ok(r["window"]["requests_per_s"] > 100 and r["totals"]["failed"] == 0,
                         "interval poll: requests/s measured", r["window"])
                r = loadgen(t, s, "sse", 10, extra=["--churn", "100", "--duration", "1"])
                if r:
                    t.ok(r["window"]["cycles_per_s"] > 20 and r["totals"]["failed"] == 0,
                         "churn: streams opened and closed", r["window"])
    finally:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    t.done()


main()
