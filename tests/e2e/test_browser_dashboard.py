"""`make demo` as a new user meets it: tools/demo.py starts the whole system
behind lighttpd; the dashboard (web/) renders in headless Chromium with its
live feed, keyed state, three transports and statistics (screenshots in
tests/artifacts/); events published from the page, the CLI and PHP show
up; stopping the bridge from the page makes it fall back and starting it
makes it upgrade; restarting the broker resets nothing; the Pusher page
(/pusher.html) in two tabs: pusher-js connected, a presence list of two,
a whisper between them, the printed npm `pusher` command's event (node
and the npm modules are needed); SIGTERM stops everything."""
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from browserstack import ARTIFACTS, run
from harness import BIN, SANITIZER_MARKS, Tap, require_tool, wait_for

t = Tap()
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def feed_has(tab, text, timeout=8):
    return wait_for(lambda: tab.eval(f"document.getElementById('feed').textContent"
                                     f".includes({json.dumps(text)})"), timeout, 0.2)


def text(tab, id_):
    return tab.eval(f"document.getElementById('{id_}').textContent")


def check_pusher_page(demo, url, br):
    """/pusher.html: two tabs of pusher-js see the clock, each other on
    presence-lobby, one's whisper, and a trigger of the npm pusher command
    the demo printed."""
    a, b = br.open(url + "pusher.html"), br.open(url + "pusher.html")
    t.ok(wait_for(lambda: all("connected" in text(x, "conn-text") and
                              text(x, "count") == "2 members" for x in (a, b)), 15, 0.3),
         "the Pusher page in two tabs: pusher-js connects, presence-lobby lists 2 members",
         [text(x, "warn") + text(x, "conn-text") + text(x, "count") for x in (a, b)])
    clock = text(a, "clock")
    t.ok(wait_for(lambda: text(a, "clock") not in ("–", clock), 5, 0.2),
         "the clock ticks on the Pusher page")
    b.eval("document.getElementById('text').value = 'psst'; "
           "document.getElementById('say').requestSubmit(), true")
    t.ok(wait_for(lambda: ": psst" in text(a, "log"), 5, 0.2) and
         "you: psst" in text(b, "log") and text(b, "log").count("psst") == 1,
         "a whisper (client event) from one tab reaches the other", text(a, "log"))
    cmd = next(line.strip() for line in demo.read_log().splitlines()
               if line.strip().startswith("node -e"))
    r = subprocess.run(cmd, shell=True, cwd=ROOT, capture_output=True, text=True, timeout=30)
    t.ok(r.stdout.strip() == "200" and wait_for(lambda: "hello from node" in text(a, "log"), 5,
                                                0.2),
         "the printed npm pusher command publishes to the page", (r.stdout, r.stderr[-500:]))
    a.screenshot(os.path.join(ARTIFACTS, "demo-pusher.png"))
    a.close()
    b.close()


def main(env, br):
    var = env.path("demo")
    demo = env.start("demo", [sys.executable, os.path.join(ROOT, "tools", "demo.py"), "--bin", BIN,
                              "--var", var, "--port", "0", "--ipc", "--no-install"])
    t.ok(wait_for(lambda: "demo is running" in demo.read_log(), 30, 0.2),
         "tools/demo.py starts everything and prints the URL", demo.read_log())
    url = next(w for w in demo.read_log().split() if w.startswith("http://") and w.endswith("/"))
    tab = br.open(url)
    ready = ("(() => { const d = window.fastpushDemo; return !!d && d.main.status.connected && "
             "['websocket','sse','poll'].every(t => d.bench[t].status && d.bench[t].status.connected"
             " && d.bench[t].total > 3); })()")
    t.ok(wait_for(lambda: tab.eval(ready), 20, 0.25),
         "the page connects: its own client and one per transport, all receiving")
    t.eq(text(tab, "conn-text"), "WebSocket", "the badge shows the WebSocket connection")
    t.ok(wait_for(lambda: tab.eval("document.querySelectorAll('#prices tr').length") == 5, 5, 0.2),
         "the keyed channel's five prices are shown")
    t.ok("arrived once, in order" in text(tab, "continuity"), "the counter arrives in order",
         text(tab, "continuity"))
    t.ok(wait_for(lambda: "WebSocket connections" in text(tab, "stats") and
                  "running" in text(tab, "parts"), 5, 0.2), "statistics and parts are shown")
    t.ok(wait_for(lambda: tab.eval("document.getElementById('eps-poll').textContent !== '–'"),
                  5, 0.2), "the transport cards count events")
    check_pusher_page(demo, url, br)

    def stats():
        with urllib.request.urlopen(url + "push/stats", timeout=5) as r:
            reps = json.loads(r.read())["broker"].get("responders", [])
        return {t: sum(x["stats"].get(k, 0) for x in reps if x["transport"] == t)
                for t, k in (("ws", "streams"), ("sse", "streams"))}
    t.ok(wait_for(lambda: stats() == {"ws": 2, "sse": 1}, 12, 0.5),
         "/push/stats: two WebSocket connections and one SSE stream", stats())
    time.sleep(2.5)                                 # the page shows them too
    shot = tab.screenshot(os.path.join(ARTIFACTS, "dashboard.png"))
    t.ok(os.path.getsize(shot) > 50000, f"screenshot saved: {os.path.relpath(shot, ROOT)}")

    # publish: from the form, the CLI and PHP
    r = tab.eval("""(async () => {
        const f = document.getElementById('pub');
        f.data.value = '{"user":"test","text":"from the form"}';
        f.requestSubmit();
        for (let i = 0; i < 50; i++) {
            const r = document.getElementById('pub-result');
            if (r.className.includes('ok') || r.className.includes('err')) return r.textContent;
            await new Promise(res => setTimeout(res, 100));
        }
        return 'no answer';
    })()""")
    t.ok(r.startswith("published ") and "WebSocket" in r, "the form publishes (over the WebSocket)", r)
    t.ok(feed_has(tab, "from the form"), "... and the event shows in the feed")
    eps = {}
    with open(os.path.join(var, "env.sh")) as f:
        for line in f:
            k, v = line.split()[1].split("=", 1)
            eps[k] = v.strip("'")
    cli = subprocess.run([os.path.join(BIN, "fastpush"), "publish", "chat",
                          '{"user":"cli","text":"from the CLI"}'],
                         env=dict(os.environ, **eps), capture_output=True, timeout=10)
    t.ok(cli.returncode == 0 and feed_has(tab, "from the CLI"), "fastpush publish shows in the feed",
         cli.stderr)
    if require_tool(t, "php", shutil.which("php"), "clients/php/example.php: php installed"):
        php = subprocess.run(["php", os.path.join(ROOT, "clients", "php", "example.php"), "chat"],
                             env=dict(os.environ, **eps), capture_output=True, timeout=20)
        t.ok(feed_has(tab, "a plain string"), "clients/php/example.php shows in the feed",
             php.stdout + php.stderr)

    # take the bridge away from the page, and bring it back
    click = "document.querySelectorAll('#parts button')[0].click(), true"
    tab.eval(click)
    t.ok(wait_for(lambda: text(tab, "conn-text") == "Server-Sent Events", 10, 0.2),
         "'Stop' on the bridge: the page falls back to Server-Sent Events", text(tab, "conn-text"))
    tab.screenshot(os.path.join(ARTIFACTS, "dashboard-fallback.png"), clip=(0, 0, 1280, 900))
    wait_for(lambda: "Start" in text(tab, "parts"), 5, 0.2)
    tab.eval(click)
    t.ok(wait_for(lambda: text(tab, "conn-text") == "WebSocket", 20, 0.2),
         "'Start': it upgrades back to WebSocket", text(tab, "conn-text"))
    tab.eval("document.querySelectorAll('#parts button')[3].click(), true")   # restart the broker
    n = int(text(tab, "counter").replace(",", ""))
    t.ok(wait_for(lambda: int(text(tab, "counter").replace(",", "")) > n + 4, 15, 0.2),
         "'Restart' on the broker: the counter goes on", text(tab, "counter"))
    t.ok("arrived once, in order" in text(tab, "continuity") and
         "reset on" not in text(tab, "feed"),
         "no number missed or repeated, and no reset (the store kept the history)",
         text(tab, "continuity") + "\n" + tab.eval(
             "[...document.querySelectorAll('#feed .note')].map(e => e.textContent).join('\\n')"))
    parts = tab.eval("fetch('/demo/state').then(r => r.json())")["parts"]
    os.kill(parts["broker"]["pid"], signal.SIGSTOP)     # a hung broker: nothing answers
    t.ok(wait_for(lambda: "not answering" in text(tab, "broker-warn"), 15, 0.3),
         "a hung broker: the page says so, though its own connection is up",
         text(tab, "broker-warn"))
    tab.screenshot(os.path.join(ARTIFACTS, "dashboard-broker-hung.png"), clip=(0, 0, 1280, 300))
    os.kill(parts["broker"]["pid"], signal.SIGCONT)
    t.ok(wait_for(lambda: text(tab, "broker-warn") == "", 10, 0.3), "... and stops saying it once "
         "the broker answers again")
    pids = [p["pid"] for p in parts.values()]
    t.eq(demo.stop(), 0, "SIGTERM: the demo exits 0")
    t.ok(wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in pids), 5),
         "... having stopped every process it started")
    for log in glob.glob(os.path.join(var, "run", "*.log")):
        with open(log, errors="replace") as f:
            body = f.read()
        if any(m in body for m in SANITIZER_MARKS):
            t.ok(False, f"no sanitizer report in {os.path.basename(log)}", body[-3000:])


run(t, main)
