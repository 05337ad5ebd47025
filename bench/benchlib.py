"""Shared by the side-by-side suites: run loadgen against a system, and
turn results into Markdown tables (fastpush's ratio to each peer) and
gnuplot SVG plots.

$BENCH_SCALE (default 1) multiplies every connection count, so a
developer can run the suites small (BENCH_SCALE=0.1); $BENCH_SYSTEMS
limits the systems (comma-separated names from systems.py).
"""
import json
import os
import signal
import subprocess
import threading
import time

import systems

SCALE = float(os.environ.get("BENCH_SCALE", "1"))


def scaled(n):
    return max(10, int(round(n * SCALE)))


def raw_dir(ctx):
    d = getattr(ctx, "raw", None) or os.path.join(os.path.dirname(__file__), "results", "raw")
    os.makedirs(d, exist_ok=True)
    return d


def loadgen(ctx, sys, mode, conns, tag, phases=(), channels=1, hold=2.0, duration=0,
            churn=0, interval=0, drain=5.0, extra=()):
    """Run loadgen against a started system; returns its JSON result,
    or a dict with "error" when the transport is missing or the run
    failed.  The JSON is kept in the raw results directory."""
    urls = sys.url(mode)
    if not urls:
        return {"error": sys.missing(mode), "missing": True}
    argv = [os.path.join(ctx.bin, "loadgen"), "--mode", mode, "--conns", str(conns),
            "--rate", str(sys.ramp()), "--channels", str(channels), "--hold", str(hold),
            "--drain", str(drain), "--label", f"{sys.name} {tag}"]
    for u in urls:
        argv += ["--url", u]
    if phases or mode in ("longpoll", "poll"):
        kind, target = sys.pub(mode)
        argv += ["--pub", kind, target]
    for rate, secs in phases:
        argv += ["--phase", f"{rate}:{secs}"]
    if duration:
        argv += ["--duration", str(duration)]
    if churn:
        argv += ["--churn", str(churn)]
    if interval:
        argv += ["--interval", str(interval)]
    if mode == "ws" and sys.ws_sub():
        argv += ["--ws-sub", sys.ws_sub()]
    if conns > 4000:
        argv += ["--workers", str(min(4, conns // 4000 + 1))]
    for pid in sys.pids():
        argv += ["--pid", str(pid)]
    argv += list(extra)
    out = os.path.join(raw_dir(ctx), f"{sys.name}-{tag}.json")
    argv += ["--json", out]
    ctx.log(f"  {sys.name} {tag}: loadgen {mode} x{conns}")
    t0 = time.time()
    budget = 60 + duration + hold + drain + sum(secs + drain for _, secs in phases)
    rc, tail = _progress(argv, limit=budget)
    if rc != 0 or not os.path.exists(out):
        return {"error": f"loadgen failed ({rc}): {tail[-300:]}"}
    with open(out) as f:
        r = json.load(f)
    r["wall_s"] = time.time() - t0
    if r["ramp"]["connected"] < conns and not churn:
        r["warning"] = f"only {r['ramp']['connected']} of {conns} connected"
    ctx.log(f"    connected {r['ramp']['connected']}/{conns}, "
            f"{r['mem']['per_conn_pss_kb']:.1f} KB PSS/conn"
            + "".join(f"; {ph['rate']:g}/s: {ph['delivery_ratio'] * 100:.1f}% p99 "
                      f"{ph['p99_ms']:.0f} ms" for ph in r["phases"])
            + (f"; {r['window']['requests_per_s']:.0f} req/s" if duration and not churn else "")
            + (f"; {r['window']['cycles_per_s']:.0f} cycles/s" if churn else "")
            + (f"; error: {r['first_error']}" if r["first_error"] else ""))
    return r


def _progress(argv, every=5.0, limit=300.0):
    """Run loadgen, passing on a progress line every `every` seconds
    (every line with $BENCH_VERBOSE); after `limit` seconds it is killed
    (a system that never lets the ramp finish must not stall the suite).
    Returns (status, last lines)."""
    verbose = bool(os.environ.get("BENCH_VERBOSE"))
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)

    def kill():                 # loadgen and its worker processes
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
    timer = threading.Timer(limit, kill)
    timer.start()
    last, shown = [], 0.0
    for line in p.stderr:
        last = (last + [line])[-5:]
        if verbose or time.time() - shown >= every:
            print("      " + line.rstrip(), flush=True)
            shown = time.time()
    rc = p.wait()
    if not timer.is_alive():
        last.append(f"killed after {limit:.0f} s\n")
    timer.cancel()
    return rc, "".join(last)


def each_system(ctx, names, conns, fn):
    """Start each system in turn (sized for conns) and call fn(sys);
    returns {name: result or {"error": ...}} and the systems' notes."""
    results, notes = {}, {}
    for name in systems.selected(names):
        sys = systems.make(name, ctx, conns)
        try:
            with sys:
                notes[name] = sys
                remember(sys)
                results[name] = fn(sys)
        except Exception as e:          # keep going with the others
            ctx.log(f"  {name}: FAILED: {e}")
            results[name] = {"error": f"{type(e).__name__}: {e}"}
            tail = sys.log_tail(600)
            if tail:
                results[name]["log"] = tail
    return results, notes


# ------------------------------------------------------------ formatting

def fmt(v, unit=""):
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return f"{v:,}{unit}"
    if abs(v) >= 100:
        s = f"{v:,.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.2f}"
    return s + unit


def ratio_cell(fp, peer, lower_better):
    """fastpush's value relative to a peer's, as 'N.N× better/worse'."""
    if fp in (None, 0) or peer in (None, 0) or isinstance(fp, str) or isinstance(peer, str):
        return "–"
    r = peer / fp if lower_better else fp / peer
    return f"{r:.2f}×"


def side_by_side(rows, names, labels, base="fastpush"):
    """rows: [(metric, {name: value or str}, lower_better or None)].
    One column per system, then fastpush's ratio to each peer
    (above 1 = fastpush better)."""
    peers = [n for n in names if n != base]
    head = "| metric | " + " | ".join(labels[n] for n in names)
    if base in names and peers:
        head += " | " + " | ".join(f"fastpush vs {labels[p]}" for p in peers)
    head += " |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for metric, vals, lower in rows:
        cells = [fmt(vals.get(n)) for n in names]
        line = f"| {metric} | " + " | ".join(cells)
        if base in names and peers:
            line += " | " + " | ".join(
                ratio_cell(vals.get(base), vals.get(p), lower) if lower is not None else ""
                for p in peers)
        lines.append(line + " |")
    return "\n".join(lines)


def why(r):
    """A short cell for a system that did not produce a number."""
    if r is None:
        return "not run"
    if r.get("missing"):
        return "n/a"
    if "error" in r:
        return "failed"
    return None


def errors_note(results, labels, title="Not available, errors and warnings"):
    out = []
    for n, r in results.items():
        if r and r.get("missing"):
            out.append(f"- {labels.get(n, n)}: n/a, {r['error']}")
        elif r and "error" in r:
            out.append(f"- {labels.get(n, n)}: {r['error']}")
        elif r and r.get("first_error"):
            out.append(f"- {labels.get(n, n)}: first client error: `{r['first_error']}`")
        if r and r.get("warning"):
            out.append(f"- {labels.get(n, n)}: {r['warning']}")
    return (f"\n\n{title}:\n\n" + "\n".join(out)) if out else ""


def configs_md(notes):
    out = []
    for name, sys in notes.items():
        out.append(f"- **{sys.label}**: {sys.describe()}")
    return "\n".join(out)


# ------------------------------------------------------------ plots

def plot(ctx, name, title, ylabel, series, xlabels, logy=False):
    """Grouped bar chart: series = {system label: [value per xlabel]}.
    Writes NAME.svg next to RESULTS.md; returns the Markdown image link or ''."""
    if not systems.have("gnuplot"):
        return ""
    out_dir = getattr(ctx, "out_dir", os.path.join(os.path.dirname(__file__), "results"))
    dat = os.path.join(ctx.tmp, f"{name}.dat")
    labels = list(series)
    with open(dat, "w") as f:
        f.write("x " + " ".join(f'"{l}"' for l in labels) + "\n")
        for i, x in enumerate(xlabels):
            vals = []
            for l in labels:
                v = series[l][i] if i < len(series[l]) else None
                vals.append("NaN" if v is None or isinstance(v, str) else f"{v:.4f}")
            f.write(f'"{x}" ' + " ".join(vals) + "\n")
    svg = os.path.join(out_dir, f"{name}.svg")
    cols = ", ".join(f"'{dat}' using {k + 2}:xtic(1) title columnheader({k + 2})"
                     for k in range(len(labels)))
    script = f"""set terminal svg size 900,420 dynamic font 'sans,11'
set output '{svg}'
set title '{title}'
set ylabel '{ylabel}'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top left
set grid ytics
set yrange [0:*]
{"set logscale y" if logy else ""}
plot {cols}
"""
    p = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
    if p.returncode != 0:
        ctx.log(f"gnuplot failed: {p.stderr[-300:]}")
        return ""
    return f"![{title}]({name}.svg)"


# ------------------------------------------------------------ common rows

CONFIGS = {}                    # system label -> (description, {file: text})


def remember(sys):
    """Keep a started system's configuration for the configs section."""
    if sys.label not in CONFIGS:
        CONFIGS[sys.label] = (sys.describe(), dict(sys.configs))


def cell(r, get):
    """get(r) for a usable result, else a short reason."""
    w = why(r)
    if w:
        return w
    try:
        return get(r)
    except (KeyError, IndexError, TypeError, ZeroDivisionError):
        return "–"


def memory_rows(results, names, what="connection"):
    return [
        ("connected", {n: cell(results.get(n), lambda r: r["ramp"]["connected"]) for n in names},
         None),
        (f"server PSS per {what}, KB", {n: cell(results.get(n),
                                                lambda r: r["mem"]["per_conn_pss_kb"])
                                        for n in names}, True),
        (f"server RSS per {what}, KB", {n: cell(results.get(n),
                                                lambda r: r["mem"]["per_conn_rss_kb"])
                                        for n in names}, True),
        ("server processes", {n: cell(results.get(n), lambda r: r["mem"]["idle"]["procs"])
                              for n in names}, None),
        ("connect to response head p50, ms",
         {n: cell(results.get(n), lambda r: r["handshake_or_request"]["p50_ms"])
          for n in names}, True),
        ("connect to response head p99, ms",
         {n: cell(results.get(n), lambda r: r["handshake_or_request"]["p99_ms"])
          for n in names}, True),
    ]


def proc_per_conn(r, proc):
    """PSS growth of the processes named proc, per connection (KB)."""
    m0, m1 = r["mem"]["base"]["by_name"], r["mem"]["idle"]["by_name"]
    if proc not in m1:
        return "–"
    grow = m1[proc]["pss_kb"] - m0.get(proc, {"pss_kb": 0})["pss_kb"]
    return grow / max(r["ramp"]["connected"], 1)


def responder_row(results, names, proc="fastpush-sse"):
    """fastpush's own responder share (the DESIGN target is < 1 KB per
    idle stream); '–' for the peers."""
    return (f"of which {proc}, PSS KB per connection",
            {n: cell(results.get(n), lambda r: proc_per_conn(r, proc)) for n in names}, None)


def phase_rows(results, names, index, title):
    """Rows for publish phase `index` of each result."""
    def ph(get):
        return {n: cell(results.get(n), lambda r: get(r["phases"][index])) for n in names}
    return [
        (f"**{title}**: delivered, % (by the end of the drain)",
         ph(lambda p: 100.0 * p["delivery_ratio"]), False),
        ("deliveries/s", ph(lambda p: p["deliveries_per_s"]), False),
        ("latency p50, ms", ph(lambda p: p["p50_ms"]), True),
        ("latency p90, ms", ph(lambda p: p["p90_ms"]), True),
        ("latency p99, ms", ph(lambda p: p["p99_ms"]), True),
        ("latency p99.9, ms", ph(lambda p: p["p999_ms"]), True),
        ("latency max, ms", ph(lambda p: p["max_ms"]), True),
        ("bytes on the wire per event", ph(lambda p: p["bytes_per_event"]), True),
        ("server CPU per delivery, µs", ph(lambda p: p["server_us_per_delivery"]), True),
    ]


def latency_plot(ctx, name, title, results, names, labels, index):
    series = {}
    for n in names:
        r = results.get(n)
        if why(r) or len(r.get("phases", [])) <= index:
            continue
        p = r["phases"][index]
        series[labels[n]] = [p["p50_ms"], p["p90_ms"], p["p99_ms"], p["p999_ms"], p["max_ms"]]
    if not series:
        return ""
    return plot(ctx, name, title, "ms (publish to receipt)", series,
                ["p50", "p90", "p99", "p99.9", "max"], logy=True)


def labels_of(names):
    return {n: systems.SYSTEMS[n].label for n in names}
