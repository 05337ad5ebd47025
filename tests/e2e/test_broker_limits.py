"""The broker's control socket bounds the size of what a peer sends: a
frame over 4 x max-event-bytes + 64k (at least 1m) drops that peer's
connection before the message is held; the broker keeps answering
everyone else, a large but allowed request still gets its too_large
reply, and the ingest socket still takes a batch larger than the cap."""
import json

import zmq

from harness import Env, Tap, wait_for

t = Tap()

with Env(t) as env:
    b = env.broker(max_event_bytes="64k")
    big = json.dumps({"channel": "c", "data": "x" * 200000}).encode()     # < 1m
    st, meta, _ = b.request("PUBLISH", raw_frames=[b"PUBLISH", big])
    t.ok(st == "ERROR" and meta.get("error") == "too_large",
         "a 200k PUBLISH (under the frame cap) gets its too_large reply", meta)
    d = env.ctx.socket(zmq.DEALER)
    d.setsockopt(zmq.LINGER, 0)
    d.connect(b.control)
    d.send_multipart([b"PUBLISH", b'{"channel":"c","data":"' + b"x" * (3 << 20) + b'"}'])
    t.ok(not d.poll(1500), "a 3m frame on the control socket: no reply (the peer is dropped)")
    d.close()
    st, meta, _ = b.request("PING")
    t.ok(st == "OK", "the broker still answers others (PING)", meta)
    head = meta["head"]
    p = env.ctx.socket(zmq.PUSH)
    p.setsockopt(zmq.LINGER, 2000)
    p.connect(b.ingest)
    p.send(json.dumps([{"channel": "batch", "data": "y" * 4000} for _ in range(400)]).encode())
    p.close()
    t.ok(wait_for(lambda: b.request("PING")[1]["head"] == head + 400, 10),
         "ingest: a 1.6m batch of 400 events (over the control cap) is accepted")
    t.ok(b.publish("c", 1)["seq"] >= 1, "and takes publishes")
    t.ok(b.alive(), "the broker is alive")
    b.stop()
    # the control case: with max-event-bytes 1m the cap is 4m + 64k, so the
    # same 3m frame arrives and is refused with a reply
    b = env.broker("broker-1m", max_event_bytes="1m")
    st, meta, _ = b.request("PUBLISH", raw_frames=[
        b"PUBLISH", b'{"channel":"c","data":"' + b"x" * (3 << 20) + b'"}'])
    t.ok(st == "ERROR" and meta.get("error") == "too_large",
         "max-event-bytes 1m: the 3m frame is read and answered too_large", meta)
    b.stop()
t.done()
