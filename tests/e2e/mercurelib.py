"""Helpers of the Mercure hub tests (test_mercure, test_mercure_subs):
subscriptions and form publishes as Mercure clients send them."""
import re
import urllib.parse

HUB = "/.well-known/mercure"
ID = re.compile(r"^#[0-9a-z]{1,32}-[1-9][0-9]*$")     # the hub's own ids: "#" + cursor


def sub_path(*topics, **q):
    return HUB + "?" + urllib.parse.urlencode([("topic", x) for x in topics] + list(q.items()))


def form(**fields):
    pairs = []
    for k, v in fields.items():
        for x in (v if isinstance(v, list) else [v]):
            pairs.append((k, x))
    return urllib.parse.urlencode(pairs).encode()


def publish(st, token, **fields):
    """POST an update (form-encoded, Bearer token): (status, body)."""
    h = {"Content-Type": "application/x-www-form-urlencoded"}
    if token:
        h["Authorization"] = "Bearer " + token
    s, _, body = st.request(HUB, method="POST", headers=h, body=form(**fields))
    return s, body.decode(errors="replace")


def subscribe(st, *topics, token=None, headers=None, **q):
    """A subscription stream (SseClient) to the topic selectors."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    return st.stream(sub_path(*topics, **q), headers=h)
