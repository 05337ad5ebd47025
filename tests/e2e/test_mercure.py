"""fastpush-sse as a Mercure hub, behind lighttpd, Apache (mod_proxy_fcgi) and nginx,
with the conf/*-mercure.conf snippets.  Publishers: the real
symfony/mercure (php-symfony-mercure: Hub, StaticTokenProvider, Update)
and plain form POSTs as curl sends them.  Subscribers: SSE clients with
topic selectors (exact, URI templates, *), private updates with the
token's mercure.subscribe claim, alternate topics, multi-line data, type
and retry, resume with Last-Event-ID and lastEventID (the Last-Event-ID
response header, earliest, an id of no hub, a publisher's own id).  Refusals (bad tokens,
claims, selectors, fields) get their status and the hub keeps serving."""
import os
import shutil
import subprocess
import time

from authlib import Keys
import chromium
from harness import Env, Tap, require_tool
from mercurelib import HUB, ID, publish, sub_path, subscribe
from servers import Stack

t = Tap()
BOOKS = "https://example.com/books/{id}"
SYMFONY = "/usr/share/php/Symfony/Component/Mercure/autoload.php"


def datas(c, n, timeout=5):
    evs = c.events_until(lambda e: len(e) >= n, timeout)
    return evs


PAGE = """(async () => {
  document.cookie = "mercureAuthorization=" + SUB + "; path=/; SameSite=Strict";
  const got = [];
  const es = new EventSource(HUB + "?topic=" + encodeURIComponent(TOPIC));
  es.addEventListener("chapter", e => got.push({id: e.lastEventId, data: e.data}));
  await new Promise((ok, bad) => { es.onopen = ok; setTimeout(() => bad("no open"), 5000); });
  const r = await fetch(HUB, {method: "POST", headers: {"Authorization": "Bearer " + PUB,
      "Content-Type": "application/x-www-form-urlencoded"},
      body: "topic=" + encodeURIComponent("https://example.com/books/5") +
            "&data=private%20chapter&private=on&type=chapter"});
  const id = await r.text();
  for (let i = 0; i < 50 && got.length < 1; i++) await new Promise(ok => setTimeout(ok, 100));
  es.close();
  return {status: r.status, id: id, got: got};
})()"""


def browser(st, env, keys, pub):
    """Chromium's EventSource with the subscriber token in the
    mercureAuthorization cookie, publishing with fetch."""
    if not require_tool(t, "chromium", chromium.binary(), "headless Chromium is installed"):
        return
    sub = keys.hs256(claim="mercure", subscribe=[BOOKS])
    js = PAGE.replace("SUB", repr(sub)).replace("PUB", repr(pub)).replace(
        "HUB", repr(HUB)).replace("TOPIC", repr(BOOKS))
    with chromium.Chromium(env.path("chromium")) as br:
        res = br.evaluate(js, url=f"http://127.0.0.1:{st.port}{HUB}")
    t.ok(res["status"] == 200 and ID.match(res["id"]), "Chromium: fetch publishes", res)
    t.eq(res["got"], [{"id": res["id"], "data": "private chapter"}],
         "Chromium: EventSource with the cookie token gets the private update, its id "
         "as lastEventId")


def run(server, env, keys):
    name = server.replace("-", "_")
    sse = {"mercure_path": HUB, "mercure_publisher_key": keys.hs_path,
           "heartbeat": "1s"}
    st = Stack(env, server, sse=sse, name=f"m_{name}")
    pub = keys.hs256(claim="mercure", publish=["*"])
    sub_books = keys.hs256(claim="mercure", subscribe=[BOOKS])
    sub_none = keys.hs256(claim="mercure", subscribe=[])

    a = subscribe(st, BOOKS, token=sub_none)
    star = subscribe(st, "*", token=sub_books)
    t.eq((a.status, a.headers.get("content-type", "").split(";")[0]), (200, "text/event-stream"),
         f"{server}: a subscription is an event stream")
    time.sleep(0.5)

    s, first = publish(st, pub, topic="https://example.com/books/1",
                       data="line one\nline two", type="book.updated", retry="3000")
    t.ok(s == 200 and ID.match(first), f"{server}: publish answers 200 with the id", (s, first))
    ev = a.next_event(5)
    t.eq(ev and (ev.get("id"), ev.get("event"), ev.get("retry"), ev.get("data")),
         (first, "book.updated", "3000", "line one\nline two"),
         f"{server}: the template subscriber gets it: id, type, retry, both data lines")
    s, other = publish(st, pub, topic="https://example.com/authors/1", data="author")
    s2, pubb = publish(st, pub, topic="https://example.com/books/2", data="second")
    ev = a.next_event(5)
    t.eq(ev and ev.get("data"), "second",
         f"{server}: an update of another topic is not shown to the books selector")
    evs = datas(star, 3)
    t.eq([e.get("data") for e in evs[:3]], ["line one\nline two", "author", "second"],
         f"{server}: the * subscriber gets all three, in order")

    # private updates
    s, priv = publish(st, pub, topic="https://example.com/books/3", data="secret",
                      private="on")
    s, marker = publish(st, pub, topic="https://example.com/books/4", data="marker")
    ev = a.next_event(5)
    t.eq(ev and ev.get("data"), "marker",
         f"{server}: a subscriber whose token grants nothing does not get the private update")
    evs = datas(star, 2)
    t.eq([e.get("data") for e in evs[:2]], ["secret", "marker"],
         f"{server}: one whose token's subscribe matches gets it")

    anon = subscribe(st, BOOKS)
    t.eq(anon.status, 401, f"{server}: no token, mercure-anonymous off: 401")
    anon.close()

    # alternate topics: a user's narrow right
    user = "https://example.com/users/42/{+rest}"
    u = subscribe(st, user, token=keys.hs256(claim="mercure", subscribe=[user]))
    time.sleep(0.3)
    s, alt = publish(st, pub, topic=["https://example.com/books/9",
                                     "https://example.com/users/42/books/9"],
                     data="for 42", private="on")
    ev = u.next_event(5)
    t.eq(ev and (ev.get("id"), ev.get("data")), (alt, "for 42"),
         f"{server}: a private update reaches the user through its alternate topic")
    ev = a.next_event(0.5)
    t.eq(ev, None, f"{server}: and not the books subscriber without the right")

    # resume
    r = subscribe(st, BOOKS, token=sub_none, headers={"Last-Event-ID": first})
    t.eq(r.headers.get("last-event-id"), first,
         f"{server}: Last-Event-ID header: the response says where it resumes")
    evs = datas(r, 2)
    t.eq([e.get("id") for e in evs[:2]], [pubb, marker],
         f"{server}: and replays the visible updates after it, nothing else")
    r.close()
    r = subscribe(st, BOOKS, token=sub_none, lastEventID=first,
                  headers={"Last-Event-ID": pubb})
    evs = datas(r, 1)
    t.eq((r.headers.get("last-event-id"), evs[0].get("id") if evs else None), (pubb, marker),
         f"{server}: the header wins over lastEventID")
    r.close()
    r = subscribe(st, BOOKS, token=sub_none, lastEventID=first)
    evs = datas(r, 1)
    t.eq((r.headers.get("last-event-id"), evs[0].get("id") if evs else None), (first, pubb),
         f"{server}: lastEventID in the query (EventSource's first request)")
    r.close()
    r = subscribe(st, BOOKS, token=sub_none, lastEventID="earliest")
    evs = datas(r, 3)
    t.eq((r.headers.get("last-event-id"), [e.get("id") for e in evs[:3]]),
         ("earliest", [first, pubb, marker]), f"{server}: earliest replays the whole history")
    r.close()
    r = subscribe(st, BOOKS, token=sub_none, lastEventID="urn:uuid:not-ours")
    t.eq(r.headers.get("last-event-id"), "earliest",
         f"{server}: an id of no history is answered earliest (updates were missed)")
    r.close()
    r = subscribe(st, BOOKS, token=sub_none, lastEventID="#nothing-of-ours")
    t.eq(r.headers.get("last-event-id"), "earliest",
         f"{server}: a '#' id that is not the hub's is answered earliest")
    r.close()
    r = subscribe(st, BOOKS, token=sub_none, headers={"Last-Event-ID": first[1:]})
    evs = datas(r, 1)
    t.eq((r.headers.get("last-event-id"), evs[0].get("id") if evs else None),
         (first[1:], pubb), f"{server}: the bare cursor (without '#') resumes as well")
    r.close()

    # where the token is read: the header, else ?authorization, else the cookie
    cookie = {"Cookie": "mercureAuthorization=" + keys.forged(claim="mercure", subscribe=["*"])}
    r = st.stream(sub_path(BOOKS, authorization=sub_none), headers=cookie)
    t.eq(r.status, 200, f"{server}: ?authorization wins over the cookie (a forged one, ignored)")
    r.close()
    r = st.stream(sub_path(BOOKS, authorization="not-a-jwt"),
                  headers={"Authorization": "Bearer " + sub_none})
    t.eq(r.status, 200, f"{server}: the Authorization header wins over ?authorization")
    r.close()
    r = st.stream(sub_path(BOOKS), headers={"Cookie": "mercureAuthorization=" + sub_none})
    t.eq((r.status, r.headers.get("cache-control")), (200, "private, no-cache, no-transform"),
         f"{server}: the cookie alone; the stream is private to caches")
    r.close()

    # a publisher's own ids
    own = "urn:uuid:c0ffee00-0000-4000-8000-000000000001"
    s, got = publish(st, pub, topic="https://example.com/books/10", data="own id", id=own)
    t.eq((s, got), (200, own), f"{server}: a publish with id is answered with that id")
    evs = a.events_until(lambda e: any(x.get("data") == "own id" for x in e), 5)
    t.ok(any(x.get("data") == "own id" and x.get("id") == own for x in evs),
         f"{server}: the subscriber gets the update with the publisher's id", evs)
    s, after = publish(st, pub, topic="https://example.com/books/11", data="after own")
    a.events_until(lambda e: any(x.get("data") == "after own" for x in e), 5)
    r = subscribe(st, BOOKS, token=sub_none, headers={"Last-Event-ID": own})
    evs = datas(r, 1)
    t.eq((r.headers.get("last-event-id"), [e.get("id") for e in evs[:1]]), (own, [after]),
         f"{server}: a resume from a publisher's id finds it in history and replays what "
         "follows")
    r.close()

    # refusals, each followed by a publish that works
    def refused(status, what, **fields):
        tok = fields.pop("token", pub)
        s, body = publish(st, tok, **fields)
        t.ok(s == status, f"{server}: {what}: {status}", (s, body[:200]))

    refused(401, "publish without a token", token=None, topic="x", data="d")
    refused(401, "a token with the wrong signature", token=keys.forged(claim="mercure",
            publish=["*"]), topic="x")
    refused(401, "alg none", token=keys.alg_none(claim="mercure", publish=["*"]), topic="x")
    refused(401, "an expired token", token=keys.hs256(claim="mercure", publish=["*"], exp=-10),
            topic="x")
    refused(403, "a topic the claim does not grant",
            token=keys.hs256(claim="mercure", publish=[BOOKS]),
            topic=["https://example.com/books/1", "https://example.com/admin"])
    refused(403, "a token without mercure.publish", token=sub_books, topic="x")
    refused(400, "no topic", data="d")
    refused(400, "id earliest", topic="x", id="earliest")
    refused(400, "an id starting with #", topic="x", id="#mine")
    refused(400, "an id of the form of the hub's own (a cursor)", topic="x", id="abc-5")
    refused(400, "an id with a line break", topic="x", id="a\nb")
    refused(400, "two ids", topic="x", id=["a", "b"])
    refused(400, "type mercure", topic="x", type="mercure")
    refused(400, "a retry that is not a number", topic="x", retry="soon")
    s, _, body = st.request(HUB, method="POST", body=b'{"topic":"x"}',
                            headers={"Authorization": "Bearer " + pub,
                                     "Content-Type": "application/json"})
    t.eq(s, 415, f"{server}: a JSON body: 415")
    for path, what in ((sub_path("https://x/{bad"), "a malformed selector"),
                       (HUB, "no topic"), (sub_path("https://x/{=y}"), "a reserved operator")):
        s, _, body = st.request(path, headers={"Authorization": "Bearer " + sub_none})
        t.ok(s == 400, f"{server}: subscribe with {what}: 400", (s, body[:200]))
    s, _, _ = st.request(sub_path("x"), headers={"Authorization": "Bearer " + keys.forged(
        claim="mercure", subscribe=["*"])})
    t.eq(s, 401, f"{server}: subscribe with a forged token: 401")
    s, _, _ = st.request(HUB, method="DELETE")
    t.eq(s, 405, f"{server}: DELETE: 405")
    s, _, _ = st.request(HUB + "/subscriptions")
    t.eq(s, 404, f"{server}: the subscriptions API is not served: 404")
    s, _, _ = st.request("/events/mercure")
    t.eq(s, 403, f"{server}: a native stream may not read the hub's channel")

    if server == "lighttpd":
        browser(st, env, keys, pub)

    # symfony/mercure's own publisher
    if os.path.exists(SYMFONY) and shutil.which("php"):
        script = os.path.join(env.dir, f"pub_{name}.php")
        with open(script, "w") as f:
            f.write(f"""<?php
require '{SYMFONY}';
require '/usr/share/php/Symfony/Component/HttpClient/autoload.php';
use Symfony\\Component\\Mercure\\Hub;
use Symfony\\Component\\Mercure\\Jwt\\StaticTokenProvider;
use Symfony\\Component\\Mercure\\Update;
$hub = new Hub('http://127.0.0.1:{st.port}{HUB}', new StaticTokenProvider($argv[1]));
echo $hub->publish(new Update(['https://example.com/books/7',
    'https://example.com/users/42/books/7'], '{{"title":"Symfony"}}', true, null, 'book'));
""")
        p = subprocess.run(["php", script, pub], capture_output=True, text=True, timeout=30)
        t.ok(p.returncode == 0 and ID.match(p.stdout.strip()),
             f"{server}: symfony/mercure's Hub::publish gets the id", (p.stdout, p.stderr[-500:]))
        ev = u.next_event(5)
        t.eq(ev and (ev.get("id"), ev.get("event"), ev.get("data")),
             (p.stdout.strip(), "book", '{"title":"Symfony"}'),
             f"{server}: its private update reaches the user by the alternate topic")
        ev = star.events_until(lambda e: any(x.get("id") == p.stdout.strip() for x in e), 5)
        t.ok(any(x.get("id") == p.stdout.strip() for x in ev),
             f"{server}: and the * subscriber allowed BOOKS")
    else:
        t.ok(False, f"{server}: php-symfony-mercure is installed (make deps)")
    s, last = publish(st, pub, topic="https://example.com/books/8", data="still here")
    ev = a.events_until(lambda e: any(x.get("data") == "still here" for x in e), 5)
    t.ok(s == 200 and any(x.get("data") == "still here" for x in ev),
         f"{server}: after every refusal the hub still publishes and delivers")
    st.wait_stats(lambda x: x.get("mercure_published", 0) >= 8)
    got = st.stats()
    t.ok(got.get("mercure_published", 0) >= 8,
         f"{server}: the responder reports mercure_published", got)
    for c in (a, star, u):
        c.close()
    st.stop()


with Env(t) as env:
    keys = Keys(env.dir)
    for server in ("lighttpd", "apache", "nginx"):
        run(server, env, keys)
t.done()
