"""fastpush-poll shares one SINCE among polls that ask the same question
(fcgi-poll/batch.c), behind lighttpd: many concurrent polls with one
cursor are answered by fewer SINCEs; read-your-writes holds under a race
(a publish acknowledged to a client, through HTTP or straight to the
broker, is in that client's very next poll while other polls of the same
question are in flight); chained pollers sharing cursors get every event
exactly once and in order; a stale or ahead cursor gives every sharer its
reset; clients that leave while their SINCE is out do no harm."""
import multiprocessing
import time

from harness import Env, Tap
from poll_checks import BROKER, POLL, cursor_now, ids, poll, publish_http
from pollclient import get, start
from servers import Stack

t = Tap()


def self_stats(st):
    a = get(st.port, "/push/stats")
    return a.json["self"] if a.json else {}


def _hammer(port, query, until, out):
    """Poll `query` back to back until the monotonic time `until`."""
    n = bad = 0
    while time.monotonic() < until:
        a = get(port, "/push/poll?" + query)
        n += 1
        bad += a.status not in (200, 304)
    out.put((n, bad))


def hammers(st, query, secs, procs=3):
    q = multiprocessing.Queue()
    until = time.monotonic() + secs
    ps = [multiprocessing.Process(target=_hammer, args=(st.port, query, until, q))
          for _ in range(procs)]
    for p in ps:
        p.start()
    return ps, q


def join(ps, q):
    res = [q.get(timeout=60) for _ in ps]
    for p in ps:
        p.join(10)
    return sum(n for n, _ in res), sum(b for _, b in res)


def check_shared(st):
    base = cursor_now(st, "sh")
    before = self_stats(st)
    pend = [start(st.port, f"/push/poll?channel=sh&since={base}") for _ in range(150)]
    answers = [p.finish(10) for p in pend]
    after = self_stats(st)
    t.ok(all(a.status == 200 and a.json["cursor"] == base and a.json["events"] == []
             for a in answers), "150 concurrent polls with one cursor: each answered, "
         "nothing new, the same cursor", [a for a in answers if a.status != 200][:2])
    sent = after["since_sent"] - before["since_sent"]
    shared = after["since_shared"] - before["since_shared"]
    t.ok(shared > 0 and sent + shared >= 150 and sent < 75,
         f"... by {sent} SINCEs to the broker ({shared} polls shared one)", (sent, shared))
    a = poll(st, "channel=sh&since=" + base, headers={"If-None-Match": f'"{base}"'})
    t.eq(a.status, 304, "a shared answer still honours the poll's own If-None-Match")


def check_race(st):
    """Read-your-writes: publish, then poll from a cursor older than the
    publish; the acknowledged event must be in the answer, while three
    processes poll the same question back to back."""
    base = cursor_now(st, "race")
    query = f"channel=race&since={base}&limit=1000"
    ps, q = hammers(st, query, 6.0)
    time.sleep(0.3)
    misses, rounds, t_end = [], 0, time.monotonic() + 5.0
    while time.monotonic() < t_end and rounds < 400:
        if rounds % 2:
            ack = publish_http(st, {"channel": "race", "data": rounds})
            eid = ack.json and ack.json.get("id")
        else:
            eid = st.broker.publish("race", rounds)["id"]
        a = poll(st, query)
        if not eid or eid not in ids(a):
            misses.append((rounds, eid, a.status))
        rounds += 1
    total, bad = join(ps, q)
    shared = self_stats(st)["since_shared"]
    t.ok(rounds >= 50 and not misses, f"read-your-writes: {rounds} publishes (HTTP and "
         f"broker, acknowledged), each in the very next poll, with {total} polls of the "
         "same question racing", misses[:5])
    t.ok(bad == 0 and shared > 0, f"the racing polls were answered ({bad} not) and shared "
         f"SINCEs (since_shared {shared})")


def _chain(port, channel, base, n, until, out):
    """Follow the channel from base by cursor until n events or until."""
    cur, got = base, []
    while len(got) < n and time.monotonic() < until:
        a = get(port, f"/push/poll?channel={channel}&since={cur}&limit=50")
        if a.status != 200:
            out.put(("status", a.status))
            return
        got += [e["data"] for e in a.json["events"]]
        cur = a.json["cursor"]
        if a.json["reset"]:
            out.put(("reset", a.json["reset"]))
            return
    out.put(("ok", got))


def check_chained(st):
    base = cursor_now(st, "ch")
    before = self_stats(st)["since_shared"]
    q = multiprocessing.Queue()
    n, until = 300, time.monotonic() + 30
    ps = [multiprocessing.Process(target=_chain, args=(st.port, "ch", base, n, until, q))
          for _ in range(6)]
    for p in ps:
        p.start()
    for i in range(n):
        st.broker.publish("ch", i)
        if i % 10 == 0:
            time.sleep(0.005)
    res = [q.get(timeout=60) for _ in ps]
    for p in ps:
        p.join(10)
    t.ok(all(r == ("ok", list(range(n))) for r in res),
         f"6 pollers chaining cursors while {n} events are published: each got every "
         "event once, in order", [(r[0], r[1][:5] if r[0] == "ok" else r[1]) for r in res
                                  if r != ("ok", list(range(n)))][:3])
    shared = self_stats(st)["since_shared"] - before
    t.ok(shared > 0, f"... and they shared SINCEs ({shared} polls)")


def check_resets(st):
    cur = cursor_now(st, "rs")
    want = [st.broker.publish("rs", i)["id"] for i in range(250)]
    pend = [start(st.port, f"/push/poll?channel=rs&since={cur}&limit=1000") for _ in range(40)]
    answers = [p.finish(10) for p in pend]
    t.ok(all(a.json and a.json["reset"] == [{"channel": "rs", "reason": "trimmed",
                                             "snapshot": False}] and ids(a) == want[-200:]
             for a in answers), "40 concurrent polls with a stale cursor: each gets the "
         "trimmed reset and the 200 events history holds")
    epoch, seq = want[-1].rsplit("-", 1)
    ahead = f"{epoch}-{int(seq) + 1000}"
    pend = [start(st.port, f"/push/poll?channel=rs&since={ahead}") for _ in range(40)]
    answers = [p.finish(10) for p in pend]
    t.ok(all(a.json and a.json["reset"] == [{"channel": "rs", "reason": "ahead",
                                             "snapshot": False}] for a in answers),
         "40 concurrent polls with a cursor ahead: each gets the ahead reset")


def check_gone(st):
    base = cursor_now(st, "gone")
    for _ in range(5):
        pend = [start(st.port, f"/push/poll?channel=gone&since={base}") for _ in range(60)]
        for p in pend[:50]:
            p.close()                   # leave while the shared SINCE is out
        rest = [p.finish(10) for p in pend[50:]]
    eid = st.broker.publish("gone", "after")["id"]
    a = poll(st, f"channel=gone&since={base}")
    t.ok(all(r.status == 200 for r in rest) and ids(a) == [eid],
         "clients that leave while their shared SINCE is out: the others are answered, "
         "and the next poll sees the new event")
    t.ok(st.poll.alive(), "fastpush-poll is still up")


with Env(t) as env:
    st = Stack(env, "lighttpd", broker=dict(BROKER), poll=dict(POLL))
    check_shared(st)
    check_race(st)
    check_chained(st)
    check_resets(st)
    check_gone(st)
    st.stop()
t.done()
