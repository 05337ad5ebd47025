"""Bad requests to fastpush-poll through each web server, on every route:
400/404/405/414 with JSON errors and no-store; HTTP publish errors (401,
403, 400, 413, 415; 403 when publishing is off); CORS for an allowed
origin and none for another, OPTIONS preflights; caching headers per
route."""
import json

from harness import Env, Tap
from poll_checks import BROKER, POLL, SECRET, publish_http
from pollclient import get
from servers import Stack

t = Tap()

MANY = ",".join(f"c{i}" for i in range(33))     # max-channels is 32
GET_CASES = [
    # path, status, error code
    ("/push/poll", 400, "bad_request"),
    ("/push/poll?since=earliest", 400, "bad_request"),
    ("/push/poll?channel=a%20b", 400, "bad_request"),
    ("/push/poll?channel=" + "c" * 200, 400, "bad_request"),
    ("/push/poll?channel=" + MANY, 400, "bad_request"),
    ("/push/poll?channel=a&channel=b%3Cc", 400, "bad_request"),
    ("/push/poll?channel=a&since=bogus", 400, "bad_cursor"),
    ("/push/poll?channel=a&since=abc-x7", 400, "bad_cursor"),
    ("/push/poll?channel=a&since=-5", 400, "bad_cursor"),
    ("/push/poll?channel=a&wait=11", 400, "bad_request"),        # max-wait 10s
    ("/push/poll?channel=a&wait=-1", 400, "bad_request"),
    ("/push/poll?channel=a&wait=soon", 400, "bad_request"),
    ("/push/poll?channel=a&limit=0", 400, "bad_request"),
    ("/push/poll?channel=a&limit=1001", 400, "bad_request"),     # max-limit 1000
    ("/push/poll?channel=a&limit=ten", 400, "bad_request"),
    ("/push/poll?channel=a&pad=" + "y" * 5000, 414, "query_too_long"),
    ("/push/state", 400, "bad_channel"),
    ("/push/state?channel=a,b", 400, "bad_channel"),
    ("/push/state?channel=a%21", 400, "bad_channel"),
    ("/push/state?channel=a&pad=" + "y" * 5000, 414, "query_too_long"),
    ("/push/stats?pad=" + "y" * 5000, 414, "query_too_long"),
    ("/push/nope", 404, "not_found"),
    ("/push", 404, "not_found"),
    ("/push/poll/extra", 404, "not_found"),
]
METHOD_CASES = [
    # method, path, Allow
    ("POST", "/push/poll?channel=a", "GET, OPTIONS"),
    ("DELETE", "/push/state?channel=a", "GET, OPTIONS"),
    ("PUT", "/push/stats", "GET, OPTIONS"),
    ("POST", "/push/metrics", "GET, OPTIONS"),
    ("GET", "/push/publish", "POST, OPTIONS"),
    ("PUT", "/push/publish", "POST, OPTIONS"),
]


def is_error(a, status, code):
    j = a.json or {}
    return a.status == status and j.get("error") == code and j.get("message") and \
        a.headers.get("content-type") == "application/json" and \
        a.headers.get("cache-control") == "no-store"


def check_errors(st):
    k = st.kind
    for path, status, code in GET_CASES:
        a = get(st.port, path)
        t.ok(is_error(a, status, code),
             f"{k}: GET {path[:45]}{'...' if len(path) > 45 else ''} -> {status} {code}", a)
    for method, path, allow in METHOD_CASES:
        body = b"{}" if method in ("POST", "PUT") else None
        a = get(st.port, path, method=method, body=body,
                headers={"Content-Type": "application/json"} if body else None)
        t.ok(is_error(a, 405, "method_not_allowed") and a.headers.get("allow") == allow,
             f"{k}: {method} {path} -> 405 with Allow: {allow}", a)
    a = get(st.port, "/push/poll?channel=never-used.x:y@z~1=2%2B3-4_5")
    t.ok(a.status == 200 and a.json["events"] == [] and a.json["reset"] == [],
         f"{k}: a valid channel nobody published to: 200, nothing, no reset", a)
    a = get(st.port, "/push/poll?channel=never-used&since=earliest")
    t.ok(a.status == 200 and a.json["events"] == [], f"{k}: ... also since=earliest", a)


def check_publish_errors(st):
    k = st.kind
    ev = {"channel": "pe", "data": 1}
    cases = [
        ("no X-Fastpush-Secret", publish_http(st, ev, secret=None), 401, "unauthorized"),
        ("a wrong secret", publish_http(st, ev, secret="nope"), 403, "forbidden"),
        ("a secret one byte short", publish_http(st, ev, secret=SECRET[:-1]), 403, "forbidden"),
        ("invalid JSON", publish_http(st, None, raw=b'{"channel": "pe",'), 400, "invalid_json"),
        ("no channel", publish_http(st, {"data": 1}), 400, "invalid_event"),
        ("a bad channel name", publish_http(st, {"channel": "a b", "data": 1}), 400,
         "invalid_event"),
        ("not an object", publish_http(st, [1, 2]), 400, "invalid_event"),
        ("a body over max-body (64k)", publish_http(st, {"channel": "pe", "data": "x" * 70000}),
         413, "too_large"),
        ("an event over the broker's max-event-bytes (8k)",
         publish_http(st, {"channel": "pe", "data": "x" * 9000}), 413, "too_large"),
        ("multipart/form-data", publish_http(st, ev, ctype="multipart/form-data; boundary=x"),
         415, "unsupported_media_type"),
        ("a repeated key in data (the broker refuses it too)",
         publish_http(st, None, raw=b'{"channel":"pe","data":{"a":1,"a":2}}'), 400, "invalid_json"),
        ("\\u0000 in a key of data", publish_http(st, None, raw=b'{"channel":"pe","data":{"k\\u0000":1}}'),
         400, "invalid_json"),
    ]
    for what, a, status, code in cases:
        t.ok(is_error(a, status, code), f"{k}: publish with {what} -> {status} {code}", a)
    a = get(st.port, "/push/poll?channel=pe&since=earliest")
    t.eq(a.json and a.json["events"], [], f"{k}: none of them was published")
    ack = publish_http(st, None, raw=b'{"channel":"pe","data":{"s":"a\\u0000b"}}')
    a = get(st.port, "/push/poll?channel=pe&since=earliest")
    t.ok(ack.status == 202 and a.json and [e["data"] for e in a.json["events"]] ==
         [{"s": "a\u0000b"}], f"{k}: \\u0000 inside a string of data is published as sent, "
         "not as null", (ack, a))


def check_cors(st):
    k = st.kind
    o = {"Origin": "https://app.example"}
    cur = get(st.port, "/push/poll?channel=co").json["cursor"]
    answers = {
        "poll": get(st.port, f"/push/poll?channel=co&since={cur}", headers=o),
        "state": get(st.port, "/push/state?channel=co", headers=o),
        "stats": get(st.port, "/push/stats", headers=o),
        "publish": get(st.port, "/push/publish", method="POST", body=b'{"channel":"co","data":1}',
            headers=dict(o, **{"X-Fastpush-Secret": SECRET, "Content-Type": "application/json"})),
        "an error": get(st.port, "/push/poll", headers=o),
        "a 304": get(st.port, f"/push/poll?channel=co&since={cur}",
                     headers=dict(o, **{"If-None-Match": f'"{cur}"'})),
    }
    for what, a in answers.items():
        h = a.headers
        t.ok(h.get("access-control-allow-origin") == "https://app.example" and
             "origin" in h.get("vary", "").lower() and
             h.get("access-control-allow-credentials") == "true" and
             h.get("access-control-expose-headers") == "ETag",
             f"{k}: allowed Origin on {what} ({a.status}): Allow-Origin echoed, Vary, "
             f"credentials, Expose-Headers ETag", h)
    a = get(st.port, "/push/poll?channel=co", headers={"Origin": "https://evil.example"})
    t.ok(a.status == 200 and not any(x.startswith("access-control-") for x in a.headers),
         f"{k}: another Origin: no CORS header at all", a.headers)
    a = get(st.port, "/push/publish", method="OPTIONS", headers=dict(o, **{
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type, x-fastpush-secret"}))
    h = a.headers
    t.ok(a.status == 204 and h.get("access-control-allow-origin") == "https://app.example" and
         "POST" in h.get("access-control-allow-methods", "") and
         "x-fastpush-secret" in h.get("access-control-allow-headers", "").lower() and
         "if-none-match" in h.get("access-control-allow-headers", "").lower(),
         f"{k}: OPTIONS preflight from the allowed origin: 204 with methods and headers", a)
    a = get(st.port, "/push/poll?channel=co", method="OPTIONS",
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
    t.ok(a.status == 204 and "access-control-allow-origin" not in a.headers,
         f"{k}: a preflight from another origin gets no Allow-Origin (the browser refuses)", a)


def check_caching(st):
    k = st.kind
    cur = get(st.port, "/push/poll?channel=ca").json["cursor"]
    st.broker.publish("ca", 1, key="k")
    want = {
        "/push/poll?channel=ca&since=" + cur: "no-cache",
        "/push/state?channel=ca": "no-cache",
        "/push/stats": "no-store",
        "/push/metrics": "no-store",
    }
    for path, cc in want.items():
        a = get(st.port, path)
        etag = a.headers.get("etag")
        t.ok(a.status == 200 and a.headers.get("cache-control") == cc and
             (bool(etag) == (cc == "no-cache")),
             f"{k}: {path.split('?')[0]}: Cache-Control {cc}"
             f"{', with an ETag' if cc == 'no-cache' else ', no ETag'}", a.headers)
    a = get(st.port, "/push/metrics")
    t.eq(a.headers.get("content-type"), "text/plain; version=0.0.4",
         f"{k}: /metrics: Content-Type text/plain; version=0.0.4")


for kind in ("lighttpd", "apache", "nginx", "apache-fcgid"):
    with Env(t) as env:
        st = Stack(env, kind, broker=dict(BROKER, max_event_bytes="8k"), sse=False,
                   poll=dict(POLL))
        check_errors(st)
        check_publish_errors(st)
        check_cors(st)
        check_caching(st)
        if st.poll:
            t.ok(st.poll.alive(), f"{kind}: fastpush-poll still serving after every bad request")
        st.stop()

with Env(t) as env:
    st = Stack(env, "lighttpd", sse=False, poll={})
    a = publish_http(st, {"channel": "x", "data": 1})
    t.ok(is_error(a, 403, "publish_disabled"),
         "lighttpd: without publish-secret, POST /publish -> 403 publish_disabled", a)
    a = publish_http(st, {"channel": "x", "data": 1}, secret="")
    t.ok(is_error(a, 403, "publish_disabled"), "lighttpd: ... also with an empty secret", a)
    st.stop()
t.done()
