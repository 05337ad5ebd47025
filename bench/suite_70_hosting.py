"""fastpush SSE behind lighttpd, nginx and Apache."""
import benchlib as bl
import systems

TITLE = "Hosting: fastpush SSE behind lighttpd, nginx and Apache"


def run(ctx):
    n = bl.scaled(1000 if ctx.quick else 5000)
    rate = 20
    secs = 5 if ctx.quick else 10
    names = systems.selected(systems.HOSTING + ["nchan"])
    labels = bl.labels_of(names)

    def one(sys):
        return bl.loadgen(ctx, sys, "sse", n, f"host{n}", hold=2,
                          phases=[(rate, secs)], drain=5)

    res, _ = bl.each_system(ctx, names, n, one)
    rows = bl.memory_rows(res, names, "idle subscriber")
    rows.insert(3, bl.responder_row(res, names))
    rows += bl.phase_rows(res, names, 0, f"{rate} events/s x {secs} s")
    by_proc = []
    for k in names:
        r = res.get(k)
        if bl.why(r):
            continue
        m0, m1, c = r["mem"]["base"]["by_name"], r["mem"]["idle"]["by_name"], r["ramp"]["connected"]
        parts = ", ".join(f"{p} {(m1[p]['pss_kb'] - m0.get(p, {'pss_kb': 0})['pss_kb']) / max(c, 1):.2f}"
                          for p in m1)
        by_proc.append(f"- {labels[k]}: {parts} (KB PSS per subscriber)")
    mem_plot = bl.plot(ctx, "hosting-memory", f"Server memory per idle SSE subscriber ({n:,})",
                       "KB (PSS, all server processes)",
                       {labels[k]: [bl.cell(res.get(k), lambda r: r["mem"]["per_conn_pss_kb"])]
                        for k in names}, [f"{n:,} subscribers"])
    return f"""## {TITLE}

The same broker and fastpush-sse, with the web server in front changed;
nchan (an nginx module) for reference. {n:,} SSE subscribers, then 1 KB
events at {rate}/s. Ratios compare fastpush behind lighttpd with the others.

{bl.side_by_side(rows, names, labels)}

{mem_plot}

Memory growth by process:

{chr(10).join(by_proc)}

The responder's own share is the same behind every server (~0.4 KB per
stream); the rest is the web server's.  Apache's mod_proxy_fcgi holds one
worker thread (with its stack) per stream for the stream's lifetime, hence
its tens of KB; nginx keeps per-request buffers and a FastCGI upstream
connection.  For many long-lived streams lighttpd is the host to choose,
and the bridge (no web server in the path) costs least of all.
{bl.errors_note(res, labels)}
"""
