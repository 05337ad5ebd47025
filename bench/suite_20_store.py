"""Durable store: ingest rate under each store-fsync policy, and replay."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import fpstack  # noqa: E402
from suite_10_broker import _bench  # noqa: E402

TITLE = "Durable store: ingest per fsync policy, replay"


def _broker(ctx, name, directives):
    """A broker on ipc:// endpoints in its own run, started ready (after
    its replay), with the suite's history limits and directives."""
    run = fpstack.Run(os.path.join(ctx.tmp, name), ctx.bin)
    d = dict(history_count=100000, history_bytes="1g", history_memory="2g", fanout_hwm=0,
             log_level="warn")
    d.update(directives)
    return run, run.broker(**d)


def _stats(ctx, b):
    """STATS as JSON."""
    out = subprocess.run([os.path.join(ctx.bin, "fastpush"), "--control", b.control,
                          "--timeout", "2000", "--json", "stats"],
                         capture_output=True, text=True, timeout=10)
    return json.loads(out.stdout)


def _ingest(ctx, name, extra, n, n_pub, rounds):
    """Best of `rounds` fresh brokers: (fire-and-forget events/s,
    acknowledged events/s, store figures of the last round)."""
    store = os.path.join(ctx.tmp, name + "-store")
    d = dict(extra, store=store) if extra else {}
    pull = pub = 0
    for i in range(rounds):
        run, b = _broker(ctx, f"{name}-{i}", d)
        try:
            r = _bench(ctx, "ingest", b.ingest, b.fanout, n, 100)
            pull = max(pull, r["events_per_s"])
            r = _bench(ctx, "publish", b.control, b.fanout, n_pub, 100)
            pub = max(pub, r["events_per_s"])
            st = _stats(ctx, b).get("store", {})
        finally:
            run.stop_all()
        shutil.rmtree(store, ignore_errors=True)
    return pull, pub, st


def _replay(ctx, n):
    """Fill a store with n events, restart, return the STATS figures."""
    store = os.path.join(ctx.tmp, "replay-store")
    d = dict(store=store, store_fsync="no", history_count=n, history_bytes="4g",
             history_memory="4g")
    run, b = _broker(ctx, "replay-fill", d)
    try:
        _bench(ctx, "ingest", b.ingest, b.fanout, n, 100)
    finally:
        run.stop_all()
    size = sum(os.path.getsize(os.path.join(store, f)) for f in os.listdir(store))
    run, b = _broker(ctx, "replay", d)
    try:
        st = _stats(ctx, b)
    finally:
        run.stop_all()
    shutil.rmtree(store, ignore_errors=True)
    return st, size


def _fsync_us(ctx, n=300):
    """Mean time of one 200-byte append plus fdatasync in ctx.tmp."""
    path = os.path.join(ctx.tmp, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    t0 = time.time()
    for _ in range(n):
        os.write(fd, b"x" * 200)
        os.fdatasync(fd)
    dt = (time.time() - t0) / n * 1e6
    os.close(fd)
    os.unlink(path)
    return dt


def run(ctx):
    n = 300000 if ctx.quick else 2000000
    n_pub = 100000 if ctx.quick else 500000
    rounds = 2 if ctx.quick else 3
    rows = []
    for label, extra in [("no store (memory only)", {}),
                         ("store-fsync no", {"store_fsync": "no"}),
                         ("store-fsync everysec", {"store_fsync": "everysec"}),
                         ("store-fsync always", {"store_fsync": "always"})]:
        name = "st-" + extra.get("store_fsync", "mem")
        pull, pub, st = _ingest(ctx, name, extra, n, n_pub, rounds)
        ctx.log(f"{label}: {pull:,.0f} ev/s fire-and-forget, {pub:,.0f} ev/s acknowledged, "
                f"{st.get('fsyncs', 0)} fsyncs")
        rows.append(f"| {label} | **{pull:,.0f}** | **{pub:,.0f}** | "
                    f"{st.get('fsyncs', '-')} | {st.get('segments', '-')} |")
    fsync_us = _fsync_us(ctx)
    replay_n = 1000000
    st, size = _replay(ctx, replay_n)
    s = st["store"]
    rate = s["records_replayed"] / max(s["replay_ms"], 1) * 1000
    ctx.log(f"replay of {replay_n:,} events: {s['replay_ms']} ms")
    table = "\n".join(rows)
    return f"""## {TITLE}

One broker, ipc:// endpoints, one SUB subscriber counting every event; 100-byte
string payloads ({size / replay_n:.0f} bytes per log record, event JSON included);
store-segment-bytes 64m.  Fire-and-forget: {n:,} events PUSHed to PULL (the
broker takes up to 1024 per batch).  Acknowledged: {n_pub:,} PUBLISH over one
DEALER with 256 in flight (up to 256 per batch).  Best of {rounds} runs, each on
a fresh broker and store.  Under `always` each batch is one write and one
fdatasync before any event of it is fanned out or acknowledged (group commit);
"fsyncs" are those of the last run.  One 200-byte append plus fdatasync takes
{fsync_us:,.0f} us on this disk, so `always` costs little here; on a disk
without a write cache expect milliseconds per batch.

| policy | fire-and-forget events/s | acknowledged events/s | fsyncs | segments |
|---|---|---|---|---|
{table}

Replay: {replay_n:,} events ({size / 2**20:,.0f} MiB in the store, history
limits large enough to keep them all) are read back on start in
**{s['replay_ms']:,} ms** ({s['records_replayed']:,} records, {rate:,.0f}
records/s): every event parsed and pushed through history and trimming as on
the live path.

Command: `bench/run.py 20_store` (`build/bin/broker_bench ingest|publish`
against `fastpush-broker --store DIR --store-fsync POLICY`).
"""
