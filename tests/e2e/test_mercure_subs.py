"""The Mercure hub's active subscriptions (mercure-subscriptions on), behind
lighttpd, Apache (mod_proxy_fcgi) and nginx with the conf/*-mercure.conf
snippets: subscription events (private updates on
/.well-known/mercure/subscriptions/{topic}/{subscriber}, active true when
a subscription opens and false when it ends, with the token's
mercure.payload), only to tokens whose mercure.subscribe matches; the
subscriptions API (the collection, by topic selector, one subscription,
404, 401, 405) with lastEventID, from which the events resume; and a
responder killed with SIGKILL, whose subscriptions end when the broker
expires it."""
import json
import re
import signal
import time
import urllib.parse

from authlib import Keys
from harness import Env, Tap
from mercurelib import HUB, ID, subscribe
from servers import Stack

t = Tap()
SUBS = HUB + "/subscriptions"
WATCH = SUBS + "{/topic}{/subscriber}"
BOOKS = "https://example.com/books/{id}"
AUTHOR = "https://example.com/authors/1"
URN = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def enc(s):
    return urllib.parse.quote(s, safe="")


def get(st, path, token=None, method="GET"):
    h = {"Authorization": "Bearer " + token} if token else {}
    s, headers, body = st.request(path, method=method, headers=h)
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    return s, headers, doc


def docs(c, n, timeout=5):
    """The next n subscription documents of stream c (data as JSON), with
    their event ids."""
    evs = c.events_until(lambda e: len(e) >= n, timeout)
    out = []
    for e in evs[:n]:
        d = json.loads(e["data"])
        d["_id"] = e.get("id")
        out.append(d)
    return out


def token(keys, subscribe, payload=None):
    m = {"subscribe": subscribe}
    if payload is not None:
        m["payload"] = payload
    return keys.hs256(extra={"mercure": m})


def run(server, env, keys):
    name = server.replace("-", "_")
    sse = {"mercure_path": HUB, "mercure_publisher_key": keys.hs_path,
           "mercure_subscriptions": "on", "heartbeat": "1s", "presence_beat": "500ms"}
    st = Stack(env, server, sse=sse, name=f"ms_{name}",
               broker={"presence_timeout": "2s"})
    watcher_tok = token(keys, [WATCH])
    alice_tok = token(keys, [BOOKS], {"user": "alice"})
    books_only = token(keys, [BOOKS])

    w = subscribe(st, WATCH, token=watcher_tok)
    own = docs(w, 1)
    t.ok(own and own[0]["topic"] == WATCH and own[0]["active"] is True,
         f"{server}: the watcher sees its own subscription open", own)
    nosy = subscribe(st, "*", token=books_only)
    star = docs(w, 1)
    t.ok(star and star[0]["topic"] == "*" and "payload" not in star[0],
         f"{server}: a * subscription opens (a token without payload: none)", star)
    alice = subscribe(st, BOOKS, AUTHOR, BOOKS, token=alice_tok)
    got = docs(w, 2)
    t.eq(sorted(d["topic"] for d in got), sorted([BOOKS, AUTHOR]),
         f"{server}: one subscription event per selector (a selector given twice is one)")
    sub = got[0]["subscriber"] if got else ""
    t.ok(URN.match(sub) and all(d["subscriber"] == sub for d in got),
         f"{server}: the subscriber is one urn:uuid (version 4) for the stream's subscriptions",
         got)
    b = next((d for d in got if d["topic"] == BOOKS), {})
    t.eq({k: b.get(k) for k in ("@context", "id", "type", "active", "payload")},
         {"@context": "https://mercure.rocks/", "id": f"{SUBS}/{enc(BOOKS)}/{enc(sub)}",
          "type": "Subscription", "active": True, "payload": {"user": "alice"}},
         f"{server}: the event is the JSON-LD Subscription document, with the token's payload")
    t.ok(all(ID.match(d["_id"] or "") for d in got),
         f"{server}: subscription events carry ids of the hub's sequence", got)

    # the API
    s, h, doc = get(st, SUBS, watcher_tok)
    t.eq((s, h.get("content-type")), (200, "application/ld+json"),
         f"{server}: GET subscriptions: 200 application/ld+json")
    listed = sorted((x["topic"], x["subscriber"]) for x in (doc or {}).get("subscriptions", []))
    t.ok(doc and doc.get("@context") == "https://mercure.rocks/" and doc.get("id") == SUBS and
         doc.get("type") == "Subscriptions" and (BOOKS, sub) in listed and (AUTHOR, sub) in listed
         and (WATCH, own[0]["subscriber"] if own else "") in listed and len(listed) == 4,
         f"{server}: the collection lists the four active subscriptions", doc)
    last = (doc or {}).get("lastEventID", "")
    t.ok(ID.match(last), f"{server}: with lastEventID, a position of the hub", last)
    s, _, doc = get(st, f"{SUBS}/{enc(BOOKS)}", watcher_tok)
    t.ok(s == 200 and [x["topic"] for x in doc["subscriptions"]] == [BOOKS] and
         doc["id"] == f"{SUBS}/{enc(BOOKS)}",
         f"{server}: by topic selector: only that selector's", doc)
    s, _, doc = get(st, f"{SUBS}/{enc(BOOKS)}/{enc(sub)}", watcher_tok)
    t.ok(s == 200 and doc.get("type") == "Subscription" and doc.get("active") is True and
         doc.get("payload") == {"user": "alice"} and ID.match(doc.get("lastEventID", "")) and
         doc.get("@context") == "https://mercure.rocks/",
         f"{server}: one subscription: its document with lastEventID", doc)
    s, _, _ = get(st, f"{SUBS}/{enc(BOOKS)}/{enc('urn:uuid:nobody')}", watcher_tok)
    t.eq(s, 404, f"{server}: an unknown subscription: 404")
    s, h, _ = get(st, SUBS)
    t.ok(s == 401 and "bearer" in h.get("www-authenticate", "").lower(),
         f"{server}: without a token: 401 with a Bearer challenge", (s, h))
    s, _, _ = get(st, SUBS, books_only)
    t.eq(s, 403, f"{server}: a token whose selectors do not match the URL: 403")
    s, _, _ = get(st, SUBS, keys.forged(extra={"mercure": {"subscribe": ["*"]}}))
    t.eq(s, 401, f"{server}: a forged token: 401")
    s, _, _ = st.request(SUBS, method="POST", body=b"{}",
                         headers={"Authorization": "Bearer " + watcher_tok})
    t.eq(s, 405, f"{server}: POST to the API: 405")
    for path, what in ((f"{SUBS}/a/b/c", "a third segment"), (f"{SUBS}/", "an empty segment"),
                       (f"{SUBS}//x", "an empty topic"), (SUBS + "x", "a longer name")):
        s, _, _ = get(st, path, token(keys, ["*"]))
        t.eq(s, 404, f"{server}: {what}: 404")
    s, _, _ = get(st, f"{SUBS}/%zz", token(keys, ["*"]))
    t.ok(s in (400, 404), f"{server}: a malformed escape: refused (the web server's 400, or 404)",
         s)

    # privacy: a token that does not grant the subscription topics sees none
    t.ok(not nosy.events_until(lambda e: len(e) > 0, 0.5),
         f"{server}: a * subscriber whose token grants only books sees no subscription event")

    # alice leaves: active false, with the payload
    alice.close()
    gone = docs(w, 2)
    t.ok(sorted(d["topic"] for d in gone) == sorted([BOOKS, AUTHOR]) and
         all(d["active"] is False and d["subscriber"] == sub and
             d.get("payload") == {"user": "alice"} for d in gone),
         f"{server}: her stream closes: active false for both, with her payload", gone)
    s, _, doc = get(st, f"{SUBS}/{enc(BOOKS)}/{enc(sub)}", watcher_tok)
    t.eq(s, 404, f"{server}: her subscription is no longer listed")

    # resume from the API's lastEventID: the events since the snapshot
    r = subscribe(st, WATCH, token=watcher_tok, headers={"Last-Event-ID": last})
    again = [d for d in docs(r, 3) if d["subscriber"] == sub]
    t.ok(r.headers.get("last-event-id") == last and
         sorted((d["topic"], d["active"]) for d in again) ==
         sorted([(BOOKS, False), (AUTHOR, False)]),
         f"{server}: a watcher resuming from lastEventID gets the ends since the list", again)
    r.close()

    if server == "lighttpd":
        killed(st, keys, w, watcher_tok)
    for c in (w, nosy):
        c.close()
    st.stop()


def killed(st, keys, w, watcher_tok):
    """fastpush-sse dies (SIGKILL): the broker expires its subscriptions
    after presence-timeout and publishes their ends; a watcher that comes
    back with its Last-Event-ID gets them."""
    bob = subscribe(st, AUTHOR, token=token(keys, [AUTHOR], {"user": "bob"}))
    evs = w.events_until(lambda e: e and json.loads(e[-1]["data"]).get("payload") ==
                         {"user": "bob"}, 5)
    opened = [dict(json.loads(e["data"]), _id=e.get("id")) for e in evs[-1:]]
    t.ok(opened and opened[0]["topic"] == AUTHOR and opened[0]["active"],
         "lighttpd: bob's subscription opens", opened)
    last = opened[0]["_id"] if opened else ""
    st.sse.stop(signal.SIGKILL)
    bob.close()
    w.close()
    st.sse.start()
    time.sleep(3)
    r = subscribe(st, WATCH, token=watcher_tok, headers={"Last-Event-ID": last})
    bob_sub = opened[0]["subscriber"] if opened else ""

    def bob_ended(evs):
        return any(json.loads(e["data"]).get("subscriber") == bob_sub and
                   json.loads(e["data"]).get("active") is False for e in evs)
    evs = r.events_until(bob_ended, 8)
    t.ok(bob_ended(evs), "lighttpd: after a SIGKILL the broker ends the dead process's "
         "subscriptions (active false, from Last-Event-ID)", [e["data"] for e in evs])
    r.close()


with Env(t) as env:
    keys = Keys(env.dir)
    for server in ("lighttpd", "apache", "nginx"):
        run(server, env, keys)
t.done()
