"""Poll requests/s and long-poll delivery."""
import benchlib as bl
import systems

TITLE = "Polling: interval-poll requests/s and long-poll delivery"


def run(ctx):
    n_poll = bl.scaled(200)
    n_lp = bl.scaled(1000)
    secs = 5 if ctx.quick else 15
    names = systems.selected(systems.PEERS)
    labels = bl.labels_of(names)

    def one(sys):
        poll = bl.loadgen(ctx, sys, "poll", n_poll, f"poll{n_poll}", hold=1, duration=secs)
        lp = bl.loadgen(ctx, sys, "longpoll", n_lp, f"lp{n_lp}", hold=1,
                        phases=[(10, secs)], drain=4)
        return {"poll": poll, "lp": lp}

    both, _ = bl.each_system(ctx, names, n_poll, one)
    poll = {k: (v.get("poll") if "poll" in v else v) for k, v in both.items()}
    lp = {k: (v.get("lp") if "lp" in v else v) for k, v in both.items()}

    def g(get):
        return {k: bl.cell(poll.get(k), get) for k in names}
    rows = [
        ("responses/s", g(lambda r: r["window"]["requests_per_s"]), False),
        ("request p50, ms", g(lambda r: r["handshake_or_request"]["p50_ms"]), True),
        ("request p99, ms", g(lambda r: r["handshake_or_request"]["p99_ms"]), True),
        ("server CPU per response, µs",
         g(lambda r: r["window"]["server_cpu_s"] * 1e6 /
           (r["window"]["requests_per_s"] * r["window"]["secs"])), True),
    ]
    rows_lp = bl.phase_rows(lp, names, 0, f"10 events/s x {secs} s to {n_lp:,} long-pollers")
    return f"""## {TITLE}

Interval poll: {n_poll:,} keep-alive clients ask "anything new since my
cursor?" back to back for {secs} s while nothing is published (the
common case; nchan answers 304, the others an empty JSON list).

{bl.side_by_side(rows, names, labels)}

Long-poll: {n_lp:,} clients hold a request each; 1 KB events at 10/s; each
answer is followed at once by the next request with the new cursor
(nchan: Etag / Last-Modified).

{bl.side_by_side(rows_lp, names, labels)}

fastpush is behind nchan (and on interval polls behind Node.js) because a
poll crosses the web server: lighttpd 1.4 opens a new FastCGI connection
to fastpush-poll for every request (it does not keep FastCGI connections
alive), and libfcgi's acceptor thread accepts it, reads the parameters
and hands the request to the event loop, two thread switches per poll.
nchan answers inside nginx and Node.js inside its own process.  Each
poll is also answered by a SINCE to the broker (over ZeroMQ, through both
sides' I/O threads), but polls that ask the same question (channels,
cursor, limit: caught-up clients all ask the same) share one: at most
one such SINCE is in flight, and a poll that arrives after it left waits
for the next, so a publish acknowledged before the poll is always in its
answer (fcgi-poll/batch.c; answering from the responder's own feed was
tried and reverted, because an event the broker has already acknowledged
may not have reached that feed yet).
A long-poll pays the same
per-request cost again on every re-request after an event.
{bl.errors_note(poll, labels, "Interval poll: not available, errors and warnings")}{
bl.errors_note(lp, labels, "Long-poll: not available, errors and warnings")}
"""
