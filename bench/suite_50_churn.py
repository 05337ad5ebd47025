"""Connect/disconnect churn."""
import benchlib as bl
import systems

TITLE = "Connect/disconnect churn (SSE)"


def run(ctx):
    n = bl.scaled(1000)
    life = 250
    secs = 6 if ctx.quick else 20
    names = systems.selected(["fastpush", "fastpush-hb1"] + systems.PEERS[1:])
    labels = bl.labels_of(names)

    def one(sys):
        return bl.loadgen(ctx, sys, "sse", n, f"churn{n}", churn=life, hold=1,
                          duration=secs, extra=["--inflight", "128"])

    res, _ = bl.each_system(ctx, names, n, one)

    def g(get):
        return {k: bl.cell(res.get(k), get) for k in names}
    rows = [
        ("streams opened and closed per s", g(lambda r: r["window"]["cycles_per_s"]), False),
        ("failed connects / non-2xx answers in the window",
         g(lambda r: f"{r['window']['failed']} / {r['window']['non2xx']}"), None),
        ("connect to response head p50, ms", g(lambda r: r["handshake_or_request"]["p50_ms"]), True),
        ("connect to response head p99, ms", g(lambda r: r["handshake_or_request"]["p99_ms"]), True),
        ("server CPU per stream opened and closed, µs",
         g(lambda r: r["window"]["server_cpu_s"] * 1e6 /
           (r["window"]["cycles_per_s"] * r["window"]["secs"])), True),
        ("server PSS after the churn, MB", g(lambda r: r["mem"]["end"]["pss_kb"] / 1024), True),
    ]
    return f"""## {TITLE}

{n:,} clients; each closes its stream {life} ms after the response head
and opens a new one at once (at most 128 handshakes in flight per client
process), for {secs} s.

{bl.side_by_side(rows, names, labels)}
{bl.errors_note(res, labels)}
Behind lighttpd a client that closes its stream is noticed only when
lighttpd next writes to it (an event or a heartbeat; nginx and nchan see
the close at once): until then the dead stream holds lighttpd's two
descriptors. With the default 15 s heartbeat and thousands of closes a
second lighttpd runs out of descriptors ("sockets disabled, out-of-fds" in
its log) and stalls new connections; the `heartbeat 1s` row shows the
remedy for high-churn sites (docs/deploy.md, "Timeouts and the heartbeat").
"""
