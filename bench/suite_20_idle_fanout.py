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
{bl.errors_note(res, labels)}
"""
