"""WebSocket permessage-deflate: bytes on the wire and CPU, with and
without it, in the same run.

One fastpush-ws worker (deflate on) and N connections from ws_bench
processes subscribed to one channel; for each payload (a small price
tick, a 2 KB news item) the same paced broadcast goes once to clients
that do not offer the extension and once to clients that offer it (-z:
they inflate every compressed frame).  Per delivery: bytes read by the
clients after the upgrade (frame headers included), the bridge's CPU,
the clients' CPU (inflating is theirs), and the publish-to-receipt
latency.  The ratio column is deflate / plain.

    bench/run.py 45_ws_deflate             # 2,000 connections
    bench/run.py --full 45_ws_deflate      # 10,000
"""
import json
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import fpstack  # noqa: E402
import suite_40_ws as ws40  # noqa: E402

TITLE = "WebSocket permessage-deflate: bytes on the wire and CPU"
WORDS = ("market rates central bank inflation report quarter growth shares trading "
         "investors outlook policy energy prices demand supply analysts forecast "
         "the of and to in a for on with as").split()


def _tick(i):
    return {"symbol": "ACME", "price": round(100 + random.random() * 5, 2),
            "bid": round(99 + random.random() * 5, 2), "ask": round(101 + random.random() * 5, 2),
            "volume": random.randint(1000, 900000), "i": i}


def _article(i):
    body = " ".join(random.choice(WORDS) for _ in range(300))
    return {"id": 10000 + i, "title": "Markets update " + str(i), "author": "Newsroom",
            "tags": ["markets", "economy"], "body": body[:1900]}


def _stop(procs):
    out = {"bytes": 0, "zframes": 0, "events": 0, "samples": 0, "late": 0, "hist": {}}
    cpu = 0.0
    for c in procs:
        c.send_signal(signal.SIGTERM)
        line = c.stdout.readline().decode()
        st = json.loads(line) if line.strip() else {}
        cpu += fpstack.cpu_seconds(c.pid)
        c.wait(10)
        for k in ("bytes", "zframes", "events", "samples", "late"):
            out[k] += st.get(k, 0)
        for b, v in st.get("hist", {}).items():
            out["hist"][int(b)] = out["hist"].get(int(b), 0) + v
    out["cpu"] = cpu
    return out


def _phase(ctx, port, workers, push, n, deflate, make, nevents, interval):
    procs = []
    ready, _ = ws40.start_clients(ctx, port, n, "127.3" if deflate else "127.2", procs,
                                  ["-z"] if deflate else [])
    try:
        time.sleep(1.0)
        cpu0 = sum(fpstack.cpu_seconds(p) for p in workers)
        for i in range(nevents):
            data = make(i)
            data["t"] = time.time_ns()
            push.send(json.dumps({"channel": "bench", "data": data}).encode())
            time.sleep(interval)
        time.sleep(2.0)
        cpu1 = sum(fpstack.cpu_seconds(p) for p in workers)
        st = _stop(procs)
    finally:
        for c in procs:
            if c.poll() is None:
                c.kill()
                c.wait()
    total = st["samples"] + st["late"]
    d = max(st["events"], 1)
    return {"ready": ready, "deliveries": st["events"], "expected": ready * nevents,
            "zframes": st["zframes"], "bytes": st["bytes"] / d,
            "server_us": (cpu1 - cpu0) * 1e6 / d, "client_us": st["cpu"] * 1e6 / d,
            "p50": ws40._pct(st["hist"], total, 0.50), "p99": ws40._pct(st["hist"], total, 0.99)}


def _cell(fmt, v):
    return fmt.format(v) if v == v else "> 1000"      # NaN: past the 1 s histogram


def _rows(name, plain, z):
    def row(label, key, fmt):
        a, b = plain[key], z[key]
        ratio = f"{b / a:.2f}x" if a and a == a and b == b else "-"
        return f"| {name} | {label} | {_cell(fmt, a)} | {_cell(fmt, b)} | {ratio} |"
    return [row("bytes on the wire per delivery", "bytes", "{:,.0f}"),
            row("bridge CPU per delivery (us)", "server_us", "{:.2f}"),
            row("client CPU per delivery (us)", "client_us", "{:.2f}"),
            row("latency p50 (ms)", "p50", "{:.2f}"),
            row("latency p99 (ms)", "p99", "{:.2f}")]


def run(ctx):
    import zmq
    random.seed(7)
    n = int(os.environ.get("FP_WS_CONNS", "2000" if ctx.quick else "10000"))
    nevents = 60 if ctx.quick else 100
    interval = max(0.05, n * 20e-6)
    run = fpstack.Run(os.path.join(ctx.tmp, "wsz"), ctx.bin)
    broker = run.broker(log_level="warn")
    ws = fpstack.start_ws(run, "ws", broker, workers=1, heartbeat=0, max_connections=19000,
                          log_level="warn")
    zctx = zmq.Context()
    push = zctx.socket(zmq.PUSH)
    push.connect(broker.ingest)
    results = {}
    try:
        time.sleep(1.0)
        workers = [ws.pid] + fpstack.proc_tree(ws.pid)
        ws40._warm_up(ws.port)
        for pname, make in (("tick", _tick), ("2 KB article", _article)):
            for deflate in (False, True):
                r = _phase(ctx, ws.port, workers, push, n, deflate, make, nevents, interval)
                results[(pname, deflate)] = r
                ctx.log(f"ws deflate: {pname} {'deflate' if deflate else 'plain'}: "
                        f"{r['deliveries']}/{r['expected']} deliveries, {r['bytes']:.0f} B, "
                        f"bridge {r['server_us']:.2f} us, client {r['client_us']:.2f} us, "
                        f"p50 {r['p50']:.2f} ms p99 {r['p99']:.2f} ms")
    finally:
        push.close()
        zctx.term()
        ws.stop(timeout=20)
        broker.stop()
    rows = []
    for pname in ("tick", "2 KB article"):
        rows += _rows(pname, results[(pname, False)], results[(pname, True)])
    counts = []
    for (p, z), r in results.items():
        extra = f" ({r['zframes']:,} compressed)" if z else ""
        counts.append(f"{p} {'deflate' if z else 'plain'} "
                      f"{r['deliveries']:,}/{r['expected']:,}{extra}")
    counts = "; ".join(counts)
    return f"""## {TITLE}

One fastpush-ws worker (`deflate on`, `deflate-level 1`), {n:,} connections
from `ws_bench` processes on 127.x source addresses, one channel; per
payload, {nevents} events one every {interval * 1000:.0f} ms, first to clients
that do not offer permessage-deflate (plain), then to clients that do
(`ws_bench -z`: they inflate every compressed frame). Broker, bridge and
clients share the machine's cores.

| payload | per delivery | plain | deflate | deflate / plain |
|---|---|---|---|---|
{chr(10).join(rows)}

Deliveries received of expected: {counts}.

The bridge compresses each event once and sends the same frame to every
deflate client (no context takeover), so its CPU per delivery barely
moves; bytes on the wire fall by what one event compresses to on its
own, which is least for small events. Inflating is the clients' cost.

Command: `bench/run.py {'--full ' if not ctx.quick else ''}45_ws_deflate` (`FP_WS_CONNS` sets N).
"""
