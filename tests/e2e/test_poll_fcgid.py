"""fastpush-poll started by Apache mod_fcgid (conf/apache-poll-fcgid.conf,
listen "" : the socket on fd 0), with fastpush-sse started the same way:
every check of poll_checks.py, then what mod_fcgid's one-request-per-
process model means: short polls share a few processes, every waiting
long-poll holds a process of its own, and one publish answers them all."""
import time

from harness import Env, Tap, wait_for
from poll_checks import cursor_now, get, ids, run_all, start

t = Tap()


def procs(st):
    return st.server.spawned("fastpush-poll")


def check_processes(t, st):
    k = st.kind
    t.ok(wait_for(lambda: "FastCGI on fd 0" in st.server.read_log(), 5),
         f"{k}: fastpush-poll serves the socket mod_fcgid passed on fd 0 (listen \"\")")
    before = len(procs(st))
    ok = all(get(st.port, "/push/poll?channel=fc").status == 200 for _ in range(40))
    after = len(procs(st))
    t.ok(ok and after <= max(before, 1) + 2,
         f"{k}: 40 short polls one after another: {before} -> {after} processes (reused)")
    cur = cursor_now(st, "fcl")
    n = 4
    lps = [start(st.port, f"/push/poll?channel=fcl&since={cur}&wait=8") for _ in range(n)]
    held = wait_for(lambda: len(procs(st)) >= n, 8, 0.1)
    t.ok(held, f"{k}: {n} waiting long-polls hold {n} processes ({len(procs(st))} running)")
    time.sleep(0.5)
    t0 = time.monotonic()
    eid = st.broker.publish("fcl", "wake")["id"]
    answers = [lp.finish(5) for lp in lps]
    t.ok(all(a.status == 200 and ids(a) == [eid] for a in answers),
         f"{k}: one publish answers all {n} (in {(max(a.t for a in answers) - t0) * 1000:.0f} ms)",
         answers)
    wait_for(lambda: len(st.reports("poll")) >= 2, 6, 0.25)
    pids = {r["pid"] for r in st.reports("poll")}
    t.ok(len(pids) >= 2, f"{k}: each process reports to the broker on its own ({len(pids)} so far)")


run_all(t, Env, "apache-fcgid", extra=(check_processes,))
t.done()
