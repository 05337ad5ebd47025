#!/usr/bin/env python3
"""make soak: the whole stack under steady load for a long time, its
servers' memory and descriptors sampled, checked flat.

The system is bench/systems.py's `fastpush` (broker, fastpush-sse and
fastpush-poll behind lighttpd, fastpush-ws with 2 workers) with a store
(engine local) and a short history, so that the history rings and the
store's segments reach their steady size during the warm-up.  The clients
are bench/loadgen (several processes each, on 127.x source addresses):

    SSE through lighttpd     60 % of the streams, a tenth of them churning
    WebSocket (fastpush-ws)  35 %, a tenth churning
    long-polls (lighttpd)     5 %, with the publisher (50 events/s)

Churning clients close their stream 2.5 to 7.5 s (at random) after its
response head and open it again at once from their cursor (Last-Event-ID; a WebSocket
subscribe with `since`); long-polls carry their cursor from answer to
answer.  Every client checks that the tokens of its channel arrive one
by one, none missing or repeated, over all its reconnects.

Every 10 s each server process is sampled: RSS (/proc/PID/status VmRSS)
and open descriptors (/proc/PID/fd, the largest of 5 counts over 1 s: a
long-poll answered a moment ago is asked again within milliseconds,
unless the machine stalls the clients, and one count taken in such a
moment shows a dip of tens of descriptors in fastpush-poll).  Flat: after the warm-up, the
largest and the smallest sample of each value are within +-5 % of the
mean of those samples.  (The mean, not the first sample: a descriptor
count moves with the clients' reconnects, and one sample taken in a dip
would shift every comparison.  A steady leak of more than about 10 % over
the run still fails it; the change from the first to the last sample is
shown beside it.)  Besides: no gaps, duplicates or resets,
no failed connects, every server alive at the end and stopped with
status 0, nothing in their logs beyond the expected lines.  The table
and the verdict go to bench/results/SOAK.md; the exit status is 1 when
a check fails.

    SOAK_SECONDS=120 python3 bench/soak.py --bin build/bin

Environment: SOAK_SECONDS (600), SOAK_WARMUP (120, at most half the
run), SOAK_STREAMS (10000), SOAK_RATE (50 events/s), SOAK_CHANNELS (100).
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import systems  # noqa: E402
import fpstack  # noqa: E402  (systems put tools/ on sys.path)
from run import Ctx, machine  # noqa: E402

TOLERANCE = 0.05
EVERY = 10.0
CHURN_MS = 5000
# Lifetimes spread over CHURN_MS +- JITTER_MS: with one lifetime for all,
# the clients opened together close together for the whole run, and how
# many closed streams lighttpd holds until its next write to them (an
# event on their channel) swings with the beat of the churn against the
# events, in waves of minutes (+-5 % of fastpush-sse's descriptors).
JITTER_MS = 2500
SIZE = 256

# log lines that are part of a healthy run under this load
EXPECTED = [
    r"\(server\.c\.\d+\) server started \(lighttpd/",
    r"\(server\.c\.\d+\) server stopped by UID",
]


def env_num(name, default):
    return type(default)(os.environ.get(name, default))


class SoakSystem(systems.FastpushLighttpd):
    """fastpush behind lighttpd with a durable store and a history that
    fills within the warm-up (25 events per channel, 50 s at the default
    rate; 1 MB segments so the
    store rotates and deletes segments during the run)."""
    name = "fastpush-soak"
    label = "fastpush (lighttpd, store)"

    def __init__(self, ctx, conns):
        super().__init__(ctx, conns)
        self.broker_extra = {"store": os.path.join(self.dir, "store"),
                             "store_fsync": "everysec", "store_segment_bytes": "1m",
                             "history_count": 25}


# ------------------------------------------------------------ /proc

def sample(procs, reads=5, gap=0.25):
    """{label: (RSS KB, descriptors)}: RSS of the last read, the largest
    descriptor count of `reads` reads `gap` s apart (of all processes in
    turn); a process that is gone is left out."""
    out = {}
    for i in range(reads):
        if i:
            time.sleep(gap)
        for label, pid in procs.items():
            try:
                r, n = fpstack.rss_kb(pid), fpstack.nfds(pid)
            except OSError:
                out.pop(label, None)
                continue
            out[label] = (r, max(n, out.get(label, (0, 0))[1]))
    return out


def servers(sys_):
    """{label: pid} of every server process: the launcher's, and the
    workers fastpush-ws forks."""
    labels = {"fastpush-broker": "broker", "fastpush-sse": "sse", "fastpush-poll": "poll",
              "fastpush-ws": "ws-master", "fastpush": "lighttpd"}
    out = {}
    for p in sys_.run.procs:
        out[labels.get(p.name, p.name)] = p.pid
        if p.name == "fastpush-ws":
            for i, k in enumerate(sorted(systems.fpstack.proc_tree(p.pid))):
                out[f"ws-worker{i + 1}"] = k
    return out


def stop(sys_):
    """The responders first (streams end properly, long-polls are
    answered), then the bridge, the web servers and the broker: lighttpd
    stopped with a request in flight exits 1 (fpstack.Stack.stop)."""
    if getattr(sys_, "stack", None) is not None:
        sys_.stack.stop()
    sys_.run.stop_all()


# ------------------------------------------------------------ clients

class Clients:
    """One loadgen run; its totals are read from its --status file."""

    def __init__(self, ctx, tag, argv):
        self.tag = tag
        self.status = os.path.join(ctx.tmp, f"{tag}.status")
        self.json = os.path.join(ctx.tmp, f"{tag}.json")
        self.log = os.path.join(ctx.tmp, f"{tag}.log")
        self.argv = [os.path.join(ctx.bin, "loadgen")] + argv + [
            "--status", self.status, "--json", self.json, "--label", tag]
        with open(self.log, "w") as log:
            self.p = subprocess.Popen(self.argv, stdout=subprocess.DEVNULL, stderr=log,
                                      start_new_session=True)

    def totals(self):
        try:
            with open(self.status) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def result(self):
        try:
            with open(self.json) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def kill(self):
        """The loadgen and its workers (its own session)."""
        if self.p.poll() is None:
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except OSError:
                pass
            self.p.wait()


def start_clients(ctx, sys_, n, secs, rate, channels):
    sse, ws = int(n * 0.60), int(n * 0.35)
    poll = n - sse - ws
    common = ["--channels", str(channels), "--hold", "0", "--rate", "1000",
              "--src-count", "50"]
    sse_urls = [a for u in sys_.url("sse") for a in ("--url", u)]
    ws_urls = [a for u in sys_.url("ws") for a in ("--url", u)]
    poll_urls = [a for u in sys_.url("longpoll") for a in ("--url", u)]
    ws_sub = ["--ws-sub", '{"type":"subscribe","channels":["%c"],"since":%C}']
    # the clients outlive the publisher (its ramp, the drain): they are
    # stopped once it is done, their totals read from their status files
    life = ["--duration", str(secs + 300)]
    plan = [
        ("sse", ["--mode", "sse", "--conns", str(sse - sse // 10), "--resume"] + sse_urls),
        ("sse-churn", ["--mode", "sse", "--conns", str(sse // 10), "--resume",
                       "--churn", str(CHURN_MS), "--churn-jitter", str(JITTER_MS)] + sse_urls),
        ("ws", ["--mode", "ws", "--conns", str(ws - ws // 10)] + ws_sub + ws_urls),
        ("ws-churn", ["--mode", "ws", "--conns", str(ws // 10), "--churn", str(CHURN_MS),
                      "--churn-jitter", str(JITTER_MS)] + ws_sub + ws_urls),
    ]
    groups = []
    for tag, argv in plan:
        groups.append(Clients(ctx, tag, argv + common + life + ["--workers", "2"]))
    ctx.log(f"clients: {sse} SSE, {ws} WebSocket (a tenth of each churning every "
            f"{CHURN_MS / 1000:g} +- {JITTER_MS / 1000:g} s), {poll} long-polls; "
            f"{channels} channels")
    # the publisher starts once the streams are open
    end = time.time() + 120
    while time.time() < end:
        t = [g.totals() for g in groups]
        if all(x.get("established", 0) >= x.get("conns", 1) for x in t):
            break
        if any(g.p.poll() is not None for g in groups):
            break
        time.sleep(1)
    ctx.log("  open: " + ", ".join(f"{g.tag} {g.totals().get('connected', 0)}"
                                   for g in groups))
    kind, target = sys_.pub("longpoll")
    groups.append(Clients(ctx, "poll+pub", [
        "--mode", "longpoll", "--conns", str(poll), "--pub", kind, target,
        "--size", str(SIZE), "--phase", f"{rate}:{secs}", "--drain", "5",
        "--workers", "1"] + poll_urls + common))
    return groups


# ------------------------------------------------------------ checks

def flatness(samples, warmup):
    """{process: {"rss": (mean, min, max, first, last, ok), "fd": ...}}
    over the samples taken at or after the warm-up."""
    post = [s for s in samples if s["t"] >= warmup]
    out = {}
    if not post:
        return out
    for proc in post[0]["procs"]:
        vals = [s["procs"].get(proc) for s in post]
        if any(v is None for v in vals):
            out[proc] = None            # gone during the run
            continue
        out[proc] = {}
        for k, i in (("rss", 0), ("fd", 1)):
            xs = [v[i] for v in vals]
            mean = sum(xs) / len(xs)
            ok = mean > 0 and max(xs) <= mean * (1 + TOLERANCE) and \
                min(xs) >= mean * (1 - TOLERANCE)
            out[proc][k] = (mean, min(xs), max(xs), xs[0], xs[-1], ok)
    return out


def log_problems(sys_):
    """Lines of the servers' logs (log level warn) that are not expected."""
    bad = []
    for top, _, files in sorted(os.walk(sys_.dir)):
        for f in sorted(files):
            if not f.endswith(".log"):
                continue
            path = os.path.join(top, f)
            with open(path, "rb") as fh:
                for line in fh.read().decode(errors="replace").splitlines():
                    if not line.strip() or any(re.search(p, line) for p in EXPECTED):
                        continue
                    bad.append(f"{os.path.relpath(path, sys_.dir)}: {line[:200]}")
    return bad


# ------------------------------------------------------------ report

def mb(kb):
    return f"{kb / 1024:.1f}"


def table(samples, procs):
    head = "| t, s | " + " | ".join(procs) + " | clients | events/s | published/s | " \
        "reconnects (total) | load |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for s in samples:
        cells = []
        for p in procs:
            v = s["procs"].get(p)
            cells.append(f"{mb(v[0])} / {v[1]}" if v else "gone")
        lines.append(f"| {s['t']:.0f} | " + " | ".join(cells) +
                     f" | {s['connected']:,} | {s['rx_per_s']:,.0f} | {s['pub_per_s']:,.0f} | "
                     f"{s['reconnects']:,} | {s['load']:.1f} |")
    return "\n".join(lines)


def pct(x, base):
    return f"{(x - base) / base * 100:+.1f}" if base else "–"


def summary(flat):
    lines = ["| process | RSS mean, MB | RSS min–max, MB | min/max vs mean, % | first→last, % "
             "| fds mean | fds min–max | min/max vs mean, % | first→last, % | flat |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for proc, v in flat.items():
        if v is None:
            lines.append(f"| {proc} | gone | | | | | | | | no |")
            continue
        cells = []
        for k, show in (("rss", mb), ("fd", lambda x: f"{x:,.0f}")):
            mean, lo, hi, first, last, _ = v[k]
            cells += [show(mean), f"{show(lo)}–{show(hi)}", f"{pct(lo, mean)} / {pct(hi, mean)}",
                      pct(last, first)]
        ok = v["rss"][-1] and v["fd"][-1]
        lines.append(f"| {proc} | " + " | ".join(cells) + f" | {'yes' if ok else 'NO'} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "SOAK.md"))
    args = ap.parse_args()
    secs = env_num("SOAK_SECONDS", 600)
    warmup = min(env_num("SOAK_WARMUP", 120), secs / 2)
    n = env_num("SOAK_STREAMS", 10000)
    rate = env_num("SOAK_RATE", 50)
    channels = env_num("SOAK_CHANNELS", 100)
    ctx = Ctx(args.bin, True, os.path.dirname(os.path.abspath(args.out)))
    started = time.strftime("%Y-%m-%d %H:%M %Z")
    sys_ = SoakSystem(ctx, n - int(n * 0.35))      # SSE + polls through lighttpd
    failures, samples, groups = [], [], []
    try:
        sys_.start()
        procs = servers(sys_)
        ctx.log(f"started {sys_.describe()}")
        ctx.log("  servers: " + ", ".join(f"{k} {v}" for k, v in procs.items()))
        groups = start_clients(ctx, sys_, n, secs, rate, channels)
        t0 = time.time()
        last = None
        while True:
            now = time.time() - t0
            snap = {"t": now, "procs": sample(procs)}
            with open("/proc/loadavg") as f:
                snap["load"] = float(f.read().split()[0])
            tot = [g.totals() for g in groups]
            snap["connected"] = sum(x.get("connected", 0) for x in tot)
            snap["received"] = sum(x.get("received", 0) for x in tot)
            snap["published"] = sum(x.get("published", 0) for x in tot)
            snap["reconnects"] = sum(x.get("reconnects", 0) + x.get("cycles", 0) for x in tot)
            dt = now - last["t"] if last else 0
            snap["rx_per_s"] = (snap["received"] - last["received"]) / dt if dt else 0
            snap["pub_per_s"] = (snap["published"] - last["published"]) / dt if dt else 0
            samples.append(snap)
            last = snap
            ctx.log(f"t={now:4.0f}s clients {snap['connected']:,} events/s "
                    f"{snap['rx_per_s']:,.0f} reconnects {snap['reconnects']:,}  " +
                    " ".join(f"{k} {mb(v[0])}M/{v[1]}" for k, v in snap["procs"].items()))
            if now >= secs or any(g.p.poll() is not None for g in groups[-1:]):
                break
            time.sleep(max(0.0, t0 + len(samples) * EVERY - time.time()))
        gone = [k for k, pid in procs.items() if not systems.fpstack.alive(pid)]
        if gone:
            failures.append(f"not alive at the end: {', '.join(gone)}")
        groups[-1].p.wait(timeout=60)          # the publisher's drain
        ended = [g.tag for g in groups[:-1] if g.p.poll() is not None]
        if ended:
            failures.append(f"clients ended before the publisher: {', '.join(ended)}")
        time.sleep(1.5)                         # their last status
        for g in groups:
            g.final = g.totals()
    except Exception as e:
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        for g in groups:
            g.kill()
        stop(sys_)
    failures += [f"stopping: {p}" for p in sys_.run.problems]

    # the clients' own verdict
    rows = []
    for g in groups:
        t = getattr(g, "final", None)
        if not t:
            failures.append(f"loadgen {g.tag}: no totals (status {g.p.returncode})")
            continue
        rows.append(f"| {g.tag} | {t['conns']:,} | {t['established']:,} | {t['reconnects']:,} | "
                    f"{t['cycles']:,} | {t['msgs']:,} | {t['gaps']} | {t['dups']} | "
                    f"{t['resets']} | {t['failed']} | {t['non2xx']} |")
        for k in ("gaps", "dups", "resets", "failed", "non2xx", "pub_errors"):
            if t[k]:
                failures.append(f"loadgen {g.tag}: {k} {t[k]}"
                                + (f" (first error: {t['first_error']})" if t["first_error"]
                                   else ""))
    pub = groups[-1].result() if groups and groups[-1].tag == "poll+pub" else None
    if groups and groups[-1].p.returncode != 0:
        failures.append(f"loadgen poll+pub exited with status {groups[-1].p.returncode}")
    lat = pub["phases"][0] if pub and pub.get("phases") else None
    bad_logs = log_problems(sys_)
    if bad_logs:
        failures.append(f"{len(bad_logs)} unexpected log lines")
    flat = flatness(samples, warmup)
    if not flat:
        failures.append("no samples after the warm-up")
    for proc, v in flat.items():
        if v is None:
            failures.append(f"{proc}: gone during the run")
            continue
        for k in ("rss", "fd"):
            mean, lo, hi, _, _, ok = v[k]
            if not ok:
                failures.append(f"{proc}: {k.upper()} not flat after the warm-up "
                                f"(mean {mean:.0f}, min {lo}, max {hi})")

    verdict = "PASS" if not failures else "FAIL"
    post = [s for s in samples if s["t"] >= warmup]
    rx = sum(s["rx_per_s"] for s in post) / len(post) if post else 0
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, cwd=HERE).stdout.strip() or "?"
    cmd = "make soak" + (f" SOAK_SECONDS={secs}" if secs != 600 else "")
    md = f"""# fastpush soak

- Command: `{cmd}` (`bench/soak.py`)
- Date: {started}, commit {rev}
- Machine: {machine()}
- Verdict: **{verdict}**

{__doc__.split("Every 10 s")[0].split(chr(10), 2)[2].strip()}

Run: {n:,} streams, {rate} events/s of {SIZE} bytes over {channels} channels,
{secs} s of publishing, sampled every {EVERY:g} s; warm-up {warmup:.0f} s.
Flat means: the largest and the smallest sample after the warm-up
within ±{TOLERANCE * 100:.0f} % of the mean of those samples.

## After the warm-up

{summary(flat)}

Mean deliveries after the warm-up: {rx:,.0f} events/s.
{f"Publish-to-receipt latency: p50 {lat['p50_ms']:.1f} ms, p99 {lat['p99_ms']:.1f} ms, "
 f"max {lat['max_ms']:.0f} ms ({lat['received']:,} deliveries)." if lat else ""}

## Clients

| clients | conns | streams opened | lost and reopened | churn closes | messages | gaps | duplicates | resets | failed | non-2xx |
|---|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

## Samples (RSS MB / open fds)

t: seconds since every stream was open (the publisher starts then);
clients: connections open at that moment (churning ones may be between
two streams); events/s: deliveries to all clients over the last 10 s;
reconnects: streams closed on purpose (churn) or by the server, in total;
load: the machine's 1-minute load average (2 cores, shared with other
work: a stall of the whole machine shows there first).

{table(samples, list(flat) if flat else list(samples[0]["procs"]) if samples else [])}

## Checks

{chr(10).join(f"- FAILED: {f}" for f in failures) if failures else "- all passed"}
{"" if not bad_logs else chr(10) + "Unexpected log lines (first 20):" + chr(10) + chr(10)
 + "```" + chr(10) + chr(10).join(bad_logs[:20]) + chr(10) + "```" + chr(10)}
"""
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as f:
        f.write(md)
    ctx.log(f"wrote {args.out}: {verdict}")
    for f in failures:
        ctx.log(f"  FAILED: {f}")
    if failures:
        ctx.log(f"  logs and loadgen results kept in {ctx.tmp}")
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
