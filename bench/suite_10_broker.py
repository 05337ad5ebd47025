"""Broker micro-benchmarks: ingest rate and SINCE latency."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import fpstack  # noqa: E402

TITLE = "Broker: ingest and SINCE"


def _broker(ctx, name):
    """A broker on ipc:// endpoints in its own run, started ready."""
    run = fpstack.Run(os.path.join(ctx.tmp, name), ctx.bin)
    return run, run.broker(history_count=100000, history_bytes="1g", history_memory="2g",
                           fanout_hwm=0, log_level="warn")


def _bench(ctx, *args):
    out = subprocess.run([os.path.join(ctx.bin, "broker_bench")] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run(ctx):
    n = 300000 if ctx.quick else 2000000
    rounds = 3
    run, b = _broker(ctx, "b1")
    try:
        ingest = [_bench(ctx, "ingest", b.ingest, b.fanout, n, 100) for _ in range(rounds)]
        pub = _bench(ctx, "publish", b.control, b.fanout, n // 3, 100)
        since = _bench(ctx, "since", b.control, "hist", 100000, 1000, 2000)
        st = json.loads(b.cli("--json", "stats").stdout)
    finally:
        run.stop_all()
    best = max(ingest, key=lambda r: r["events_per_s"])
    rates = ", ".join(f"{r['events_per_s']:,.0f}" for r in ingest)
    ctx.log(f"ingest {rates} ev/s; SINCE p50 {since['p50_us']} us")
    return f"""## {TITLE}

One broker, ipc:// endpoints, one SUB subscriber counting every event; 100-byte
string payloads (about 150 bytes of event JSON).

| measurement | result |
|---|---|
| fire-and-forget ingest (PUSH -> PULL), {n:,} events, {rounds} runs | **{best['events_per_s']:,.0f} events/s** best ({rates}) |
| acknowledged PUBLISH (DEALER, 256 in flight), {pub['events']:,} events | {pub['events_per_s']:,.0f} events/s |
| SINCE returning the last 1,000 of 100,000 events, round trip, {since['rounds']} requests | p50 **{since['p50_us']:.0f} us**, p99 {since['p99_us']:.0f} us, max {since['max_us']:.0f} us |
| ... of which the broker's own time (STATS since_avg_us / since_max_us) | avg **{st['requests']['since_avg_us']:.0f} us**, max {st['requests']['since_max_us']:.0f} us |

The SINCE round trip is dominated by moving ~150 KB through ZeroMQ over ipc
(two I/O threads and the kernel); the broker finds and copies the 1,000 events
in the time shown on the last line.

Command: `build/bin/broker_bench ingest|publish|since ...` against
`fastpush-broker --history-count 100000 --fanout-hwm 0`.
"""
