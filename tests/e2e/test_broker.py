"""The broker: ids, order, prev, SINCE, resets, keyed state, marks,
subscriber counts, bad input, shutdown."""
import json
import signal
import time

import zmq

from harness import Env, Tap, recv_all, wait_for

t = Tap()


def events_of(msgs):
    return [m for _, m in msgs if "id" in m]


def check_order_and_prev(env):
    b = env.broker()
    sub = b.subscriber("news", "sport", heartbeat=True)
    marks = recv_all(sub, timeout=0.5, until=lambda o: len(o) >= 3)
    syncs = [m for _, m in marks if m.get("sync") == "subscribe"]
    t.eq(sorted(m["channel"] for m in syncs), ["news", "sport"], "a sync mark per new subscription")
    t.ok(any("heartbeat" in m for _, m in marks), "heartbeat on subscribing to the \\0 topic")
    ids = [b.publish(ch, {"n": i})["seq"] for i, ch in enumerate(["news", "sport", "news", "news", "sport"])]
    t.eq(ids, [1, 2, 3, 4, 5], "acknowledged publishes get consecutive SEQs")
    got = events_of(recv_all(sub, timeout=0.5, until=lambda o: len(events_of(o)) >= 5))
    t.eq([e["seq"] for e in got], [1, 2, 3, 4, 5], "fanout delivers in SEQ order")
    t.eq([e["prev"] for e in got], [0, 0, 1, 3, 2], "prev is the previous SEQ on the same channel")
    e = got[0]
    t.eq(list(e.keys()), ["id", "seq", "prev", "channel", "event", "ts", "data"], "canonical member order")
    t.ok(e["id"].endswith("-1") and e["event"] == "message" and e["data"] == {"n": 0}, "event fields")
    # a channel that is a prefix of another is not matched
    sub2 = b.subscriber("new")
    recv_all(sub2, timeout=0.3)
    b.publish("news", 1)
    b.publish("newsletter", 2)
    t.eq(events_of(recv_all(sub2, timeout=0.3)), [], "'new' subscriber gets neither 'news' nor 'newsletter'")
    st, stats, _ = b.request("STATS", {"channel": "news"})
    t.eq(stats["top"][0]["subscribers"], 1, "subscriber counted on its channel")
    sub.close()
    sub2.close()
    ok = wait_for(lambda: b.request("STATS", {"channel": "news"})[1]["top"][0]["subscribers"] == 0, 3)
    t.ok(ok, "count drops when the subscriber goes away")


def check_since(env):
    b = env.broker(history_count=5)
    epoch = b.request("PING")[1]["epoch"]
    for i in range(3):
        b.publish("a", i)
    cursor = f"{epoch}-3"
    for i in range(3, 7):
        b.publish("a" if i % 2 else "b", i)
    st, meta, evs = b.request("SINCE", {"channels": ["a", "b"], "cursor": cursor})
    t.eq([e["seq"] for e in evs], [4, 5, 6, 7], "SINCE returns the missed events of both channels in order")
    t.eq((meta["cursor"], meta["reset"], meta["more"]), (f"{epoch}-7", [], False), "cursor is the head, no reset")
    st, meta, evs = b.request("SINCE", {"channels": ["a", "b"], "cursor": f"{epoch}-0", "limit": 2})
    t.eq(([e["seq"] for e in evs], meta["more"], meta["cursor"]), ([1, 2], True, f"{epoch}-2"), "limit pages")
    seen, cur = [1, 2], meta["cursor"]
    while True:
        st, meta, evs = b.request("SINCE", {"channels": ["a", "b"], "cursor": cur, "limit": 2})
        seen += [e["seq"] for e in evs]
        cur = meta["cursor"]
        if not meta["more"]:
            break
    t.eq(seen, [1, 2, 3, 4, 5, 6, 7], "paging by limit loses and repeats nothing")
    for i in range(6):
        b.publish("a", 100 + i)          # 'a' keeps 5: seq 8..13 trims the old ones
    st, meta, evs = b.request("SINCE", {"channels": ["a", "b"], "cursor": cursor})
    t.eq(meta["reset"], [{"channel": "a", "reason": "trimmed", "snapshot": False}],
         "reset for the channel whose history was trimmed past the cursor")
    t.eq([e["seq"] for e in evs], [5, 7, 9, 10, 11, 12, 13], "what is left is still returned, in order")
    st, meta, evs = b.request("SINCE", {"channels": ["a"], "cursor": "zzzz-3"})
    t.eq(meta["reset"][0]["reason"], "epoch", "a cursor of another epoch gets an epoch reset")
    st, meta, _ = b.request("SINCE", {"channels": ["a"], "cursor": f"{epoch}-99"})
    t.eq((st, meta["error"]), ("ERROR", "cursor_ahead"), "a cursor beyond the head is refused")
    st, meta, evs = b.request("SINCE", {"channels": ["never"], "cursor": f"{epoch}-1"})
    t.eq((meta["reset"], evs), ([], []), "an unknown channel has nothing and needs no reset")


def check_keyed(env):
    b = env.broker(history_count=3)
    b.publish("st", {"v": 1}, key="x")
    b.publish("st", {"v": 1}, key="y")
    b.publish("st", {"v": 2}, key="x")
    b.publish("st", None, key="y")       # tombstone removes y
    b.publish("st", {"v": 1}, key="z")
    st, meta, evs = b.request("STATE", {"channel": "st"})
    t.eq([(e["key"], e["data"]) for e in evs], [("x", {"v": 2}), ("z", {"v": 1})],
         "STATE: latest value per key, tombstones remove keys, SEQ order")
    epoch = meta["epoch"]
    st, meta, evs = b.request("SINCE", {"channels": ["st"], "cursor": f"{epoch}-1"})
    t.eq(meta["reset"], [{"channel": "st", "reason": "trimmed", "snapshot": True}],
         "SINCE on a trimmed keyed channel: reset with snapshot")
    t.eq((meta["snapshot"], [e["key"] for e in evs]), (2, ["x", "z"]), "the snapshot is the keyed state")


def check_bad_input(env):
    b = env.broker(max_event_bytes=1024)
    ctx = env.ctx
    cases = [
        ([b"PUBLISH", b"{not json"], "invalid_json"),
        ([b"PUBLISH", b'{"data":1}'], "invalid_event"),
        ([b"PUBLISH", json.dumps({"channel": "x" * 129, "data": 1}).encode()], "invalid_event"),
        ([b"PUBLISH", json.dumps({"channel": "a\nb", "data": 1}).encode()], "invalid_event"),
        ([b"PUBLISH", b'{"channel":"a\\u0000b","data":1}'], "invalid_event"),
        ([b"PUBLISH", json.dumps({"channel": "", "data": 1}).encode()], "invalid_event"),
        ([b"PUBLISH", json.dumps({"channel": "c", "data": "x" * 2000}).encode()], "too_large"),
        ([b"PUBLISH", json.dumps({"channel": "c", "data": 1, "id": "e-1"}).encode()], "invalid_event"),
        ([b"PUBLISH", json.dumps({"channel": "c", "event": "reset", "data": 1}).encode()], "invalid_event"),
        ([b"PUBLISH", json.dumps([1]).encode()], "invalid_event"),
        ([b"FROBNICATE", b"{}"], "unknown_command"),
        ([b"PUBLISH", b"{}", b"token", b"extra"], "bad_request"),
        ([b"SINCE", b'{"channels":["a"],"cursor":"nonsense"}'], "bad_cursor"),
        ([b"SINCE", b'{"channels":["a"],"cursor":"abc-007"}'], "bad_cursor"),
        ([b"SINCE", b'{"channels":[],"cursor":"earliest"}'], "bad_request"),
        ([b"SINCE", b'{"channels":["a b"],"cursor":"earliest"}'], "bad_request"),
        ([b"SINCE", b'{"channels":["a"],"cursor":"earliest","limit":0}'], "bad_request"),
        ([b"SINCE", b'{"channels":["a"]}'], "bad_request"),
        ([b"STATE", b'{}'], "bad_request"),
        ([b"PUBLISH"], "invalid_event"),
        ([b"SINCE"], "bad_request"),
    ]
    for frames, code in cases:
        st, meta, _ = b.request(None, raw_frames=frames)
        t.eq((st, meta.get("error")), ("ERROR", code), f"{frames[0][:12]!r} {frames[1:][:1]!r:.40} -> {code}")
    # a REQ socket (empty delimiter) gets its envelope back
    req = ctx.socket(zmq.REQ)
    req.connect(b.control)
    req.send_multipart([b"PING"])
    t.ok(req.poll(3000) and req.recv_multipart()[0] == b"OK", "REQ clients are answered too")
    req.close()
    # tag echo
    st, meta, _ = b.request("PING", {"tag": 77})
    t.eq(meta.get("tag"), 77, "a request tag is echoed")
    # PULL: bad messages are counted, good ones in between are kept in order
    push = ctx.socket(zmq.PUSH)
    push.connect(b.ingest)
    sub = b.subscriber("p")
    recv_all(sub, timeout=0.3)
    push.send(json.dumps({"channel": "p", "data": 1}).encode())
    push.send(b"garbage")
    push.send_multipart([b'{"channel":"p","data":"x"}', b"token", b"third frame"])
    push.send(json.dumps({"channel": "p", "data": 2}).encode())
    got = events_of(recv_all(sub, timeout=0.5, until=lambda o: len(events_of(o)) >= 2))
    t.eq([e["data"] for e in got], [1, 2], "PULL: valid events delivered in order around bad ones")
    st, stats, _ = b.request("STATS")
    t.eq(stats["events"]["rejected"], 2 + 12, "refused publishes are counted (PULL and PUBLISH)")
    t.ok(b.alive(), "broker still serving after every bad input")
    push.close()
    sub.close()


def check_age_and_memory(env):
    b = env.broker(history_age="2s", heartbeat="200ms")
    epoch = b.request("PING")[1]["epoch"]
    b.publish("old", 1)
    time.sleep(2.5)
    b.publish("old", 2)
    st, meta, evs = b.request("SINCE", {"channels": ["old"], "cursor": f"{epoch}-0"})
    t.eq(([e["data"] for e in evs], meta["reset"][0]["reason"]), ([2], "trimmed"), "history-age drops old events")
    b2 = env.broker("broker2", history_memory="4k")
    for i in range(40):
        b2.publish(f"c{i % 4}", "x" * 100)
    st, stats, _ = b2.request("STATS")
    t.ok(stats["history"]["bytes"] <= 4096 and stats["history"]["trimmed"] > 0,
         "history-memory bounds history over all channels", stats["history"])


def check_cli_and_shutdown(env):
    b = env.broker(fanout="tcp://127.0.0.1:0")  if False else env.broker()
    r = b.cli("publish", "cli", '{"x":1}')
    t.ok(r.returncode == 0 and r.stdout.decode().strip().endswith("-1"), "CLI publish prints the id", r)
    r = b.cli("publish", "cli", "--key", "k", "--event", "upd", "plain text")
    t.eq(r.returncode, 0, "CLI publish with key, type and string data")
    r = b.cli("--json", "since", "cli", "--since", "earliest")
    lines = [json.loads(x) for x in r.stdout.decode().splitlines()]
    t.eq([x.get("data") for x in lines[:2]], [{"x": 1}, "plain text"], "CLI since --json")
    r = b.cli("publish", "bad channel", "1")
    t.eq(r.returncode, 1, "CLI exits 1 when the broker refuses")
    r = b.cli("--control", "ipc:///nonexistent/sock", "--timeout", "300", "ping")
    t.eq(r.returncode, 3, "CLI exits 3 when the broker does not answer")
    r = b.cli("frob")
    t.eq(r.returncode, 2, "CLI exits 2 on usage errors")
    t.eq(b.stop(signal.SIGTERM), 0, "SIGTERM: orderly exit with status 0")


def check_tcp(env):
    from harness import free_port
    ports = [free_port() for _ in range(3)]
    b = env.broker("tcpbroker", ingest=f"tcp://127.0.0.1:{ports[0]}",
                   control=f"tcp://127.0.0.1:{ports[1]}", fanout=f"tcp://127.0.0.1:{ports[2]}")
    b.ingest, b.control, b.fanout = (f"tcp://127.0.0.1:{p}" for p in ports)
    t.eq(b.request("PING")[0], "OK", "tcp:// endpoints work")


with Env(t) as env:
    check_order_and_prev(env)
with Env(t) as env:
    check_since(env)
with Env(t) as env:
    check_keyed(env)
with Env(t) as env:
    check_bad_input(env)
with Env(t) as env:
    check_age_and_memory(env)
with Env(t) as env:
    check_cli_and_shutdown(env)
with Env(t) as env:
    check_tcp(env)
t.done()
