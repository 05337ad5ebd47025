"""Django under real Apache with mod_wsgi, fastpush-sse behind the same
Apache (mod_proxy_fcgi, conf/apache-sse.conf): the example notifications
site of clients/django.  A user logs in through the real login form in
headless Chromium and sees their notifications appear live when Django
code saves them (here, and `manage.py notify`), and never another user's;
the token view refuses anonymous users; a token for one user is refused
by fastpush-sse on another user's channel (403); tokens live
FASTPUSH_STREAM_LIFETIME and end the stream at their exp; RS256 tokens
are taken by a fastpush-sse with the public key; fastpush-sse's
directives come from `manage.py fastpush_config` (heartbeat 30 s, at
most 5 streams per user: the sixth is 429).  Needs apache2, mod_wsgi
(libapache2-mod-wsgi-py3), python3-django and chromium: a missing one is
a failure."""
import base64
import grp
import io
import json
import os
import secrets
import subprocess
import sys
import time

sys.dont_write_bytecode = True          # the www-data workers read the tree; keep it clean

import chromium  # noqa: E402
from chromium import Chromium, ChromiumError  # noqa: E402
from harness import Env, Tap, free_port, require_tool  # noqa: E402
from servers import SSE_BIN, WEB_GROUP, Apache, render, write  # noqa: E402,F401
from sseclient import SseClient, request  # noqa: E402
import fpstack  # noqa: E402
from fpstack.conf import SOCK, responder_conf  # noqa: E402

t = Tap()

DJANGO_DIR = os.path.join(fpstack.ROOT, "clients", "django")
EXAMPLE = os.path.join(DJANGO_DIR, "example")
ARTIFACTS = os.path.join(fpstack.ROOT, "tests", "artifacts")
MOD_WSGI = "/usr/lib/apache2/modules/mod_wsgi.so"
PYTHON = sys.executable      # /usr/bin/python3 under make test: Debian's python3-django


def django_path():
    """Where Django is for this interpreter (None when it has none:
    Debian's python3-django is for /usr/bin/python3)."""
    p = subprocess.run([PYTHON, "-c", "import django, os; print(os.path.dirname(django.__file__))"],
                       capture_output=True, text=True)
    return p.stdout.strip() if p.returncode == 0 else None


def claims(token):
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def jbody(body):
    try:
        return json.loads(body)
    except ValueError:
        return {}


class Site:
    """The example project for this run: a settings module and a WSGI
    script in the run's directory, its SQLite database, its static files
    collected, Django set up in this process too (same settings), so the
    test saves notifications as the application would."""

    def __init__(self, env, broker, key):
        uid, gid = fpstack.web.web_ids()
        self.dir = env.path("site")
        data = env.path("data")
        for d in (self.dir, data):
            os.makedirs(d, exist_ok=True)
        os.chown(data, uid, gid)            # the workers write the database (sessions)
        self.static = env.path("static")
        write(os.path.join(self.dir, "fp_test_settings.py"), f"""\
from notify_site.settings import *  # noqa: F401,F403
SECRET_KEY = {secrets.token_hex(32)!r}
DATABASES = {{"default": {{"ENGINE": "django.db.backends.sqlite3",
                          "NAME": {os.path.join(data, "db.sqlite3")!r}}}}}
STATIC_ROOT = {self.static!r}
FASTPUSH_CONTROL = {broker.control!r}
FASTPUSH_INGEST = {broker.ingest!r}
FASTPUSH_JWT_KEY_FILE = {key!r}
""")
        self.wsgi = write(os.path.join(self.dir, "wsgi.py"), """\
import os
os.environ["DJANGO_SETTINGS_MODULE"] = "fp_test_settings"
from notify_site.wsgi import application  # noqa: E402,F401
""")
        self.pythonpath = [DJANGO_DIR, EXAMPLE, self.dir]
        for p in reversed(self.pythonpath):
            sys.path.insert(0, p)
        os.environ["DJANGO_SETTINGS_MODULE"] = "fp_test_settings"
        import django
        django.setup()
        from django.core.management import call_command
        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        os.chown(os.path.join(data, "db.sqlite3"), uid, gid)

    def command(self, *args):
        """manage.py ARGS in a process of its own, as an operator runs it."""
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="fp_test_settings",
                   PYTHONPATH=os.pathsep.join(self.pythonpath))
        return subprocess.run([PYTHON, os.path.join(EXAMPLE, "manage.py")] + list(args),
                              env=env, capture_output=True, text=True, timeout=30)

    @staticmethod
    def session_cookie(user):
        """The Cookie header of a session logged in as user (the test
        client's force_login: a real session row, a real cookie)."""
        from django.conf import settings
        from django.test import Client
        c = Client()
        c.force_login(user)
        return f"{settings.SESSION_COOKIE_NAME}={c.cookies[settings.SESSION_COOKIE_NAME].value}"


def apache_snippet(env, site, sock, rs_sock):
    """conf/apache-sse.conf as shipped, plus what docs/django.md adds:
    CGIPassAuth for the Bearer token, the static files, mod_wsgi; and
    /rs-events, the RS256 fastpush-sse."""
    d = env.path("apache")
    os.makedirs(d, exist_ok=True)
    return write(env.path("django-apache.conf"), render("apache-sse.conf", {SOCK: sock}) + f"""
# the browser client sends the token as Authorization: Bearer
<Location "/events">
    CGIPassAuth On
</Location>
ProxyPass "/rs-events" "unix:{rs_sock}|fcgi://localhost/rs-events" flushpackets=on
<Location "/rs-events">
    CGIPassAuth On
</Location>

TypesConfig /etc/mime.types
Alias "/static/" "{site.static}/"
<Directory "{site.static}">
    Require all granted
</Directory>

WSGISocketPrefix "{d}/wsgi"
WSGIDaemonProcess notify processes=1 threads=8 display-name=notify-wsgi \
    python-path={":".join(site.pythonpath)}
WSGIProcessGroup notify
WSGIApplicationGroup %{{GLOBAL}}
WSGIScriptAlias / "{site.wsgi}"
<Directory "{site.dir}">
    <Files "wsgi.py">
        Require all granted
    </Files>
</Directory>
""")


def wait_page(tab, path, timeout=15):
    """Until the tab shows `path`, loaded (evaluations fail while it navigates)."""
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = tab.eval("document.readyState + ' ' + location.pathname", 5)
            if last == f"complete {path}":
                return True
        except ChromiumError as e:
            last = str(e)
        time.sleep(0.1)
    t.note(f"page: {last}")
    return False


def page_wait(tab, cond, ms=10000):
    """Until a JS condition holds in the page (true), or ms pass (false)."""
    return tab.eval(f"""new Promise(res => {{ const end = Date.now() + {ms};
        (function check() {{ if ({cond}) return res(true);
          if (Date.now() > end) return res(false); setTimeout(check, 50); }})(); }})""",
                    ms / 1000 + 5)


ITEMS = "[...document.querySelectorAll('#notifications li')].map(li => li.textContent)"


def check_browser(br, base, site, alice, bob, Notification):
    port = int(base.rsplit(":", 1)[1])
    s, h, _ = request(port, "/")
    t.ok(s == 302 and h.get("location") == "/accounts/login/?next=/",
         "anonymous: the page sends to the login form", (s, h))
    # (open the form itself: the tab waits for the URL it was given)
    tab = br.open(base + "/accounts/login/?next=/")
    tab.eval("""document.getElementById('id_username').value = 'alice';
        document.getElementById('id_password').value = 'pw-alice';
        document.querySelector('form').submit(); true""")
    t.ok(wait_page(tab, "/"), "alice logs in through the real form and gets her page")
    t.ok(tab.eval(f"{ITEMS}.includes('alice: before the page')"),
         "the page renders the notifications saved before it", tab.eval(ITEMS))
    live = page_wait(tab, "document.getElementById('status').textContent === 'live (sse)'")
    t.ok(live, "the template tag opened the stream over SSE with a token",
         tab.eval("document.getElementById('status').textContent"))
    tab.eval("window.GOT = []; fastpush.on('event', e => GOT.push(e.channel)); true")

    t0 = time.monotonic()
    Notification.objects.create(user=bob, text="bob: private")
    Notification.objects.create(user=alice, text="alice: live 1")
    ok = page_wait(tab, f"{ITEMS}.includes('alice: live 1')")
    t.ok(ok, f"a model save shows in alice's page at once ({time.monotonic() - t0:.2f} s)",
         tab.eval(ITEMS))
    r = site.command("notify", "alice", "alice: from manage.py")
    ok = page_wait(tab, f"{ITEMS}.includes('alice: from manage.py')")
    t.ok(r.returncode == 0 and ok, "manage.py notify: shows in her page too",
         (r.stdout, r.stderr[-1500:], tab.eval(ITEMS)))
    Notification.objects.create(user=bob, text="bob: private 2")
    Notification.objects.create(user=alice, text="alice: live 2")
    page_wait(tab, f"{ITEMS}.includes('alice: live 2')")
    items, got = tab.eval(ITEMS), tab.eval("GOT")
    t.ok(not any(i.startswith("bob") for i in items) and got
         and set(got) == {f"user.{alice.pk}"},
         "bob's notifications never reach alice's page (only her channel's events)",
         {"items": items, "channels": got})
    tab.screenshot(os.path.join(ARTIFACTS, "django-notifications.png"), height=500)
    return tab


def check_http(port, site, alice, bob, Notification):
    from django.test import override_settings
    from fastpush_django.tokens import issue

    s, h, body = request(port, "/fastpush/token")
    t.ok(s == 403 and jbody(body).get("error") == "forbidden",
         "the token view refuses an anonymous user: 403", (s, body))
    tokens = {}
    for u in (alice, bob):
        s, h, body = request(port, "/fastpush/token", headers={"Cookie": site.session_cookie(u)})
        tokens[u.username] = jbody(body).get("token", "")
        t.ok(s == 200 and "no-store" in h.get("cache-control", "") and tokens[u.username],
             f"{u.username}'s session gets a token", (s, h, body))
    c = claims(tokens["bob"])
    t.ok(c.get("sub") == str(bob.pk) and c.get("exp", 0) - c.get("iat", 0) == 300
         and c.get("fastpush") == {"subscribe": [f"user.{bob.pk}"]},
         "the token: sub is the user's id, subscribe user.{id} only, it lives 300 s", c)

    alice_h = {"Authorization": "Bearer " + tokens["alice"]}
    bob_h = {"Authorization": "Bearer " + tokens["bob"]}
    s, h, body = request(port, f"/events/user.{bob.pk}", headers=alice_h)
    t.ok(s == 403 and jbody(body).get("error") == "forbidden" and f"user.{bob.pk}" in
         body.decode(), f"alice's token (user {alice.pk}) on user.{bob.pk}: fastpush-sse says 403",
         (s, body))
    s, h, body = request(port, f"/events/user.{alice.pk}")
    t.ok(s == 401, "no token: 401", (s, body))

    bs = SseClient(port, f"/events/user.{bob.pk}", headers=bob_h)
    ev = bs.next_event(5)
    t.ok(bs.status == 200 and ev and ev.get("event") == "ready", "bob's token opens his own stream",
         (bs.status, ev))
    Notification.objects.create(user=alice, text="alice: not for bob")
    Notification.objects.create(user=bob, text="bob: for bob")
    ev = bs.next_event(5)
    data = json.loads(ev["data"]) if ev and ev.get("data") else {}
    t.ok(ev and ev.get("event") == "notification" and data.get("data", {}).get("text") ==
         "bob: for bob", "bob's stream: his notification, not alice's before it", ev)

    # the stream's lifetime is the token's: it ends at exp with auth-expired
    with override_settings(FASTPUSH_STREAM_LIFETIME=2):
        short, _ = issue(alice)
    x = SseClient(port, f"/events/user.{alice.pk}", headers={"Authorization": "Bearer " + short})
    evs = x.events_until(lambda e: any(i.get("event") == "auth-expired" for i in e), 6)
    x.close()
    t.ok(x.status == 200 and any(i.get("event") == "auth-expired" for i in evs),
         "FASTPUSH_STREAM_LIFETIME 2 s: the stream ends with auth-expired at the token's exp",
         (x.status, evs))

    # max connections per user: fastpush-sse's max-user-connections 5
    streams = [bs] + [SseClient(port, f"/events/user.{bob.pk}", headers=bob_h) for _ in range(4)]
    opened = [x.status for x in streams]
    s, h, body = request(port, f"/events/user.{bob.pk}", headers=bob_h)
    t.ok(opened == [200] * 5 and s == 429 and jbody(body).get("error") == "too_many_connections",
         "at most 5 streams per user: the sixth is 429", (opened, s, body))
    for x in streams:
        x.close()
    s, _, _ = request(port, f"/events/user.{bob.pk}", headers=bob_h)
    t.note(f"right after closing them, another stream of his: {s} (Apache tells fastpush-sse "
           "that a browser left only at the next write: the heartbeat at the latest)")


def check_rs256(port, rs, alice, bob):
    """RS256: the app signs with the private key (openssl), a fastpush-sse
    with jwt-alg RS256 and the public key verifies."""
    from django.test import override_settings
    from fastpush_django.tokens import issue
    with override_settings(FASTPUSH_JWT_ALG="RS256", FASTPUSH_JWT_KEY_FILE=rs["private"]):
        tok, _ = issue(alice)
    h = {"Authorization": "Bearer " + tok}
    x = SseClient(port, f"/rs-events/user.{alice.pk}", headers=h)
    ev = x.next_event(5)
    x.close()
    s, _, body = request(port, f"/rs-events/user.{bob.pk}", headers=h)
    t.ok(x.status == 200 and ev and ev.get("event") == "ready" and s == 403,
         "RS256 (FASTPUSH_JWT_ALG): fastpush-sse with the public key takes the token, "
         "and refuses another user's channel", (x.status, ev, s, body))

def main():
    have = [require_tool(t, "apache2"), require_tool(t, "mod_wsgi", MOD_WSGI,
                                                     "mod_wsgi (libapache2-mod-wsgi-py3)"),
            require_tool(t, "django", django_path(), f"python3-django for {PYTHON}"),
            require_tool(t, "chromium", chromium.binary())]
    if not all(have):
        return
    with Env(t) as env:
        os.chmod(env.dir, 0o755)
        key = write(env.path("jwt.key"), secrets.token_hex(32) + "\n")
        os.chown(key, 0, grp.getgrnam(WEB_GROUP).gr_gid)
        os.chmod(key, 0o640)
        ports = {k: f"tcp://127.0.0.1:{free_port()}" for k in ("ingest", "control", "fanout")}
        broker = env.broker("broker", **ports)
        site = Site(env, broker, key)

        from django.contrib.auth.models import User
        from django.core.management import call_command
        from notifications.models import Notification

        out = io.StringIO()
        call_command("fastpush_config", stdout=out)
        conf = dict(line.split(" ", 1) for line in out.getvalue().splitlines()
                    if line and not line.startswith("#"))
        t.ok({k: conf.get(k) for k in ("auth", "jwt-key", "heartbeat", "max-user-connections",
                                       "prefix")} ==
             {"auth": "on", "jwt-key": key, "heartbeat": "30s", "max-user-connections": "5",
              "prefix": "/events"},
             "manage.py fastpush_config: auth, jwt-key, heartbeat 30s, max-user-connections 5",
             out.getvalue())
        sock = env.path("sse.sock")
        sse_conf = responder_conf("sse", env.path("sse.conf"), broker, sock, conf)
        sse = env.start("sse", [env.prog("fastpush-sse"), "-f", sse_conf], ready_fd=True,
                        group=WEB_GROUP)
        rs = {"private": env.path("jwt-rs.pem"), "public": env.path("jwt-rs.pub")}
        subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                        "rsa_keygen_bits:2048", "-out", rs["private"]], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", rs["private"], "-pubout", "-out", rs["public"]],
                       check=True, capture_output=True)
        rs_sock = env.path("sse-rs.sock")
        rs_conf = responder_conf("sse", env.path("sse-rs.conf"), broker, rs_sock, dict(
            conf, **{"jwt-alg": "RS256", "jwt-key": rs["public"], "prefix": "/rs-events"}))
        sse_rs = env.start("sse-rs", [env.prog("fastpush-sse"), "-f", rs_conf], ready_fd=True,
                           group=WEB_GROUP)

        alice = User.objects.create_user("alice", password="pw-alice")
        bob = User.objects.create_user("bob", password="pw-bob")
        Notification.objects.create(user=alice, text="alice: before the page")

        web = env.add(Apache(env, apache_snippet(env, site, sock, rs_sock),
                             ["proxy", "proxy_fcgi", "wsgi", "alias", "mime"], name="apache"))
        base = f"http://127.0.0.1:{web.port}"
        s, h, body = request(web.port, "/static/fastpush/fastpush.js")
        t.ok(s == 200 and b"Fastpush" in body and "javascript" in h.get("content-type", ""),
             "Apache serves the collected fastpush.js", (s, h))
        with Chromium(env.dir) as br:
            tab = check_browser(br, base, site, alice, bob, Notification)
            check_http(web.port, site, alice, bob, Notification)
            check_rs256(web.port, rs, alice, bob)
            tab.close()
        # fastpush-sse first: it ends the streams, so Apache's workers are
        # free to stop (a stream's worker waits on it until then)
        env.stop_each((sse, sse_rs, web, broker))


main()
t.done()
