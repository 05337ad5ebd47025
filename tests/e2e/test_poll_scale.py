"""Many waiting long-polls, and their ends: 1,000 long-polls from four
client processes behind lighttpd are all answered by one publish; SIGTERM
answers every waiting long-poll at once and exits 0; past max-parked a
long-poll gets 503; a client that leaves while its long-poll waits is
dropped (nginx: at once; lighttpd and Apache only notice when the answer
is written, at the end of the wait) and "waiting" returns to 0."""
import signal
import statistics
import time

from harness import Env, Tap, wait_for
from poll_checks import cursor_now, ids, wait_parked, waiting
from pollclient import get, park_many, start
from servers import Stack

t = Tap()
N = 1000


def check_many(st):
    k = st.kind
    cur = cursor_now(st, "many0,many1")
    paths = [f"/push/poll?channel=many{i % 2}&since={cur}&wait=20" for i in range(N)]
    sent = {}

    def ready():
        t.ok(wait_parked(st, N, 15), f"{k}: {N} long-polls from 4 client processes are waiting",
             waiting(st))
        sent["t"] = time.monotonic()
        sent["id"] = st.broker.publish("many1", "to-one")["id"]
        sent["id0"] = st.broker.publish("many0", "to-other")["id"]

    out = park_many(st.port, paths, procs=4, ready=ready, timeout=25)
    ok = [o for o, p in zip(out, paths) if o and o[0] == 200 and
          [e["id"] for e in o[2]["events"]][:1] == [sent["id0"] if "many0" in p else sent["id"]]]
    delays = sorted((o[1] - sent["t"]) * 1000 for o in out if o)
    t.ok(len(ok) == N, f"{k}: all {N} answered with their channel's event ({len(ok)})",
         [o for o in out if not o or o[0] != 200][:3])
    if delays:
        t.note(f"{k}: {N} long-polls, publish->answer p50 {statistics.median(delays):.0f} ms, "
               f"last {delays[-1]:.0f} ms (Python clients in 4 processes on 2 shared cores)")
        t.ok(delays[-1] < 3000, f"{k}: the last of them within 3 s ({delays[-1]:.0f} ms)")
    t.ok(wait_for(lambda: waiting(st) == 0, 5), f"{k}: none left waiting")


def check_full(st):
    """max-parked 5: the 6th waiting long-poll gets 503 with Retry-After."""
    k = st.kind
    cur = cursor_now(st, "full")
    lps = [start(st.port, f"/push/poll?channel=full&since={cur}&wait=10") for _ in range(5)]
    wait_parked(st, 5)
    a = get(st.port, f"/push/poll?channel=full&since={cur}&wait=10")
    t.ok(a.status == 503 and a.headers.get("retry-after") and
         (a.json or {}).get("error") == "too_many_waiting",
         f"{k}: past max-parked: 503 too_many_waiting with Retry-After", a)
    b = get(st.port, f"/push/poll?channel=full&since={cur}")
    t.eq(b.status, 200, f"{k}: a short poll still works then")
    eid = st.broker.publish("full", "x")["id"]
    t.ok(all(ids(lp.finish(5)) == [eid] for lp in lps), f"{k}: the five are answered")


def check_gone(st, wait):
    """Clients that leave while their long-polls wait."""
    k = st.kind
    base = get(st.port, "/push/stats").json["self"]
    cur = cursor_now(st, "gone")
    lps = [start(st.port, f"/push/poll?channel=gone&since={cur}&wait={wait}") for _ in range(3)]
    t.ok(wait_parked(st, 3), f"{k}: 3 long-polls waiting")
    t0 = time.monotonic()
    for lp in lps:
        lp.close()
    back = wait_for(lambda: waiting(st) == 0, wait + 3)
    dt = time.monotonic() - t0
    s = get(st.port, "/push/stats").json["self"]
    if st.kind == "nginx":
        t.ok(back and dt < 1 and s["gone"] - base["gone"] == 3,
             f"{k}: the clients left: waiting back to 0 at once ({dt:.2f} s), 3 counted gone", s)
    else:
        t.ok(back and dt < wait + 2,
             f"{k}: the clients left: waiting back to 0 by the end of the wait ({dt:.2f} s, "
             f"wait={wait}; the server notices at its write)", s)
    a = get(st.port, f"/push/poll?channel=gone&since={cur}")
    t.eq(a.status, 200, f"{k}: polls work after that")


def check_sigterm(st):
    """SIGTERM answers waiting long-polls at once, and a long-poll whose
    broker answer comes after SIGTERM too (regression: it was parked and
    answered only at exit, after the 3 s grace)."""
    k = st.kind
    cur = cursor_now(st, "term")
    lps = [start(st.port, f"/push/poll?channel=term&since={cur}&wait=10") for _ in range(4)]
    wait_parked(st, 4)
    st.broker.send_signal(signal.SIGSTOP)       # the next one waits for its SINCE
    late = start(st.port, f"/push/poll?channel=term&since={cur}&wait=10")
    time.sleep(0.3)
    t0 = time.monotonic()
    st.poll.send_signal(signal.SIGTERM)
    answers = [lp.finish(5) for lp in lps]
    dt = max(a.t for a in answers) - t0
    empty = {"cursor": cur, "events": [], "reset": [], "more": False}
    t.ok(all(a.status == 200 and a.json == empty for a in answers) and dt < 1,
         f"{k}: SIGTERM answers the 4 waiting long-polls at once, empty ({dt * 1000:.0f} ms)",
         answers)
    time.sleep(0.2)
    t0 = time.monotonic()
    st.broker.send_signal(signal.SIGCONT)
    a = late.finish(5)
    t.ok(a.status == 200 and a.json == empty and a.t - t0 < 1,
         f"{k}: a long-poll whose broker answer came after SIGTERM: answered at once too "
         f"({(a.t - t0) * 1000:.0f} ms)", a)
    t.eq(st.poll.stop(), 0, f"{k}: fastpush-poll exits 0 after SIGTERM")


with Env(t) as env:
    st = Stack(env, "lighttpd", sse=False, poll={"max_wait": "30s"})
    check_many(st)
    st.stop()

for kind, wait in (("nginx", 5), ("lighttpd", 2), ("apache", 2)):
    with Env(t) as env:
        st = Stack(env, kind, sse=False, poll={"max_wait": "10s", "max_parked": 5})
        check_gone(st, wait)
        check_full(st)
        check_sigterm(st)
        st.stop()
t.done()
