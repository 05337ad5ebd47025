"""Broadcast of 1 KB events to 1,000 subscribers over SSE and over
WebSocket at several rates."""
import benchlib as bl
import systems

TITLE = "Broadcast to 1,000 subscribers: SSE and WebSocket"


def run(ctx):
    n = bl.scaled(1000)
    rates = [20, 100] if ctx.quick else [1, 20, 100, 200]
    secs = 4 if ctx.quick else 10
    names = systems.selected(systems.PEERS)
    labels = bl.labels_of(names)
    out = [f"## {TITLE}\n\n{n:,} subscribers on one channel; 1 KB events at "
           f"{', '.join(map(str, rates))} events/s for {secs} s each "
           f"(up to {n * rates[-1]:,} deliveries/s). Each transport starts the "
           f"system fresh.\n"]
    for mode in ("sse", "ws"):
        def one(sys):
            return bl.loadgen(ctx, sys, mode, n, f"bc{n}-{mode}", hold=1,
                              phases=[(r, secs) for r in rates], drain=4)

        res, _ = bl.each_system(ctx, names, n, one)
        rows = bl.memory_rows(res, names, "idle subscriber")
        rows.insert(3, bl.responder_row(res, names,
                                        "fastpush-sse" if mode == "sse" else "fastpush-ws"))
        for i, r in enumerate(rates):
            rows += bl.phase_rows(res, names, i, f"{r} event/s")
        out.append(f"### {mode.upper() if mode == 'sse' else 'WebSocket'}\n\n"
                   + bl.side_by_side(rows, names, labels) + "\n")
        out.append(bl.latency_plot(ctx, f"latency-bc1k-{mode}",
                                   f"{mode.upper()} broadcast to {n:,}: {rates[-1]} event/s",
                                   res, names, labels, len(rates) - 1))
        out.append(bl.errors_note(res, labels))
    return "\n".join(out)
