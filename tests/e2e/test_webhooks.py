"""fastpush-webhooks: the broker's webhook feed turned into Pusher-style
webhooks posted to a test HTTP server: channel_occupied / vacated,
member_added / removed and client_event, named as Pusher names them
(app channels without their ID: prefix), batched, signed with
X-Pusher-Key and X-Pusher-Signature (HMAC-SHA256 of the body with the
app's secret), retried after a 500; the broker keeps publishing while
the webhook URL is down."""
import hashlib
import hmac
import http.server
import json
import threading
import time

from harness import Env, Tap, free_port, wait_for

t = Tap()
SECRET, NATIVE_SECRET = "app-secret-0123456789", "native-secret-0123456789"


class Hooks(http.server.BaseHTTPRequestHandler):
    got = []            # (path, headers, body) of every POST
    fail = 0            # answer 500 to this many more POSTs

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        Hooks.got.append((self.path, dict(self.headers), body))
        code = 500 if Hooks.fail > 0 else 200
        Hooks.fail -= 1
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def events(path):
    out = []
    for p, h, body in Hooks.got:
        if p == path:
            out.extend(json.loads(body)["events"])
    return out


port = free_port()
srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hooks)
threading.Thread(target=srv.serve_forever, daemon=True).start()

with Env(t) as env:
    apps = env.path("apps")
    with open(apps, "w") as f:
        f.write(f"1 app-key {SECRET} client-events webhook=http://127.0.0.1:{port}/app1\n"
                f"2 other-key other-secret-0123456789\n")
    feed = f"ipc://{env.path('webhook-feed')}"
    b = env.broker(webhook_feed=feed)
    wh = env.start("webhooks", [env.prog("fastpush-webhooks"), "--feed", feed,
                                "--pusher-apps", apps, "--url",
                                f"http://127.0.0.1:{port}/native", "--secret", NATIVE_SECRET,
                                "--batch-wait", "200ms", "--retry-max", "1s"], ready_fd=True)
    time.sleep(0.3)
    Hooks.fail = 1                          # the first POST fails: retried
    sub = b.subscriber("1:presence-room", "room")
    time.sleep(0.3)
    st, m, _ = b.request("PRESENCE", {"op": "join", "instance": "r1", "conn": "c1",
                                      "channel": "1:presence-room", "user_id": "42",
                                      "user_info": {"name": "Ada"}})
    t.ok(st == "OK", "a member joins 1:presence-room", m)
    b.publish("1:private-chat", "typing...", event="client-typing")
    b.publish("1:private-chat", "not a client event", event="message")
    b.publish("2:presence-x", 1, event="client-ignored")   # app 2 has no webhook
    want = [{"name": "channel_occupied", "channel": "presence-room"},
            {"name": "member_added", "channel": "presence-room", "user_id": "42"},
            {"name": "client_event", "channel": "private-chat", "event": "client-typing",
             "data": "typing..."}]
    t.ok(wait_for(lambda: len(events("/app1")) >= 4, 10),
         "app 1's webhooks arrive (the failed batch again after the 500)", Hooks.got)
    posts = [(h, body) for p, h, body in Hooks.got if p == "/app1"]
    t.ok(len(posts) >= 2 and posts[0][1] == posts[1][1],
         "the batch answered 500 is posted again, the same body", posts[:2])
    a1 = [e for _, body in posts[1:] for e in json.loads(body)["events"]]
    t.eq(a1, want, "occupied, member_added, client_event with Pusher names, in order")
    good = all(h.get("X-Pusher-Key") == "app-key" and
               h.get("X-Pusher-Signature") == hmac.new(SECRET.encode(), body,
                                                       hashlib.sha256).hexdigest()
               for h, body in posts)
    t.ok(good and len(posts) >= 2, "each POST carries X-Pusher-Key and a valid "
         "X-Pusher-Signature", [h for h, _ in posts])
    t.ok(all(isinstance(json.loads(body).get("time_ms"), int) for _, body in posts),
         "bodies carry time_ms")
    t.ok(wait_for(lambda: events("/native") == [{"name": "channel_occupied", "channel": "room"}],
                  5), "a channel of no app goes to url, named in full", events("/native"))
    nh = [h for p, h, _ in Hooks.got if p == "/native"]
    t.ok(nh and nh[0].get("X-Pusher-Key") == "fastpush", "with the default key", nh)

    # leave, then the channel empties
    n0 = len(events("/app1"))
    b.request("PRESENCE", {"op": "leave", "instance": "r1", "conn": "c1",
                           "channel": "1:presence-room"})
    sub.close()
    t.ok(wait_for(lambda: len(events("/app1")) >= n0 + 2, 10), "leave and vacated arrive")
    t.eq(sorted(e["name"] for e in events("/app1")[n0:]),
         ["channel_vacated", "member_removed"], "member_removed and channel_vacated")

    # the URL is down: the broker goes on, the batch is retried
    Hooks.fail = 3
    t0 = time.monotonic()
    sub = b.subscriber("1:news")
    for i in range(50):
        b.publish("1:news", i)
    t.ok(time.monotonic() - t0 < 5, "publishes are not held up by failing webhooks")
    t.ok(wait_for(lambda: {"name": "channel_occupied", "channel": "news"} in
                  events("/app1")[n0 + 2:], 15),
         "after three 500s the occupied webhook gets through (backoff 1s, 2s... max 1s)")
    st, s, _ = b.request("STATS")
    t.ok(s.get("webhooks", {}).get("sent", 0) >= 6 and s["webhooks"]["dropped"] == 0,
         "STATS counts what the feed took", s.get("webhooks"))
    sub.close()
    wh.stop()
    b.stop()

    # configuration errors
    r = env.prog("fastpush-webhooks")
    import subprocess
    for args, word in ((["--url", "ftp://x"], "url"),
                       (["--url", "http://127.0.0.1:9/", "--secret", "short"], "secret"),
                       ([], "no webhook")):
        p = subprocess.run([r, "-n"] + args, capture_output=True, text=True, timeout=10)
        t.ok(p.returncode != 0 and word in p.stderr, f"-n {' '.join(args) or '(nothing)'}: "
             f"refused naming '{word}'", p.stderr[-300:])
    p = subprocess.run([r, "-n", "--pusher-apps", apps], capture_output=True, text=True,
                       timeout=10)
    t.ok(p.returncode == 0 and "configuration OK" in p.stdout, "-n with the apps file: OK",
         p.stdout + p.stderr)
srv.shutdown()
t.done()
