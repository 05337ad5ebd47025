"""SSE at 10,000 subscribers: idle memory, then broadcast of 1 KB events
to all of them, every system side by side with the same client."""
import benchlib as bl
import systems

TITLE = "SSE: idle memory and broadcast at 10,000 subscribers"


def run(ctx):
    n = bl.scaled(10000)
    rates = [1, 10] if ctx.quick else [1, 10, 20]
    secs = 5 if ctx.quick else 10
    names = systems.selected(systems.PEERS)
    labels = bl.labels_of(names)

    def one(sys):
        return bl.loadgen(ctx, sys, "sse", n, f"fanout{n}", hold=3,
                          phases=[(r, secs) for r in rates], drain=5)

    res, notes = bl.each_system(ctx, names, n, one)
    rows = bl.memory_rows(res, names, "idle subscriber")
    rows.insert(3, bl.responder_row(res, names))
    table_mem = bl.side_by_side(rows, names, labels)
    rows = []
    for i, r in enumerate(rates):
        rows += bl.phase_rows(res, names, i, f"{r} event/s x {secs} s")
    table_bc = bl.side_by_side(rows, names, labels)
    mem_plot = bl.plot(ctx, "idle-memory", f"Server memory per idle SSE subscriber ({n:,})",
                       "KB (PSS, all server processes)",
                       {labels[k]: [bl.cell(res.get(k), lambda r: r["mem"]["per_conn_pss_kb"])]
                        for k in names}, [f"{n:,} subscribers"])
    lat_plot = bl.latency_plot(ctx, "latency-fanout", f"SSE broadcast to {n:,}: {rates[-1]} event/s",
                               res, names, labels, len(rates) - 1)
    return f"""## {TITLE}

{n:,} SSE subscribers on one channel, opened at each system's ramp rate by
`loadgen` (same client for all); memory sampled after 3 s idle, as the PSS
and RSS growth of **all** the system's processes divided by the
subscribers. Then 1 KB events at each rate for {secs} s; latency is
publish (just before the publisher's send) to receipt by each client.
Ratios: fastpush's advantage (>1 = fastpush better, lower memory or
latency, higher delivery).

### Idle memory

{table_mem}

{mem_plot}

### Broadcast

{table_bc}

{lat_plot}

Where fastpush is behind nchan on latency, the cause is the web-server
hop.  nchan is a module inside nginx: an event goes from its shared
memory straight to the client sockets.  A fastpush event is encoded once
by fastpush-sse and written as a FastCGI record to every stream's socket,
and lighttpd then parses each record and copies it to its client: in a
profile of the 1,000-subscriber broadcast lighttpd used about five times
the CPU of fastpush-sse (24 % against 5 % of a core).  That hop is what
running behind an unmodified web server costs; it is also why the memory
per subscriber is half of nchan's (lighttpd holds a stream in ~4.7 KB,
fastpush-sse in ~0.4 KB).  Over WebSocket, where no web server sits in the
path, fastpush is level with or ahead of nchan (next section).
{bl.errors_note(res, labels)}
"""
