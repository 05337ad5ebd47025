"""WebSocket bridge: memory per idle connection and broadcast latency.

fastpush-ws runs with 2 workers (SO_REUSEPORT) on one port; ws_bench
client processes (at most 5,000 connections each, several 127.x source
addresses) open N connections and subscribe them all to one channel.
Memory: the RSS of the worker processes with N idle subscribed
connections minus their RSS before, divided by N.  Latency: events
published with PUSH carry "t" = CLOCK_REALTIME in ns; each client
records receipt - t for every event on every connection.

    bench/run.py 40_ws              # 2,000 connections
    bench/run.py --full 40_ws       # 10,000 connections
    FP_WS_CONNS=12000 bench/run.py 40_ws
"""
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import fpstack  # noqa: E402

TITLE = "WebSocket bridge: memory per idle connection, broadcast latency"
PER_CLIENT = 5000


def _warm_up(port):
    """One handshake and subscribe per worker, so that one-time costs (the
    pages of libcrypto's SHA-1, the hub's first channel) fall before the
    baseline."""
    socks = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        s.recv(4096)
        msg = b'{"type":"subscribe","channels":["bench"]}'
        s.sendall(bytes([0x81, 0x80 | len(msg), 0, 0, 0, 0]) + msg)
        socks.append(s)
    time.sleep(0.5)
    for s in socks:
        s.close()
    time.sleep(0.5)


def _slab_kb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1])
    return 0


def _pct(hist, total, q):
    want = q * total
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= want:
            return (b + 1) * 10 / 1000.0      # ms (upper edge of the bucket)
    return float("nan")


def _collect(clients, sig):
    """Counters of every client (SIGUSR1: a snapshot, SIGTERM: final),
    merged."""
    out = {"hist": {}, "samples": 0, "late": 0, "events": 0, "bytes": 0}
    for c in clients:
        c.send_signal(sig)
        line = c.stdout.readline().decode()
        if sig == signal.SIGTERM:
            c.wait(10)
        st = json.loads(line) if line.strip() else {}
        for k in ("samples", "late", "events", "bytes"):
            out[k] += st.get(k, 0)
        for b, v in st.get("hist", {}).items():
            out["hist"][int(b)] = out["hist"].get(int(b), 0) + v
    return out


def start_clients(ctx, port, n, src, clients, extra=()):
    """Start ws_bench processes (PER_CLIENT connections at most each, on
    source addresses SRC.I.1-50) holding n connections subscribed to
    "bench", appending them to clients; wait for their READY lines (3
    minutes at most).  Returns (ready, failed) over all of them."""
    k = (n + PER_CLIENT - 1) // PER_CLIENT
    started = []
    for i in range(k):
        m = n // k + (1 if i < n % k else 0)
        started.append(subprocess.Popen(
            [os.path.join(ctx.bin, "ws_bench"), "-p", str(port), "-n", str(m),
             "-s", f"{src}.{i}", "-c", "bench", "-i", "300", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL))
    clients += started
    ready = failed = 0
    end = time.time() + 180
    while started and time.time() < end:
        r, _, _ = select.select([c.stdout for c in started], [], [], 1.0)
        for c in started[:]:
            if c.stdout in r:
                line = c.stdout.readline().decode()
                if line.startswith("READY"):
                    _, ok, bad = line.split()
                    ready += int(ok)
                    failed += int(bad)
                    started.remove(c)
    return ready, failed


def run(ctx):
    import zmq
    n = int(os.environ.get("FP_WS_CONNS", "2000" if ctx.quick else "10000"))
    nevents = 50 if ctx.quick else 100
    burst = 20
    interval = max(0.05, n * 20e-6)     # 50 ms, 200 ms for 10,000
    run = fpstack.Run(os.path.join(ctx.tmp, "ws"), ctx.bin)   # started ready, stopped by PID
    broker = run.broker(log_level="warn")
    ws = fpstack.start_ws(run, "ws", broker, workers=2, heartbeat=0, max_connections=19000,
                          log_level="warn")
    port = ws.port
    clients = []
    try:
        time.sleep(1.0)
        workers = fpstack.proc_tree(ws.pid)
        _warm_up(port)
        base = sum(fpstack.rss_kb(p) for p in workers)
        base_anon = sum(fpstack.rss_kb(p, "RssAnon") for p in workers)
        slab0 = _slab_kb()
        t0 = time.time()
        ready, failed = start_clients(ctx, port, n, "127.1", clients)
        connect_s = time.time() - t0
        ctx.log(f"ws: {ready} connections ready ({failed} failed) in {connect_s:.1f} s")
        time.sleep(2.0)
        after = sum(fpstack.rss_kb(p) for p in workers)
        after_anon = sum(fpstack.rss_kb(p, "RssAnon") for p in workers)
        anon_per_conn = (after_anon - base_anon) * 1024.0 / max(ready, 1)
        slab1 = _slab_kb()
        per_conn = (after - base) * 1024.0 / max(ready, 1)
        per_worker = [(fpstack.rss_kb(p)) for p in workers]
        cpu0 = sum(fpstack.cpu_seconds(p) for p in workers)
        ctx.log(f"ws: RSS {base} kB -> {after} kB: {per_conn:.0f} bytes per connection")
        zctx = zmq.Context()
        push = zctx.socket(zmq.PUSH)
        push.connect(broker.ingest)
        time.sleep(0.3)
        pad = "x" * 100

        def publish(count, gap):
            for i in range(count):
                push.send(json.dumps({"channel": "bench", "data": {
                    "t": time.time_ns(), "i": i, "pad": pad}}).encode())
                if gap:
                    time.sleep(gap)

        # phase 1: paced, so that each broadcast ends before the next
        tp = time.time()
        publish(nevents, interval)
        pub_s = time.time() - tp
        time.sleep(2.0)
        cpu1 = sum(fpstack.cpu_seconds(p) for p in workers)
        paced = _collect(clients, signal.SIGUSR1)
        # phase 2: a burst, back to back: how fast the fan-out drains
        publish(burst, 0)
        time.sleep(3.0 + n * burst * 20e-6)
        total = _collect(clients, signal.SIGTERM)
        push.close()
        zctx.term()
        hist, samples, late = paced["hist"], paced["samples"], paced["late"]
        bhist = {b: v - paced["hist"].get(b, 0) for b, v in total["hist"].items()
                 if v - paced["hist"].get(b, 0) > 0}
        bsamples = total["samples"] + total["late"] - samples - late
        bmax_ms = (max(bhist) + 1) * 10 / 1000.0 if bhist else float("nan")
    finally:
        for c in clients:
            if c.poll() is None:
                c.kill()
                c.wait()
        ws.stop(timeout=20)
        broker.stop()
    total = samples + late
    expected = ready * nevents
    p50, p99 = _pct(hist, total, 0.50), _pct(hist, total, 0.99)
    pmax = (max(hist) + 1) * 10 / 1000.0 if hist else float("nan")
    ctx.log(f"ws: burst of {burst}: {bsamples} deliveries, last after {bmax_ms:.0f} ms")
    ctx.log(f"ws: {total}/{expected} deliveries, p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return f"""## {TITLE}

fastpush-ws with `workers 2` (SO_REUSEPORT), {n:,} connections from
{len(clients)} `ws_bench` processes over 127.1.x.1-50 source addresses, all
subscribed to one channel; broker on ipc://.  Clients, bridge and broker
share the machine's cores.

| measurement | result |
|---|---|
| connections ready (failed) | {ready:,} ({failed}) in {connect_s:.1f} s |
| worker RSS before / with {ready:,} idle subscribed connections | {base / 1024:.1f} MiB / {after / 1024:.1f} MiB (per worker: {", ".join(f"{x / 1024:.1f}" for x in per_worker)} MiB) |
| **user-space memory per idle connection** (RSS delta / connections) | **{per_conn:,.0f} bytes** |
| ... of which anonymous memory (RssAnon delta: heap, no library pages) | {anon_per_conn:,.0f} bytes |
| kernel slab delta (both socket ends, for reference) | {(slab1 - slab0) * 1024.0 / max(ready, 1):,.0f} bytes per connection |
| paced broadcast: {nevents} events, one every {interval * 1000:.0f} ms, to every connection | {total:,} of {expected:,} deliveries received |
| publish-to-receipt latency (PUSH -> broker -> bridge -> client), p50 / p99 / max | **{p50:.2f} ms / {p99:.2f} ms** / {pmax:.2f} ms |
| bridge CPU for the paced broadcast (both workers) | {cpu1 - cpu0:.2f} s over {pub_s + 2:.1f} s ({(cpu1 - cpu0) * 1e6 / max(total, 1):.1f} us per delivery) |
| burst: {burst} events back to back, {bsamples:,} of {ready * burst:,} deliveries | last one {bmax_ms:.0f} ms after its publish: **{bsamples / (bmax_ms / 1000.0) if bmax_ms == bmax_ms and bmax_ms > 0 else 0:,.0f} deliveries/s** |

The baseline is taken after a few warm-up connections, so one-time costs
(libcrypto's SHA-1 code pages, the hub's first channel) are not charged
to the connections.

Latency is measured per delivery: receipt time (CLOCK_REALTIME, in the
client, after its epoll loop reads the frame) minus the time stamped into
the event just before the PUSH; 10 us histogram buckets, merged over the
client processes.  It includes the clients' own queueing on the shared
cores.

Command: `bench/run.py {'--full ' if not ctx.quick else ''}40_ws` (`FP_WS_CONNS` sets N;
`build/bin/ws_bench -p PORT -n N -s 127.1.0 -c CHANNEL` is the client).
"""
