"""The real pusher-js (node_modules/pusher-js/dist/web/pusher.min.js) and
Laravel Echo (node_modules/laravel-echo/dist/echo.iife.js) in headless
Chromium against fastpush-ws speaking the Pusher protocol 7, all on the
page's own origin: one lighttpd (web.origin_lighttpd_conf, the "origin"
stack of tools/fpstack) serves the pages (tests/e2e/pusher_page/), sends
/app/ to fastpush-ws (conf/lighttpd-pusher-ws.conf), /apps to
fastpush-poll's Pusher HTTP API (conf/lighttpd-pusher.conf) and
/pusher/auth, /broadcasting/auth to a channel auth endpoint made with the
npm `pusher` server library's authorizeChannel (node/pusher_auth.js,
mod_proxy).  Events are published by the npm `pusher` library through
that lighttpd (node/pusher_client.js).

pusher-js (index.html), two tabs of two users:
- connect (socket_id) over ws://ORIGIN/app/KEY?protocol=7, public,
  private and presence subscribe, the private and presence auth asked
  from the page's origin;
- an auth signed with a wrong secret (/pusher/auth-bad) gives
  pusher:subscription_error 401 AuthError, an endpoint refusing (403) a
  subscription_error with its status; neither gets the channel's events;
- events published through the HTTP API arrive with their name and data;
- presence: the member list, member_added, member_removed when the other
  tab closes;
- client events from one tab reach the other, not the sender;
- fastpush-ws killed with SIGKILL and started again: pusher-js in both
  tabs reconnects by itself, subscribes again and gets the next events;
  the presence members are back and the killed process's expiry
  removes none of them;
- a screenshot of the page (a PNG in the run's directory).

Laravel Echo (echo.html) with broadcaster 'pusher', wsHost/wsPort the
page's origin, forceTLS false, enabledTransports ['ws'], disableStats,
bearerToken (the auth endpoint /broadcasting/auth, Echo's default):
- listen() on a public channel gets App\\Events\\X by its short name;
- private() listen, whisper/listenForWhisper (client-* events) between
  two tabs; a trigger with one tab's socket_id (Laravel's toOthers) goes
  to the other only; no token: Echo's error() with status 403;
- join(): here(), joining(), leaving() when the other tab closes.

chromium, lighttpd, node and the npm modules pusher-js, pusher and
laravel-echo must be installed (make deps): a missing one fails the test.
"""
import json
import os
import re
import subprocess
import time

import browserstack
from harness import require_tool
from harness import Tap
import fpstack
from fpstack.conf import POLL_SOCK, render, write

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODULES = os.path.join(ROOT, "node_modules")
PAGES = os.path.join(HERE, "pusher_page")
AUTH_JS = os.path.join(HERE, "node", "pusher_auth.js")
CLIENT_JS = os.path.join(HERE, "node", "pusher_client.js")
ID, KEY, SECRET = "1001", "key-1001", "secret-of-app-1001"
USERS = {"tok-ada": {"user_id": "u1", "user_info": {"id": "u1", "name": "Ada"}},
         "tok-bob": {"user_id": "u2", "user_info": {"id": "u2", "name": "Bob"}}}

# lighttpd hands the auth endpoints to the node server (as it would to an
# application's backend)
AUTH_PROXY = """# the channel auth endpoint (tests/e2e/node/pusher_auth.js)
$HTTP["url"] =~ "^/(pusher|broadcasting)/auth" {{
    proxy.server = ( "" => ( ( "host" => "127.0.0.1", "port" => {port} ) ) )
}}
"""

t = Tap()


class PusherOrigin(fpstack.Stack):
    """The one-origin stack with the Pusher routes added to its lighttpd:
    /apps and /app/ from conf/ (as a site adds them), the auth endpoint
    by mod_proxy."""

    def __init__(self, env, auth_port, **kw):
        self.auth_port = auth_port
        super().__init__(env, "origin", **kw)

    def _server(self, kind, origin, opts):
        extra = "\n".join([render("lighttpd-pusher.conf", {POLL_SOCK: self.poll_sock}),
                           render("lighttpd-pusher-ws.conf", {"7410": str(self.ws_port)}),
                           AUTH_PROXY.format(port=self.auth_port)])
        return super()._server(kind, dict(origin, extra=extra), opts)


class Site:
    """broker, fastpush-sse/-poll/-ws, the auth endpoint and lighttpd."""

    def __init__(self, env):
        self.env = env
        apps = write(env.path("pusher-apps"), f"{ID} {KEY} {SECRET} client-events\n")
        port = fpstack.free_port()
        spec = {"port": port, "appId": ID, "key": KEY, "secret": SECRET, "users": USERS}
        self.auth = env.start("auth", ["node", AUTH_JS, json.dumps(spec)], port=port, cwd=ROOT)
        self.stack = PusherOrigin(
            env, port, broker={"presence_timeout": "3s"}, template=False,
            sse={"prefix": "/events"}, poll={"prefix": "/push", "pusher_apps": apps},
            ws={"pusher_apps": apps, "presence_beat": "1s"},
            origin={"docroot": PAGES, "aliases": {
                "/lib/pusher-js/": os.path.join(MODULES, "pusher-js", "dist", "web") + "/",
                "/lib/laravel-echo/": os.path.join(MODULES, "laravel-echo", "dist") + "/"}})
        self.port = self.stack.port
        self.url = f"http://127.0.0.1:{self.port}/"

    def trigger(self, channel, event, data, socket_id=None):
        """The npm `pusher` library's trigger through lighttpd: the status."""
        op = {"op": "trigger", "channels": channel, "event": event, "data": data}
        if socket_id:
            op["params"] = {"socket_id": socket_id}
        spec = {"host": "127.0.0.1", "port": self.port, "appId": ID, "key": KEY,
                "secret": SECRET, "ops": [op]}
        r = subprocess.run(["node", CLIENT_JS, json.dumps(spec)], capture_output=True,
                           timeout=30, cwd=ROOT)
        return json.loads(r.stdout)[0]["status"] if r.returncode == 0 else r.stderr.decode()

    def auth_log(self):
        """The auth endpoint's requests: [{"path", "channel", "user", "status"}]."""
        return [json.loads(x) for x in self.auth.read_log().splitlines() if x.startswith("{")]

    def restart_ws(self):
        """fastpush-ws killed with SIGKILL, then started again (same port)."""
        self.stack.ws.kill9()
        self.stack.ws.start()

    def close(self):
        """lighttpd first, its status not checked (browserstack.System.close)."""
        self.stack.server.stop()


# ------------------------------------------------------------ the pages

def pred(name, ev, **kw):
    """A JS predicate on a record: m.name, m.ev and scalar fields equal."""
    conds = [f"m.name === {json.dumps(name)}", f"m.ev === {json.dumps(ev)}"]
    conds += [f"m.{k} === {json.dumps(v)}" for k, v in kw.items()]
    return "m => " + " && ".join(conds)


def wait(tab, name, ev, ms=8000, start=0, **kw):
    """The first record (from index start) matching, within ms; or None."""
    return tab.eval(f"R.wait({pred(name, ev, **kw)}, {ms}, {start})", ms / 1000 + 5)


def find(tab, name, ev, start=0, **kw):
    return tab.eval(f"R.find({pred(name, ev, **kw)}, {start})")


def mark(tab):
    return tab.eval("R.log.length")


def call(tab, fn, *args):
    return tab.eval(f"R.{fn}({', '.join(json.dumps(a) for a in args)})")


def connected(tab, name, start=0, ms=10000):
    m = wait(tab, name, "state", ms, start, state="connected")
    return m and m.get("socket_id")


def is_socket_id(s):
    return bool(s and re.fullmatch(r"\d+\.\d+", s))


def check_pusher_js(site, br):
    a = br.open(site.url)
    b = br.open(site.url)
    call(a, "pusher", "a", {"key": KEY, "token": "tok-ada"})
    call(b, "pusher", "b", {"key": KEY, "token": "tok-bob"})
    call(a, "pusher", "bad", {"key": KEY, "token": "tok-ada", "endpoint": "/pusher/auth-bad"})
    call(a, "pusher", "anon", {"key": KEY})
    sa, sb = connected(a, "a"), connected(b, "b")
    sbad, sanon = connected(a, "bad"), connected(a, "anon")
    t.ok(all(is_socket_id(s) for s in (sa, sb, sbad, sanon)) and len({sa, sb, sbad, sanon}) == 4,
         "pusher-js in two tabs connects: four distinct socket_ids", (sa, sb, sbad, sanon))
    url = a.eval("R.clients.a.connection.connection.transport.socket.url")
    t.ok(url and url.startswith(f"ws://127.0.0.1:{site.port}/app/{KEY}?protocol=7&"),
         "... over a WebSocket to the page's own origin at /app/KEY?protocol=7", url)
    call(a, "subscribe", "a", "news")
    t.ok(wait(a, "a", "subscribed", channel="news"), "public subscribe succeeds")
    call(a, "subscribe", "a", "private-orders")
    call(b, "subscribe", "b", "private-orders")
    ok_a = wait(a, "a", "subscribed", channel="private-orders")
    ok_b = wait(b, "b", "subscribed", channel="private-orders")
    log = site.auth_log()
    asked = {(x["path"], x["user"]) for x in log if x["channel"] == "private-orders"}
    t.ok(ok_a and ok_b and {("/pusher/auth", "u1"), ("/pusher/auth", "u2")} <= asked,
         "private subscribe in both tabs, auth from /pusher/auth on the page's origin "
         "(the npm pusher library's authorizeChannel)", log)
    call(a, "subscribe", "bad", "private-orders")
    err = wait(a, "bad", "sub_error", channel="private-orders")
    t.ok(err and err["data"].get("status") == 401 and err["data"].get("type") == "AuthError",
         "an auth signed with a wrong secret: pusher:subscription_error 401 AuthError", err)
    call(a, "subscribe", "anon", "private-orders")
    err = wait(a, "anon", "sub_error", channel="private-orders")
    t.ok(err and err["data"].get("status") == 403 and
         ("/pusher/auth", None) in {(x["path"], x["user"]) for x in site.auth_log()},
         "an auth endpoint answering 403 (no token): subscription_error with status 403", err)

    st = site.trigger("news", "App\\Events\\OrderShipped",
                      json.dumps({"order": 7, "t": "caf\u00e9"}))
    m = wait(a, "a", "event", channel="news")
    t.ok(st == 200 and m and m["event"] == "App\\Events\\OrderShipped" and
         m["data"] == {"order": 7, "t": "caf\u00e9"},
         "an event published through the HTTP API (/apps on the same lighttpd) arrives "
         "with its name and data", (st, m))
    site.trigger("private-orders", "status", "shipped")
    ma = wait(a, "a", "event", channel="private-orders", event="status")
    mb = wait(b, "b", "event", channel="private-orders", event="status")
    time.sleep(0.5)
    t.ok(ma and mb and ma["data"] == mb["data"] == "shipped" and
         not find(a, "bad", "event") and not find(a, "anon", "event"),
         "a private event reaches both tabs' subscribers, not the refused ones", (ma, mb))

    call(a, "subscribe", "a", "presence-room")
    pa = wait(a, "a", "subscribed", channel="presence-room")
    t.ok(pa and pa["count"] == 1 and pa["me"] == {"id": "u1", "info": USERS["tok-ada"]["user_info"]}
         and set(pa["members"]) == {"u1"},
         "presence subscribe: the member list holds the tab's own user (me)", pa)
    call(b, "subscribe", "b", "presence-room")
    pb = wait(b, "b", "subscribed", channel="presence-room")
    added = wait(a, "a", "member_added", channel="presence-room")
    t.ok(pb and pb["count"] == 2 and set(pb["members"]) == {"u1", "u2"} and
         added and added["id"] == "u2" and added["info"] == USERS["tok-bob"]["user_info"],
         "a second tab's user: its list has both, the first tab gets member_added", (pb, added))

    call(b, "trigger", "b", "private-orders", "client-typing", {"typing": True})
    got = wait(a, "a", "event", channel="private-orders", event="client-typing")
    time.sleep(0.5)
    t.ok(got and got["data"] == {"typing": True} and
         not find(b, "b", "event", event="client-typing"),
         "a client event from tab 2 reaches tab 1, not the sender", got)

    shot = a.screenshot(site.env.path("pusher-js.png"), height=720)
    with open(shot, "rb") as f:
        png = f.read()
    t.ok(png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 1000,
         f"a screenshot of the page is a PNG ({len(png)} bytes)", shot)

    n, nb = mark(a), mark(b)
    site.restart_ws()
    ma, mb = tab_reconnected(a, "a", sa, n), tab_reconnected(b, "b", sb, nb)
    t.ok(ma and mb, "fastpush-ws killed (SIGKILL) and started again: pusher-js in both tabs "
         "reconnects by itself", (ma, mb))
    again = [wait(a, "a", "subscribed", 10000, n, channel=c) for c in ("private-orders",
                                                                       "presence-room")]
    again.append(wait(b, "b", "subscribed", 10000, nb, channel="private-orders"))
    t.ok(all(again), "... and subscribes again (private and presence: new auths from the "
         "page's origin)", again)
    time.sleep(0.5)
    site.trigger("private-orders", "after-restart", "r")
    ga = wait(a, "a", "event", 10000, n, event="after-restart")
    gb = wait(b, "b", "event", 10000, nb, event="after-restart")
    t.ok(ga and gb and ga["data"] == gb["data"] == "r",
         "an event published after the restart arrives in both tabs", (ga, gb))
    time.sleep(4.5)         # the broker's presence-timeout (3 s): the killed process's
    mem = call(a, "members", "a", "presence-room")      # members expire
    gone = find(a, "a", "member_removed", n)
    t.ok(mem == {"count": 2, "ids": ["u1", "u2"]} and not gone,
         "the presence members are back after the restart; the expiry of the killed "
         "process's members removed none of them", (mem, gone))

    n = mark(a)
    b.close()
    gone = wait(a, "a", "member_removed", start=n, channel="presence-room")
    t.ok(gone and gone["id"] == "u2", "tab 2 closes: tab 1 gets member_removed of its user", gone)
    a.close()


def tab_reconnected(tab, name, old, start):
    return tab.eval(f"R.wait(m => m.name === {json.dumps(name)} && m.ev === 'state' && "
                    f"m.state === 'connected' && m.socket_id !== {json.dumps(old)}, 30000, "
                    f"{start})", 40)


def check_echo(site, br):
    url = site.url + "echo.html"
    a = br.open(url)
    b = br.open(url)
    call(a, "echo", "a", {"key": KEY, "token": "tok-ada"})
    call(b, "echo", "b", {"key": KEY, "token": "tok-bob"})
    sa, sb = connected(a, "a"), connected(b, "b")
    ids = (sa, sb, a.eval("R.socketId('a')"))
    t.ok(is_socket_id(sa) and is_socket_id(sb) and sa != sb and ids[2] == sa,
         "Echo (broadcaster pusher, wsHost/wsPort the origin) connects in two tabs; "
         "Echo.socketId() is the socket_id", ids)
    call(a, "listen", "a", "channel", "orders", "OrderShipped")
    t.ok(wait(a, "a", "subscribed", channel="orders"), "Echo.channel('orders') subscribes")
    st = site.trigger("orders", "App\\Events\\OrderShipped", json.dumps({"order": 8}))
    m = wait(a, "a", "event", channel="orders")
    t.ok(st == 200 and m and m["data"] == {"order": 8},
         "listen('OrderShipped') gets App\\Events\\OrderShipped published through the "
         "HTTP API (Echo's namespace)", (st, m))
    for tab, n in ((a, "a"), (b, "b")):
        call(tab, "listen", n, "private", "orders", ".status")
        call(tab, "listen", n, "private", "orders", "whisper:typing")
    ok = [wait(a, "a", "subscribed", channel="private-orders"),
          wait(b, "b", "subscribed", channel="private-orders")]
    asked = {(x["path"], x["user"]) for x in site.auth_log() if x["channel"] == "private-orders"}
    t.ok(all(ok) and {("/broadcasting/auth", "u1"), ("/broadcasting/auth", "u2")} <= asked,
         "Echo.private() in both tabs, signed by /broadcasting/auth with the bearer token",
         asked)
    site.trigger("private-orders", "status", {"s": "packed"})
    ma = wait(a, "a", "event", channel="private-orders", event=".status")
    mb = wait(b, "b", "event", channel="private-orders", event=".status")
    t.ok(ma and mb and ma["data"] == mb["data"] == {"s": "packed"},
         "listen('.status') on the private channel: both tabs get the event", (ma, mb))
    n = mark(b)
    site.trigger("private-orders", "status", {"s": "not-for-a"}, socket_id=sa)
    mb = wait(b, "b", "event", start=n, channel="private-orders", event=".status")
    time.sleep(0.5)
    t.ok(mb and mb["data"] == {"s": "not-for-a"} and
         not [x for x in find(a, "a", "event", event=".status")
              if x["data"] == {"s": "not-for-a"}],
         "a trigger with tab 1's socket_id (Laravel's toOthers) reaches tab 2 only", mb)
    call(a, "whisper", "a", "orders", "typing", {"name": "Ada"})
    w = wait(b, "b", "whisper", channel="private-orders", event="typing")
    time.sleep(0.5)
    t.ok(w and w["data"] == {"name": "Ada"} and not find(a, "a", "whisper"),
         "whisper('typing') from tab 1: tab 2's listenForWhisper gets it (client-typing), "
         "the sender does not", w)
    call(a, "echo", "anon", {"key": KEY})
    call(a, "listen", "anon", "private", "orders", ".status")
    err = wait(a, "anon", "sub_error", channel="private-orders")
    t.ok(err and err["data"].get("status") == 403,
         "Echo without a token: /broadcasting/auth answers 403, error() gets status 403", err)

    call(a, "listen", "a", "join", "room", None)
    here = wait(a, "a", "here", channel="presence-room")
    t.ok(here and here["users"] == [USERS["tok-ada"]["user_info"]],
         "Echo.join('room'): here() lists the tab's own user", here)
    call(b, "listen", "b", "join", "room", None)
    here_b = wait(b, "b", "here", channel="presence-room")
    joining = wait(a, "a", "joining", channel="presence-room")
    t.ok(here_b and sorted(u["id"] for u in here_b["users"]) == ["u1", "u2"] and
         joining and joining["user"] == USERS["tok-bob"]["user_info"],
         "a second tab joins: its here() has both users, the first gets joining()",
         (here_b, joining))
    b.close()
    leaving = wait(a, "a", "leaving", channel="presence-room")
    t.ok(leaving and leaving["user"] == USERS["tok-bob"]["user_info"],
         "tab 2 closes: tab 1 gets leaving() with its user", leaving)
    a.close()


def on_site(check):
    """A main for browserstack.run: check(site, br) on a Site of its own."""
    def main(env, br):
        site = Site(env)
        try:
            check(site, br)
        finally:
            site.close()
    return main


def main():
    have = {"node": require_tool(t, "node")}
    for mod in ("pusher-js", "pusher", "laravel-echo"):
        have[mod] = require_tool(t, mod, os.path.join(MODULES, mod, "package.json"),
                                 f"npm {mod} (make deps)")
    mains = []
    if have["node"] and have["pusher-js"] and have["pusher"]:
        mains.append(on_site(check_pusher_js))
        if have["laravel-echo"]:
            mains.append(on_site(check_echo))
    browserstack.run(t, *mains)


main()
