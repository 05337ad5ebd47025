"""/push/metrics scraped through lighttpd and parsed as the Prometheus text
format (0.0.4): HELP and TYPE before every family, samples grouped by
family, counters named *_total, label values escaped; and the figures
move: fastpush_connections with SSE streams, fastpush_waiting_polls with
parked long-polls, fastpush_events_published_total with publishes."""
import re
import time

from harness import Env, Tap
from poll_checks import BROKER, POLL, wait_parked
from pollclient import get, start
from servers import Stack
from sse_checks import open_stream

t = Tap()

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
SAMPLE = re.compile(rf"^({NAME})(?:\{{(.*)\}})? (\S+)$")
LABEL = re.compile(rf'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"\s*(,|$)')


def unescape(v):
    return re.sub(r"\\([\\\"n])", lambda m: "\n" if m.group(1) == "n" else m.group(1), v)


def parse(text):
    """{family: {"help", "type", "samples": [(labels dict, value)]}}, or
    raises ValueError naming the first line that breaks the format."""
    fams, order = {}, []
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        m = re.match(rf"^# (HELP|TYPE) ({NAME}) (.+)$", line)
        if m:
            f = fams.setdefault(m.group(2), {"samples": []})
            key = m.group(1).lower()
            if key in f or f["samples"]:
                raise ValueError(f"line {n}: a second {m.group(1)}, or after samples: {line}")
            f[key] = m.group(3)
            if key == "type" and m.group(3) not in ("counter", "gauge", "untyped", "summary",
                                                     "histogram"):
                raise ValueError(f"line {n}: unknown type: {line}")
            if not order or order[-1] != m.group(2):
                order.append(m.group(2))
            continue
        if line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        if not m:
            raise ValueError(f"line {n}: not a sample: {line!r}")
        name, labels_text, value = m.groups()
        f = fams.get(name)
        if f is None or "help" not in f or "type" not in f:
            raise ValueError(f"line {n}: sample without HELP and TYPE before it: {line}")
        if order[-1] != name:
            raise ValueError(f"line {n}: family {name} is not contiguous")
        labels, pos = {}, 0
        while labels_text and pos < len(labels_text):
            lm = LABEL.match(labels_text, pos)
            if not lm:
                raise ValueError(f"line {n}: bad labels: {labels_text!r}")
            labels[lm.group(1)] = unescape(lm.group(2))
            pos = lm.end()
        f["samples"].append((labels, float(value)))
    return fams


def scrape(st):
    a = get(st.port, "/push/metrics")
    return parse(a.body.decode()) if a.status == 200 else {}


def value(fams, name, **labels):
    """The sum over the family's samples whose labels include `labels`."""
    return sum(v for lab, v in fams.get(name, {}).get("samples", [])
               if all(lab.get(k) == x for k, x in labels.items()))


def wait_value(st, name, want, timeout=8.0, **labels):
    """Scrape until the value is `want` (responders report every 5 s)."""
    end = time.monotonic() + timeout
    while True:
        v = value(scrape(st), name, **labels)
        if v == want or time.monotonic() > end:
            return v
        time.sleep(0.25)


with Env(t) as env:
    st = Stack(env, "lighttpd", broker=dict(BROKER), sse={"heartbeat": "1s"}, poll=dict(POLL))
    odd = "odd.name:a@b~c=d+e-f_9"          # every character a channel name may have
    st.broker.publish(odd, 1)
    for tr in ("sse", "poll"):              # their first reports have reached the broker
        st.wait_stats(lambda s: True, 8, transport=tr)
    a = get(st.port, "/push/metrics")
    t.ok(a.status == 200 and a.headers.get("content-type") == "text/plain; version=0.0.4",
         "lighttpd: /metrics answers text/plain; version=0.0.4", a.headers)
    try:
        fams, err = parse(a.body.decode()), None
    except ValueError as e:
        fams, err = {}, e
    t.ok(err is None and len(fams) > 0,
         f"the scrape parses as the Prometheus text format ({len(fams)} families)",
         f"{err}\n{a.body[:3000]!r}")
    counters = [n for n, f in fams.items() if f.get("type") == "counter"]
    t.ok(counters and all(n.endswith("_total") for n in counters),
         "every counter is named *_total", counters)
    t.ok(all(f["help"].strip() for f in fams.values()), "every family has a HELP text")
    want = ["fastpush_up", "fastpush_events_published_total", "fastpush_history_events",
            "fastpush_channel_subscribers", "fastpush_connections", "fastpush_waiting_polls",
            "fastpush_delivered_events_total", "fastpush_client_resets_total",
            "fastpush_gaps_total", "fastpush_gaps_backfilled_events_total",
            "fastpush_slow_clients_cut_total"]
    t.eq([n for n in want if n not in fams], [], "the documented families are there")
    pub = [lab.get("channel") for lab, _ in
           fams.get("fastpush_channel_published_total", {}).get("samples", [])]
    t.ok(odd in pub, "a channel label comes back exactly after unescaping", pub)
    trans = {lab.get("transport") for lab, _ in fams.get("fastpush_connections", {}).get("samples", [])}
    t.ok("sse" in trans and all(re.fullmatch(r"\d+", lab.get("pid", "")) for lab, _ in
                                          fams["fastpush_connections"]["samples"]),
         "fastpush_connections has transport and pid labels (SSE streams; poll holds none)",
         trans)
    t.ok(any(lab.get("transport") == "poll" for lab, _ in
             fams.get("fastpush_waiting_polls", {}).get("samples", [])),
         "fastpush_waiting_polls has a sample for the poll responder")
    t.eq(parse('# HELP x y\n# TYPE x gauge\nx{a="q\\"\\\\\\n"} 1\n')["x"]["samples"][0][0],
         {"a": 'q"\\\n'}, "(the test's parser unescapes \\\" \\\\ \\n)")

    # events published
    base = value(fams, "fastpush_events_published_total")
    for i in range(3):
        st.broker.publish("m1", i)
    t.eq(value(scrape(st), "fastpush_events_published_total"), base + 3,
         "fastpush_events_published_total goes up by 3 after 3 publishes")

    # SSE streams
    streams = [open_stream(st, f"/events/m{i}")[0] for i in range(2)]
    t.eq(wait_value(st, "fastpush_connections", 2, transport="sse"), 2,
         "fastpush_connections{transport=\"sse\"} is 2 with two streams open")
    subs = value(scrape(st), "fastpush_channel_subscribers", channel="m0")
    t.ok(subs >= 1, f"fastpush_channel_subscribers{{channel=\"m0\"}} counts the stream ({subs})")

    # waiting long-polls
    cur = get(st.port, "/push/poll?channel=mw").json["cursor"]
    lps = [start(st.port, f"/push/poll?channel=mw&since={cur}&wait=10") for _ in range(3)]
    wait_parked(st, 3)
    t.eq(wait_value(st, "fastpush_waiting_polls", 3, transport="poll"), 3,
         "fastpush_waiting_polls{transport=\"poll\"} is 3 with three long-polls parked")
    st.broker.publish("mw", "wake")
    t.ok(all(lp.finish(5).status == 200 for lp in lps), "one publish answers them")
    t.eq(wait_value(st, "fastpush_waiting_polls", 0, transport="poll"), 0,
         "fastpush_waiting_polls goes back to 0")
    delivered = value(scrape(st), "fastpush_delivered_events_total", transport="poll")
    t.ok(delivered >= 3, f"fastpush_delivered_events_total{{transport=\"poll\"}} counts them "
         f"({delivered:.0f})")
    for c in streams:
        c.close()
    t.eq(wait_value(st, "fastpush_connections", 0, 10, transport="sse"), 0,
         "fastpush_connections{transport=\"sse\"} returns to 0 once the streams closed")
    st.stop()
t.done()
