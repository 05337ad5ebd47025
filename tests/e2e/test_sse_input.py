"""Bad requests to fastpush-sse through each web server: 405, 400, 414,
404, 503 with JSON errors; CORS; and a stream read with curl -N."""
import json
import time

from harness import Env, Tap
from servers import Stack
from sse_checks import MAX_DELAY_MS, curl_stream, open_stream

t = Tap()

MANY = ",".join(f"c{i}" for i in range(33))     # max-channels is 32
CASES = [
    # method, path, headers, status, error code
    ("POST", "/events/a", {"Content-Type": "text/plain"}, 405, "method_not_allowed"),
    ("DELETE", "/events/a", {}, 405, "method_not_allowed"),
    ("GET", "/events", {}, 400, "no_channel"),
    ("GET", "/events/", {}, 400, "no_channel"),
    ("GET", "/events/a%20b", {}, 400, "bad_channel"),
    ("GET", "/events/" + "c" * 200, {}, 400, "bad_channel"),
    ("GET", "/events/" + MANY, {}, 400, "bad_channel"),
    ("GET", "/events?channel=a&channel=b%3Cc", {}, 400, "bad_channel"),
    ("GET", "/events/a", {"Last-Event-ID": "bogus"}, 400, "bad_cursor"),
    ("GET", "/events/a?since=abc-007", {}, 400, "bad_cursor"),
    ("GET", "/events/a?last_event_id=nonsense", {}, 400, "bad_cursor"),
    ("GET", "/events/a?x=%zz", {}, 400, "bad_request"),
    ("GET", "/events/a%zz", {}, 400, "bad_request"),
    ("GET", "/events/a?pad=" + "y" * 5000, {}, 414, "query_too_long"),
    ("GET", "/eventsx/a", {}, 404, "not_found"),
]


def check_errors(st):
    k = st.kind
    for method, path, headers, status, code in CASES:
        what = f"{k}: {method} {path[:40]}{'...' if len(path) > 40 else ''} " \
               f"{' '.join(headers.values())} -> {status}"
        if k == "lighttpd" and "?x=%zz" in path:
            # lighttpd re-encodes a stray % in the query as %25: valid
            c = st.stream(path)
            t.eq(c.status, 200, what.replace("-> 400", "-> 200") + " (lighttpd sends %25zz)")
            c.close()
            continue
        body = b"" if method == "POST" else None
        got, h, raw = st.request(path, method=method, headers=headers, body=body)
        if (k == "apache" and path.startswith("/eventsx")) or \
                (k != "lighttpd" and "a%zz" in path):
            # Apache maps /events by path segment; Apache and nginx check
            # the path's encoding: they answer these with their own page
            t.eq(got, status, what + f" (from {k})")
            continue
        try:
            j = json.loads(raw)
        except ValueError:
            j = {}
        ok = got == status and j.get("error") == code and j.get("message") and \
            h.get("content-type") == "application/json"
        if status == 405:
            ok = ok and h.get("allow") == "GET"
        t.ok(ok, what + f" {code}", f"{got} {h} {raw[:200]!r}")


def check_full(st):
    """max-streams 6: the 7th stream gets 503 with Retry-After."""
    k = st.kind
    st.wait_stats(lambda s: s["streams"] == 0, 20)     # earlier streams are gone
    clients = [open_stream(st, f"/events/full{i}")[0] for i in range(6)]
    got, h, raw = st.request("/events/full9")
    t.ok(got == 503 and h.get("retry-after") == "5" and
         json.loads(raw or b"{}").get("error") == "too_many_streams",
         f"{k}: past max-streams: 503, Retry-After, too_many_streams", f"{got} {h} {raw!r}")
    for c in clients:
        c.close()


def check_cors(st):
    k = st.kind
    c = st.stream("/events/cors", headers={"Origin": "https://app.example"})
    t.ok(c.status == 200 and c.headers.get("access-control-allow-origin") == "https://app.example"
         and "origin" in c.headers.get("vary", "").lower(),
         f"{k}: an allowed Origin gets Access-Control-Allow-Origin and Vary", c.headers)
    c.close()
    c = st.stream("/events/cors", headers={"Origin": "https://evil.example"})
    t.ok(c.status == 200 and "access-control-allow-origin" not in c.headers,
         f"{k}: another Origin gets no CORS header (the browser refuses the stream)")
    c.close()
    got, h, _ = st.request("/events", headers={"Origin": "https://app.example"})
    t.ok(got == 400 and h.get("access-control-allow-origin") == "https://app.example",
         f"{k}: errors carry the CORS header too, so the page can read them")


def check_curl(st):
    k = st.kind
    p, lines = curl_stream(f"http://127.0.0.1:{st.port}/events/curl", 10)
    ok = wait(lambda: any(x == "event: ready" for _, x in lines), 5)
    t0 = time.monotonic()
    eid = st.broker.publish("curl", {"via": "curl"})["id"]
    ok = ok and wait(lambda: any(x == f"id: {eid}" for _, x in lines), 2)
    got = [ts for ts, x in lines if x.startswith("data: {") and eid in x]
    delay = (got[0] - t0) * 1000 if got else None
    t.ok(ok and got and delay < MAX_DELAY_MS and p.poll() is None,
         f"{k}: curl -N shows the event while the stream is open ({delay and round(delay, 1)} ms)",
         lines)
    p.terminate()
    p.wait()


def wait(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.01)
    return cond()


for kind in ("lighttpd", "apache", "nginx"):
    with Env(t) as env:
        st = Stack(env, kind, sse={"heartbeat": "1s", "max_streams": 6,
                                   "allow_origin": "https://app.example"})
        check_errors(st)
        check_cors(st)
        check_curl(st)
        check_full(st)
        t.ok(st.sse.alive(), f"{kind}: fastpush-sse still serving after every bad request")
        st.stop()
t.done()
