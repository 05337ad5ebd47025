"""The publishers: the CLI, the PHP library (clients/php) and the Python
library (clients/python) against a real broker: ids, SEQ order and prev
across all three, data round trips, async and batch publishes, the
broker's error codes as exceptions and exit codes, timeouts, no broker."""
import json
import os
import signal
import subprocess
import sys

import zmq

from harness import Env, Tap, recv_all, wait_for

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "../.."))
sys.path.insert(0, os.path.join(ROOT, "clients/python"))
from fastpush_publisher import FastpushError, FastpushPublisher  # noqa: E402

t = Tap()

# Runs a list of operations with one FastpushPublisher and prints one JSON
# line per operation: {"id": ...}, {"ok": true} or {"error": CODE}.
PHP_DRIVER = r"""<?php
require $argv[1];
$pub = new FastpushPublisher(['control' => $argv[2], 'ingest' => $argv[3],
                              'timeout' => (float) $argv[4]]);
foreach (json_decode($argv[5], true) as $op) {
    try {
        $opts = isset($op['options']) ? $op['options'] : [];
        if ($op['op'] === 'publish')
            $out = ['id' => $pub->publish($op['channel'], $op['data'], $opts)];
        elseif ($op['op'] === 'async')
            $out = ['ok' => $pub->publishAsync($op['channel'], $op['data'], $opts) === null];
        elseif ($op['op'] === 'batch')
            $out = ['ok' => $pub->publishBatchAsync($op['events']) === null];
        elseif ($op['op'] === 'signal')
            $out = ['ok' => posix_kill($op['pid'], $op['sig'])];
        else
            $out = ['meta' => $pub->request($op['command'], $op['body'])];
    } catch (FastpushException $e) {
        $out = ['error' => $e->getErrorCode(), 'message' => $e->getMessage()];
    }
    echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
}
"""


def php(env, b, ops, timeout=3.0, control=None, ingest=None):
    path = env.path("driver.php")
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(PHP_DRIVER)
    r = subprocess.run(["php", path, os.path.join(ROOT, "clients/php/FastpushPublisher.php"),
                        control or b.control, ingest or b.ingest, str(timeout), json.dumps(ops)],
                       capture_output=True, timeout=60)
    out = [json.loads(x) for x in r.stdout.decode().splitlines() if x.startswith("{")]
    if r.returncode != 0 or len(out) != len(ops):
        t.note(f"php exited {r.returncode}:\n{r.stdout.decode()}\n{r.stderr.decode()}")
    return out


def error_code(fn, *args, **kw):
    """The FastpushError code fn raises, or None."""
    try:
        fn(*args, **kw)
    except FastpushError as e:
        return e.code
    return None


def events_of(msgs):
    return [m for _, m in msgs if "id" in m]


def check_three_publishers(env):
    b = env.broker()
    sub = b.subscriber("mix", "other")
    recv_all(sub, timeout=0.3, until=lambda o: len(o) >= 2)
    py = FastpushPublisher(control=b.control, ingest=b.ingest, timeout=3.0, context=env.ctx)
    ids, sent = [], []

    def cli(channel, data, *extra):
        r = b.cli("publish", channel, *extra, json.dumps(data))
        ids.append(r.stdout.decode().strip())
        sent.append((channel, data))
        return r

    cli("mix", {"from": "cli", "n": 1})
    out = php(env, b, [
        {"op": "publish", "channel": "mix", "data": {"from": "php", "n": 2, "text": "grüße"}},
        {"op": "publish", "channel": "other", "data": [1, 2.5, None, True],
         "options": {"key": "k1", "event": "update"}},
    ])
    ids += [o.get("id") for o in out]
    sent += [("mix", {"from": "php", "n": 2, "text": "grüße"}), ("other", [1, 2.5, None, True])]
    ids.append(py.publish("mix", {"from": "python", "n": 4, "text": "日本"}))
    ids.append(py.publish("other", "plain", event="note"))
    sent += [("mix", {"from": "python", "n": 4, "text": "日本"}), ("other", "plain")]
    cli("other", {"from": "cli", "n": 6}, "--key", "k1")
    ids.append(py.publish("mix", None))
    sent.append(("mix", None))
    epoch = ids[0].split("-")[0]
    t.eq(ids, [f"{epoch}-{i}" for i in range(1, 8)],
         "CLI, PHP and Python publishes get consecutive ids in the order sent")
    got = events_of(recv_all(sub, timeout=1.0, until=lambda o: len(events_of(o)) >= 7))
    t.eq([e["id"] for e in got], ids, "the subscriber gets all seven in SEQ order with those ids")
    t.eq([(e["channel"], e["data"]) for e in got], sent, "channels and data arrive as published")
    t.eq([e["prev"] for e in got], [0, 1, 0, 2, 3, 5, 4], "prev chains each channel across publishers")
    t.eq([(e["event"], e.get("key")) for e in got],
         [("message", None), ("message", None), ("update", "k1"), ("message", None),
          ("note", None), ("message", "k1"), ("message", None)], "event types and keys")

    # fire and forget, single and batched, from all three
    out = php(env, b, [
        {"op": "async", "channel": "mix", "data": "php-async"},
        {"op": "batch", "events": [{"channel": "mix", "data": "php-b1"},
                                   {"channel": "other", "data": "php-b2", "key": "k2"}]},
    ])
    t.eq(out, [{"ok": True}, {"ok": True}], "PHP publishAsync and publishBatchAsync return")
    py.publish_async("mix", "py-async")
    py.publish_batch_async([{"channel": "other", "data": "py-b1", "event": "x"},
                            {"channel": "mix", "data": "py-b2"}])
    r = b.cli("publish", "--async", "mix", "cli-async")
    t.eq(r.returncode, 0, "CLI publish --async")
    got = events_of(recv_all(sub, timeout=1.0, until=lambda o: len(events_of(o)) >= 7))
    t.eq([e["data"] for e in got], ["php-async", "php-b1", "php-b2", "py-async", "py-b1", "py-b2",
                                    "cli-async"], "async events arrive in the order sent")
    t.eq([e["seq"] for e in got], list(range(8, 15)), "async events are numbered like the others")
    t.eq(got[2].get("key"), "k2", "a batch keeps each event's key")
    meta, evs = py.request("STATE", {"channel": "other"})
    t.eq([(e["key"], e["data"]) for e in evs], [("k1", {"from": "cli", "n": 6}), ("k2", "php-b2")],
         "keyed state built from CLI and PHP publishes")
    py.close()
    sub.close()


def check_errors(env):
    b = env.broker(max_event_bytes="1k")
    py = FastpushPublisher(control=b.control, ingest=b.ingest, timeout=3.0, context=env.ctx)
    cases = [("bad channel", 1, {}, "invalid_event"),
             ("c" * 129, 1, {}, "invalid_event"),
             ("ok", 1, {"event": "reset"}, "invalid_event"),
             ("ok", 1, {"key": ""}, "invalid_event"),
             ("ok", "x" * 2000, {}, "too_large")]
    for channel, data, opts, code in cases:
        t.eq(error_code(py.publish, channel, data, **opts), code, f"Python publish({channel[:12]!r}, {opts}) raises {code}")
    out = php(env, b, [{"op": "publish", "channel": c, "data": d, "options": o}
                       for c, d, o, _ in cases])
    t.eq([o.get("error") for o in out], [c[3] for c in cases],
         "PHP publish throws FastpushException with the same codes")
    t.ok("invalid channel name" in out[0].get("message", ""), "... and the broker's message", out[0])
    r = b.cli("publish", "bad channel", "1")
    t.ok(r.returncode == 1 and b"(invalid_event)" in r.stderr,
         "CLI exits 1 and names the broker's code", r.stderr)
    r = b.cli("publish", "ok", "x" * 2000)
    t.ok(r.returncode == 1 and b"(too_large)" in r.stderr, "CLI: too_large", r.stderr)

    # async: nobody answers, so names are checked before sending
    before = b.request("STATS")[1]["events"]
    for channel, opts in (("bad channel", {}), ("ok", {"event": "close"}), ("ok", {"key": "a\"b"})):
        t.eq(error_code(py.publish_async, channel, 1, **opts), "invalid_event", f"Python publish_async({channel!r}, {opts}) refused locally")
    out = php(env, b, [{"op": "async", "channel": "bad channel", "data": 1},
                       {"op": "async", "channel": "ok", "data": 1, "options": {"event": "close"}},
                       {"op": "batch", "events": [{"channel": "ok", "data": 1},
                                                  {"channel": "", "data": 2}]}])
    t.eq([o.get("error") for o in out], ["invalid_event"] * 3, "PHP async: refused locally")
    after = b.request("STATS")[1]["events"]
    t.eq(after, before, "nothing invalid reached the broker")
    t.ok(b.alive(), "broker still serving")
    py.close()


def check_raw_async_refusals(env):
    """Async events the clients would have refused, sent raw: the broker
    only counts them, keeps going, and keeps the valid events of a batch."""
    b = env.broker()
    sub = b.subscriber("r")
    recv_all(sub, timeout=0.3, until=lambda o: len(o) >= 1)
    push = env.ctx.socket(zmq.PUSH)
    push.connect(b.ingest)
    push.send(b'{"channel":"r","data":0,"tag":1}')                 # unknown field, alone
    push.send(b'[{"channel":"r","data":1},{"channel":"r","data":2,"x":{"y":[1]}},'
              b'{"channel":7,"data":3},{"channel":"r","data":4}]')  # refused inside a batch
    push.send(b'[{"channel":"r","data":5,"zz":1},{"channel":"r","data":tru},'
              b'{"channel":"r","data":6}]')                        # invalid JSON ends a batch
    push.send(b'{"channel":"r","data":7}')
    got = events_of(recv_all(sub, timeout=1.0, until=lambda o: len(events_of(o)) >= 3))
    t.eq([e["data"] for e in got], [1, 4, 7], "the valid events around refused ones are published")
    t.ok(b.alive(), "the broker survives refused events on the ingest socket")
    t.eq(b.request("STATS")[1]["events"]["rejected"], 5, "each refused event is counted once")
    push.close()
    sub.close()


def check_timeouts(env):
    b = env.broker()
    py = FastpushPublisher(control=b.control, ingest=b.ingest, timeout=0.5, context=env.ctx)
    t.eq(py.publish("t", 0), b.request("PING")[1]["epoch"] + "-1", "first publish")
    b.send_signal(signal.SIGSTOP)
    got = error_code(py.publish, "t", "while stopped")
    b.send_signal(signal.SIGCONT)
    t.eq(got, "timeout", "Python: no answer within the timeout raises 'timeout'")
    # the broker publishes the late request (seq 2) and answers it; that
    # stale answer must not be taken for the next publish's
    t.ok(py.publish("t", "next").endswith("-3"), "the late answer is not mistaken for the next one")
    out = php(env, b, [{"op": "request", "command": "PING", "body": {}},   # connect first
                       {"op": "signal", "pid": b.pid, "sig": int(signal.SIGSTOP)},
                       {"op": "publish", "channel": "t", "data": "php while stopped"},
                       {"op": "signal", "pid": b.pid, "sig": int(signal.SIGCONT)},
                       {"op": "publish", "channel": "t", "data": "php next"}], timeout=0.5)
    t.eq(out[2].get("error"), "timeout", "PHP: no answer within the timeout throws 'timeout'")
    t.ok(str(out[4].get("id", "")).endswith("-5"), "PHP: the late answer is skipped", out)
    b.send_signal(signal.SIGCONT)
    st, meta, evs = b.request("SINCE", {"channels": ["t"], "cursor": "earliest"})
    t.eq([e["data"] for e in evs], [0, "while stopped", "next", "php while stopped", "php next"],
         "a timed-out publish may still be published (as documented)")
    py.close()

    nowhere = "ipc://" + env.path("nothing-here")
    py = FastpushPublisher(control=nowhere, ingest=nowhere, timeout=0.3, context=env.ctx)
    for name, fn in (("publish", py.publish), ("publish_async", py.publish_async)):
        t.eq(error_code(fn, "t", 1), "broker_unavailable", f"Python {name} without a broker: broker_unavailable")
    py.close()
    out = php(env, b, [{"op": "publish", "channel": "t", "data": 1},
                       {"op": "async", "channel": "t", "data": 1}],
              timeout=0.3, control=nowhere, ingest=nowhere)
    t.eq([o.get("error") for o in out], ["broker_unavailable"] * 2,
         "PHP without a broker: broker_unavailable")
    r = b.cli("--control", nowhere, "--timeout", "300", "publish", "t", "1")
    t.eq(r.returncode, 3, "CLI without a broker: exit 3")


def check_examples(env):
    b = env.broker()
    r = subprocess.run([sys.executable, os.path.join(ROOT, "clients/python/example.py"),
                        "--control", b.control, "--ingest", b.ingest, "ex"],
                       capture_output=True, timeout=30)
    t.ok(r.returncode == 0 and r.stdout.count(b"published") == 3 and b"refused: invalid_event"
         in r.stdout, "clients/python/example.py runs", r.stdout + r.stderr)
    r = subprocess.run(["php", os.path.join(ROOT, "clients/php/example.php"),
                        "--control", b.control, "--ingest", b.ingest, "ex"],
                       capture_output=True, timeout=30)
    t.ok(r.returncode == 0 and r.stdout.count(b"published") == 3 and b"refused: invalid_event"
         in r.stdout, "clients/php/example.php runs", r.stdout + r.stderr)
    since = lambda: b.request("SINCE", {"channels": ["ex", "prices"], "cursor": "earliest"})[2]
    t.eq(len(wait_for(lambda: len(since()) >= 8 and since(), 3) or since()), 8,
         "both examples published four events each (one async)")


with Env(t) as env:
    check_three_publishers(env)
with Env(t) as env:
    check_errors(env)
with Env(t) as env:
    check_raw_async_refusals(env)
with Env(t) as env:
    check_timeouts(env)
with Env(t) as env:
    check_examples(env)
t.done()
