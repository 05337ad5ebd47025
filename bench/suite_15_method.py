"""How the side-by-side suites measure (text only, runs nothing)."""
import os

import benchlib as bl

TITLE = "How the side-by-side suites measure"


def run(ctx):
    scale = f" (scaled by BENCH_SCALE={bl.SCALE:g})" if bl.SCALE != 1 else ""
    return f"""## {TITLE}

- One client for every system: `build/bin/loadgen` (bench/loadgen.c), a C
  epoll client: several worker processes, each with its own 127.x.y.z source
  addresses (IP_BIND_ADDRESS_NO_PORT), connections opened at a ramp rate with
  at most 256 handshakes in flight per process. SSE over HTTP/1.1 (chunked or
  not), WebSocket (RFC 6455, masked frames, Sec-WebSocket-Accept checked),
  long-poll and interval poll over keep-alive connections.
- A publisher process sends 1 KB events whose data carries
  `FPT<phase>.<seq>.<CLOCK_MONOTONIC ns>.`; each client computes
  publish-to-receipt latency for every delivery (histogram with 1.6 % buckets).
  fastpush is published to over ZeroMQ (PUSH to the broker's ingest), Pushpin
  over ZeroMQ (PUSH to pushpin-handler), nchan and Node over HTTP POST.
- "delivered" counts deliveries that arrived before the drain ended (the drain
  waits until all expected arrived, nothing new came for 1 s, or 4-5 s passed),
  against published events x subscribers connected when the phase began.
- Server memory: RSS and PSS from /proc/PID/smaps_rollup summed over every
  process of the system (the trees below the started processes: nginx workers,
  Pushpin's condure/zurl/proxy/handler and its backend, lighttpd + fastpush-sse
  + broker), before the first connection and after the ramp plus a short idle
  hold. Per-connection figures are the growth divided by the connections.
  Kernel socket memory is not included (the same for every system).
- Server CPU: utime + stime of the same processes during a phase.
- Bytes on the wire per event: bytes the clients read during a phase divided
  by the deliveries (headers of chunked framing, SSE fields, heartbeats
  included).
- Every system is started fresh for each scenario and transport. Each runs on
  the same 2 shared cores as the client, so absolute numbers are pessimistic;
  compare systems within one run. Connection counts{scale} and timings are in
  each section; raw loadgen JSON is written to bench/results/raw/ (git-ignored).
"""
