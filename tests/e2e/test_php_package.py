"""clients/php as a Composer package, with Debian's PHP (/usr/bin/php),
Composer, php-illuminate-* and php-symfony-*, and no network: composer
validate; a project that requires fastpush/fastpush-php from a path
repository installs offline and its vendor/autoload.php loads every class
by PSR-4; Publisher (ZeroMQ) and HttpPublisher (POST /push/publish on
fastpush-poll behind lighttpd, curl and the http stream) publish and the
events are in the broker's history; refusals carry the code and the HTTP
status; the Laravel broadcaster inside a real Illuminate container (the
service provider's Broadcast::extend, BroadcastEvent as the queue worker
runs it) publishes to a real broker and its auth() issues tokens that the
real fastpush-sse (auth on, HS256) accepts for the channels granted and
refuses for others; the Symfony service from examples/symfony's
services.yaml in a real DependencyInjection container publishes, and the
example controller's token opens the user's stream."""
import base64
import json
import os
import re
import subprocess

from authlib import Keys
from harness import Env, Tap, require_tool
from servers import Stack
from sseclient import payload

t = Tap()

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
PKG = os.path.join(ROOT, "clients/php")
DRIVER = os.path.join(ROOT, "tests/e2e/php/package_driver.php")
PHP = "/usr/bin/php"
SECRET = "php-package-publish-secret"
# Debian's packages of the framework parts the test builds on
DEBIAN = {"php-illuminate-broadcasting": "/usr/share/php/Illuminate/Broadcasting/autoload.php",
          "php-illuminate-http": "/usr/share/php/Illuminate/Http/autoload.php",
          "php-illuminate-container": "/usr/share/php/Illuminate/Container/autoload.php",
          "php-illuminate-config": "/usr/share/php/Illuminate/Config/autoload.php",
          "php-symfony-dependency-injection":
              "/usr/share/php/Symfony/Component/DependencyInjection/autoload.php",
          "php-symfony-config": "/usr/share/php/Symfony/Component/Config/autoload.php",
          "php-symfony-yaml": "/usr/share/php/Symfony/Component/Yaml/autoload.php",
          "php-symfony-http-foundation":
              "/usr/share/php/Symfony/Component/HttpFoundation/autoload.php",
          "php-vlucas-phpdotenv": "/usr/share/php/Dotenv/autoload.php"}
CLASSES = ["Fastpush\\Publisher", "Fastpush\\HttpPublisher", "Fastpush\\FastpushException",
           "Fastpush\\PublisherInterface", "Fastpush\\TokenIssuer", "Fastpush\\Factory",
           "Fastpush\\Event", "Fastpush\\Symfony\\FastpushService"]


def tools():
    ok = require_tool(t, "php", PHP if os.path.exists(PHP) else None, "Debian's /usr/bin/php")
    if ok:
        extdir = subprocess.run([PHP, "-r", "echo ini_get('extension_dir');"],
                                capture_output=True).stdout.decode()
        for ext, pkg in (("zmq", "php-zmq"), ("curl", "php-curl")):
            ok &= require_tool(t, pkg, os.path.join(extdir, ext + ".so"), f"the {ext} extension")
    ok &= require_tool(t, "composer", desc="Debian's composer")
    for pkg, path in DEBIAN.items():
        ok &= require_tool(t, pkg, path, f"Debian's {pkg}")
    ok &= require_tool(t, "lighttpd", desc="lighttpd in front of fastpush-poll and fastpush-sse")
    return ok


def php(env, autoload, mode, config, ops, extra_env=None):
    r = subprocess.run([PHP, DRIVER, autoload, mode, json.dumps(config), json.dumps(ops)],
                       capture_output=True, timeout=60, env=dict(os.environ, **(extra_env or {})))
    out = [json.loads(x) for x in r.stdout.decode().splitlines() if x.startswith("{")]
    if r.returncode != 0 or len(out) != len(ops):
        t.note(f"php {mode} exited {r.returncode}:\n{r.stdout.decode()}\n{r.stderr.decode()}")
        out += [{}] * (len(ops) - len(out))
    return out


def composer_env(env):
    return dict(os.environ, COMPOSER_HOME=env.path("composer-home"), COMPOSER_DISABLE_NETWORK="1",
                COMPOSER_NO_INTERACTION="1", COMPOSER_ALLOW_SUPERUSER="1")


def check_package(env):
    """composer validate, PSR-4 names, an offline install from a path
    repository; returns the project's vendor/autoload.php."""
    r = subprocess.run(["composer", "validate", "--no-check-publish", "--no-interaction"],
                       cwd=PKG, capture_output=True, timeout=60, env=composer_env(env))
    t.ok(r.returncode == 0 and b"is valid" in r.stdout + r.stderr, "composer validate: clients/php/composer.json is valid",
         r.stdout + r.stderr)
    with open(os.path.join(PKG, "composer.json")) as f:
        meta = json.load(f)
    t.eq(meta.get("autoload"), {"psr-4": {"Fastpush\\": "src/"}}, "autoload: PSR-4 Fastpush\\ -> src/")
    t.eq(meta["extra"]["laravel"]["providers"], ["Fastpush\\Laravel\\FastpushServiceProvider"],
         "Laravel package discovery names the service provider")
    # PSR-4: every file under src/ declares the class its path names
    bad = []
    for d, _, files in os.walk(os.path.join(PKG, "src")):
        for name in files:
            path = os.path.join(d, name)
            rel = os.path.relpath(path, os.path.join(PKG, "src"))[:-4].replace("/", "\\")
            with open(path) as f:
                text = f.read()
            ns = re.search(r"^namespace\s+([\w\\]+);", text, re.M)
            cls = re.search(r"^(?:final\s+|abstract\s+)?(?:class|interface|trait)\s+(\w+)", text, re.M)
            if not ns or not cls or f"{ns.group(1)}\\{cls.group(1)}" != "Fastpush\\" + rel:
                bad.append(rel)
    t.eq(bad, [], "every src/ file declares the class its path names (PSR-4)")

    app = env.path("app")
    os.makedirs(app)
    with open(os.path.join(app, "composer.json"), "w") as f:
        json.dump({"name": "test/app", "require": {"fastpush/fastpush-php": "*@dev"},
                   "repositories": [{"type": "path", "url": PKG, "options": {"symlink": False}},
                                    {"packagist.org": False}]}, f)
    r = subprocess.run(["composer", "install", "--no-progress", "--no-interaction"], cwd=app,
                       capture_output=True, timeout=180, env=composer_env(env))
    autoload = os.path.join(app, "vendor/autoload.php")
    t.ok(r.returncode == 0 and os.path.exists(autoload),
         "composer install from a path repository, offline", r.stdout + r.stderr)
    r = subprocess.run([PHP, "-r", "echo json_encode(require $argv[1]);",
                        os.path.join(app, "vendor/composer/autoload_psr4.php")], capture_output=True)
    psr4 = json.loads(r.stdout or b"{}")
    t.eq([os.path.relpath(p, app) for p in psr4.get("Fastpush\\", [])],
         ["vendor/fastpush/fastpush-php/src"], "the installed autoloader maps Fastpush\\ to the package's src/")
    return autoload


def since(b, *channels):
    return b.request("SINCE", {"channels": list(channels), "cursor": "earliest"})[2]


def check_core(env, st, autoload, keys):
    b = st.broker
    out = php(env, autoload, "core", {}, [{"op": "classes", "classes": CLASSES}])
    t.eq(out[0], {c: True for c in CLASSES}, "vendor/autoload.php loads every class (PSR-4)")
    url = f"http://127.0.0.1:{st.port}/push/publish"
    zmq = {"transport": "zmq", "control": b.control, "timeout": 3}
    http = {"transport": "http", "url": url, "secret": SECRET, "timeout": 3}
    ops = [{"op": "publish", "config": zmq, "channel": "pkg", "data": {"via": "zmq"}},
           {"op": "publish", "config": http, "channel": "pkg", "data": {"via": "curl", "t": "grüße"},
            "options": {"event": "note"}},
           {"op": "publish", "config": dict(http, curl=False), "channel": "pkg",
            "data": {"via": "stream"}, "options": {"key": "k1"}}]
    out = php(env, autoload, "core", {}, ops)
    t.eq([o.get("class") for o in out], ["Fastpush\\Publisher", "Fastpush\\HttpPublisher",
                                         "Fastpush\\HttpPublisher"], "Factory makes the publisher of the transport")
    evs = since(b, "pkg")
    t.ok([o.get("id") for o in out] == [e["id"] for e in evs], "each publish returns the id the broker gave",
         (out, evs))
    t.eq([(e["data"], e["event"], e.get("key")) for e in evs],
         [({"via": "zmq"}, "message", None), ({"via": "curl", "t": "grüße"}, "note", None),
          ({"via": "stream"}, "message", "k1")], "ZeroMQ, HTTP with curl and with the http stream: "
         "data, event types and keys arrive")

    nowhere = "http://127.0.0.1:1/push/publish"
    refusals = [({**http, "secret": "wrong"}, "pkg", "forbidden", 403, "HTTP, wrong secret"),
                ({**http, "secret": "wrong", "curl": False}, "pkg", "forbidden", 403,
                 "HTTP stream, wrong secret"),
                ({**http, "secret": ""}, "pkg", "unauthorized", 401, "HTTP, no secret"),
                (http, "bad channel", "invalid_event", 400, "HTTP, bad channel"),
                (zmq, "bad channel", "invalid_event", 0, "ZeroMQ, bad channel"),
                ({**http, "url": f"http://127.0.0.1:{st.port}/nothing-here"}, "pkg", "bad_reply", 404,
                 "HTTP, not a fastpush URL"),
                ({**http, "url": nowhere}, "pkg", "broker_unavailable", 0, "HTTP, nobody listening"),
                ({**http, "url": nowhere, "curl": False}, "pkg", "broker_unavailable", 0,
                 "HTTP stream, nobody listening")]
    out = php(env, autoload, "core", {}, [{"op": "publish", "config": c, "channel": ch, "data": 1}
                                          for c, ch, *_ in refusals])
    for o, (_, _, code, status, name) in zip(out, refusals):
        t.ok(o.get("error") == "Fastpush\\FastpushException" and o.get("code") == code and
             o.get("status") == status, f"{name}: FastpushException {code}, status {status}", o)
    t.eq(len(since(b, "pkg")), 3, "nothing refused was published")

    tok = php(env, autoload, "core", {"jwt_key_file": keys.hs_path},
              [{"op": "token", "sub": "carol", "subscribe": ["user.{sub}"]}])[0].get("token", "")
    c = st.stream("/events/user.carol", headers={"Authorization": f"Bearer {tok}"})
    ev = c.next_event(5)
    t.ok(c.status == 200 and ev and ev.get("event") == "ready",
         "a TokenIssuer token (key from the jwt-key file) opens the stream", (c.status, c.body[:200]))
    c.close()


def open_stream(st, path, token):
    c = st.stream(path, headers={"Authorization": f"Bearer {token}"} if token else {})
    if c.status == 200:
        ev = c.next_event(5)
        return c, ev is not None and ev.get("event") == "ready"
    c.read_to_end(5)
    return c, False


def check_laravel(env, st, autoload, keys):
    b = st.broker
    # examples/laravel/config/broadcasting.php with the .env of env.example
    conf = {"config_file": os.path.join(PKG, "examples/laravel/config/broadcasting.php")}
    lenv = {"BROADCAST_DRIVER": "fastpush", "FASTPUSH_CONTROL": b.control,
            "FASTPUSH_JWT_KEY_FILE": keys.hs_path, "FASTPUSH_JWT_TTL": "300"}
    ops = [{"op": "class"},
           {"op": "auth", "user": 7, "params": {"channel_name": "private-orders.7"}},
           {"op": "auth", "user": 7, "params": {"channels": ["private-orders.7", "news"]}},
           {"op": "auth", "user": 7, "params": {"channel_name": "private-orders.8"}},
           {"op": "auth", "params": {"channel_name": "private-orders.7"}},
           {"op": "auth", "params": {"channel_name": "news"}},
           {"op": "auth", "params": {"channel_name": "weather"}},
           {"op": "auth", "params": {"channel_name": "public.status"}},
           {"op": "auth", "user": 7, "params": {"channel_name": "*"}},
           {"op": "auth", "user": 7, "params": {"channel_name": "presence-chat.lobby"}},
           {"op": "auth", "user": 7, "params": {"channel_name": "presence-chat.vip"}}]
    out = php(env, autoload, "laravel", conf, ops, extra_env=lenv)
    t.eq(out[0], {"class": "Fastpush\\Laravel\\FastpushBroadcaster", "contract": True,
                  "publisher": "Fastpush\\Publisher"},
         "the service provider registers the driver: broadcasting.connections.fastpush is a "
         "FastpushBroadcaster (Illuminate\\Contracts\\Broadcasting\\Broadcaster)")
    one, two = out[1].get("answer", {}), out[2].get("answer", {})
    t.ok(one.get("channels") == ["private-orders.7"] and one.get("expires_in") == 300 and
         one.get("token", "").count(".") == 2, "auth(): user 7 gets a token for private-orders.7", out[1])
    t.eq(two.get("channels"), ["private-orders.7", "news"], "auth(): one token for several channels")
    for i, name in ((3, "user 7, private-orders.8"), (4, "a guest, private-orders.7"),
                    (6, "a guest, weather (no callback, not public)"), (8, "the channel name '*'"),
                    (10, "presence-chat.vip (the callback says no)")):
        t.ok(out[i].get("status") == 403 and "AccessDenied" in out[i].get("error", ""),
             f"auth(): {name}: 403", out[i])
    t.ok("token" in out[5].get("answer", {}), "auth(): a guest, news (public_channels)", out[5])
    t.ok("token" in out[7].get("answer", {}), "auth(): a guest, public.status (public_channels)", out[7])
    t.eq(out[9].get("answer", {}).get("channel_data"),
         {"user_id": 7, "user_info": {"id": 7, "name": "user 7"}}, "auth(): presence channel_data")
    ptok = out[9].get("answer", {}).get("token", "")
    claim = json.loads(base64.urlsafe_b64decode(ptok.split(".")[1] + "==")) if ptok else {}
    t.eq(claim.get("fastpush", {}).get("user_info"), {"id": 7, "name": "user 7"},
         "auth(): the presence token carries the callback's answer as fastpush.user_info")
    # the list and "ready" come in either order: read until the list
    cp = st.stream("/events/presence-chat.lobby", headers={"Authorization": f"Bearer {ptok}"})
    pres = cp.events_until(lambda evs: any(e.get("event") == "presence" for e in evs), 5) \
        if cp.status == 200 else []
    plist = next((payload(e) for e in pres if e.get("event") == "presence"), {})
    t.eq(plist.get("members"), [{"user_id": "7", "user_info": {"id": 7, "name": "user 7"}}],
         "fastpush-sse: the member list shows user 7 with that info")
    cp.close()

    # the real fastpush-sse judges the tokens
    c, ok = open_stream(st, "/events/private-orders.7,news", two.get("token"))
    t.ok(ok, "fastpush-sse accepts auth()'s token for private-orders.7 and news", (c.status, c.body[:200]))
    c8, _ = open_stream(st, "/events/private-orders.8", two.get("token"))
    t.ok(c8.status == 403 and b"forbidden" in c8.body,
         "fastpush-sse refuses the same token for private-orders.8: 403", (c8.status, c8.body[:200]))
    c8.close()
    cn, _ = open_stream(st, "/events/news", one.get("token"))
    t.eq(cn.status, 403, "a token for private-orders.7 alone does not open news")
    cn.close()
    cg, okg = open_stream(st, "/events/public.status", out[7].get("answer", {}).get("token"))
    t.ok(okg, "a guest's token opens public.status", (cg.status, cg.body[:200]))
    cg.close()

    order = {"id": 5, "user": 7}
    out = php(env, autoload, "laravel", conf, [
        {"op": "event", "order": order, "channels": ["private-orders.7", "news"]},
        {"op": "event", "order": order, "channels": ["bad channel", "news"]}], extra_env=lenv)
    t.eq(out[0], {"ok": True}, "BroadcastEvent::handle (the queue worker's step) broadcasts")
    got = [c.next_event(5), c.next_event(5)]
    want = {"order": order, "channels": ["private-orders.7", "news"]}
    t.ok(all(e and e.get("event") == "OrderShipped" and payload(e)["data"] == want for e in got) and
         sorted(payload(e)["channel"] for e in got) == ["news", "private-orders.7"],
         "the stream gets the event on both channels: type OrderShipped, the public properties as data",
         got)
    t.ok("BroadcastException" in out[1].get("error", "") and out[1].get("code") == "invalid_event" and
         "bad channel" in out[1].get("message", ""),
         "a refused channel: BroadcastException, its previous the FastpushException invalid_event", out[1])
    e = c.next_event(5)
    t.ok(e and payload(e)["channel"] == "news" and payload(e)["data"]["channels"][0] == "bad channel",
         "... and the other channel of that event is still published", e)
    c.close()

    http = dict(lenv, FASTPUSH_TRANSPORT="http", FASTPUSH_PUBLISH_SECRET=SECRET,
                FASTPUSH_PUBLISH_URL=f"http://127.0.0.1:{st.port}/push/publish")
    out = php(env, autoload, "laravel", conf, [
        {"op": "class"}, {"op": "event", "order": {"id": 6}, "channels": ["private-orders.9"]}],
        extra_env=http)
    t.eq([out[0].get("publisher"), out[1]], ["Fastpush\\HttpPublisher", {"ok": True}],
         "transport http: the broadcaster publishes through POST /push/publish")
    evs = since(b, "private-orders.9")
    t.ok(len(evs) == 1 and evs[0]["data"]["order"] == {"id": 6} and evs[0]["event"] == "OrderShipped",
         "... and the broker has the event", evs)


def check_symfony(env, st, autoload, keys):
    b = st.broker
    cfg = {"examples": os.path.join(PKG, "examples/symfony")}
    zenv = {"FASTPUSH_CONTROL": b.control, "FASTPUSH_JWT_KEY_FILE": keys.hs_path}
    c, ok = None, False
    out = php(env, autoload, "symfony", cfg, [
        {"op": "class"},
        {"op": "publish", "channel": "sym", "data": {"from": "symfony"}, "event": "hello"},
        {"op": "token", "user": "alice"},
        {"op": "token"}], extra_env=zenv)
    t.eq(out[0], {"class": "Fastpush\\Symfony\\FastpushService", "publisher": "Fastpush\\Publisher"},
         "services.yaml builds FastpushService with the ZeroMQ publisher")
    evs = since(b, "sym")
    t.ok(len(evs) == 1 and evs[0]["id"] == out[1].get("id") and evs[0]["data"] == {"from": "symfony"}
         and evs[0]["event"] == "hello", "FastpushService::publish reaches the broker", (out[1], evs))
    t.ok(out[2].get("status") == 200 and out[2]["body"].get("expires_in") == 600,
         "the example controller issues a token to alice", out[2])
    t.eq(out[3].get("status"), 401, "... and 401 without a user")
    tok = out[2].get("body", {}).get("token")
    c, ok = open_stream(st, "/events/user.alice,news", tok)
    t.ok(ok, "fastpush-sse accepts the controller's token for user.alice and news", (c.status, c.body[:200]))
    cb, _ = open_stream(st, "/events/user.bob", tok)
    t.eq(cb.status, 403, "... and refuses it for user.bob")
    cb.close()
    out = php(env, autoload, "symfony", cfg, [
        {"op": "notify", "body": {"user": "alice", "text": "your order shipped"}},
        {"op": "notify", "body": {"user": "a b", "text": "x"}}], extra_env=zenv)
    t.ok(out[0].get("status") == 202, "the controller's notify publishes: 202", out[0])
    ev = c.next_event(5) if ok else None
    t.ok(ev and ev.get("event") == "notification" and payload(ev)["data"] == {"text": "your order shipped"}
         and payload(ev)["id"] == out[0].get("body", {}).get("id"), "alice's stream gets the notification", ev)
    t.ok(out[1].get("status") == 400 and out[1].get("body", {}).get("error") == "invalid_event",
         "notify to an invalid channel: 400 invalid_event", out[1])
    if c:
        c.close()

    henv = dict(zenv, FASTPUSH_TRANSPORT="http", FASTPUSH_PUBLISH_SECRET=SECRET,
                FASTPUSH_PUBLISH_URL=f"http://127.0.0.1:{st.port}/push/publish")
    out = php(env, autoload, "symfony", cfg, [
        {"op": "class"}, {"op": "publish", "channel": "sym", "data": "over http"}], extra_env=henv)
    t.ok(out[0].get("publisher") == "Fastpush\\HttpPublisher" and "-" in str(out[1].get("id")),
         "FASTPUSH_TRANSPORT=http: the service publishes through POST /push/publish", out)
    t.eq([e["data"] for e in since(b, "sym")], [{"from": "symfony"}, "over http"],
         "... and the broker has the event")
    out = php(env, autoload, "symfony", cfg, [
        {"op": "notify", "body": {"user": "alice", "text": "x"}}],
        extra_env=dict(henv, FASTPUSH_PUBLISH_SECRET="wrong"))
    t.ok(out[0].get("status") == 403 and out[0].get("body", {}).get("error") == "forbidden",
         "a wrong publish-secret: the controller passes on 403 forbidden", out[0])


with Env(t) as env:
    if tools():
        keys = Keys(env.dir)
        st = Stack(env, "lighttpd", sse={"auth": "on", "jwt_key": keys.hs_path, "heartbeat": "1s"},
                   poll={"publish_secret": SECRET})
        autoload = check_package(env)
        check_core(env, st, autoload, keys)
        check_laravel(env, st, autoload, keys)
        check_symfony(env, st, autoload, keys)
        st.stop()
t.done()
