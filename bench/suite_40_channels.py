"""Many channels with one subscriber each."""
import benchlib as bl
import systems

TITLE = "Many channels, one SSE subscriber each"


def run(ctx):
    n = bl.scaled(2000 if ctx.quick else 10000)
    rate = bl.scaled(1000)
    secs = 5 if ctx.quick else 10
    names = systems.selected(systems.PEERS)
    labels = bl.labels_of(names)

    def one(sys):
        return bl.loadgen(ctx, sys, "sse", n, f"chan{n}", channels=n, hold=2,
                          phases=[(rate, secs)], drain=5)

    res, _ = bl.each_system(ctx, names, n, one)
    rows = bl.memory_rows(res, names, "subscriber (own channel)")
    rows.insert(3, bl.responder_row(res, names))
    rows += bl.phase_rows(res, names, 0, f"{rate:,} events/s round robin over {n:,} channels")
    return f"""## {TITLE}

{n:,} SSE subscribers, each on its own channel; the publisher sends
{rate:,} 1 KB events/s for {secs} s, round robin over the channels (each
subscriber gets an event every {n / rate:.1f} s).

{bl.side_by_side(rows, names, labels)}

fastpush's p50 is level with the others, but its tail (p99 and up) is
behind nchan and Node.js here.  Not explained yet: the suspects are the
web-server hop (as above) and the broker's beacons, one per active channel
per heartbeat (2,000 here), which arrive at fastpush-sse as one burst.
{bl.errors_note(res, labels)}
"""
