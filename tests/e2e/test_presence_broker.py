"""The broker keeps presence (PRESENCE on the control socket): a user is
counted once over its connections and responder processes; its first
connection publishes member_added and its last one member_removed, as
ordinary events with a cursor; publishers may not forge those types; a
responder that stops beating has its members leave after
presence-timeout; a broker that restarted answers a beat known:false;
limits and bad requests get clear errors and the broker keeps serving."""
import json
import time

import zmq

from harness import Env, Tap, wait_for

TOKEN = "presence-test-token-0123456789"

t = Tap()


def events(sub, timeout=1.0):
    """Every [channel, event] frame the SUB socket gets until quiet."""
    out = []
    while sub.poll(int(timeout * 1000)):
        ch, ev = sub.recv_multipart()[:2]
        ev = json.loads(ev)
        if "sync" not in ev:                # not the channel beacons
            out.append((ch.rstrip(b"\0").decode(), ev))
        timeout = 0.3
    return out


def kinds(evs):
    return [(e.get("event"), e.get("data")) for _, e in evs]


def pres(b, **body):
    return b.request("PRESENCE", body)


with Env(t) as env:
    b = env.broker(presence_max_members=3)
    sub = b.subscriber("room")
    time.sleep(0.3)

    st, m, _ = pres(b, op="join", instance="resp-a", conn="1", channel="room",
                    user_id="alice", user_info={"name": "Alice"})
    t.ok(st == "OK" and m["added"] and m["count"] == 1,
         "join: alice is added, count 1", m)
    t.eq(m["members"], [{"user_id": "alice", "user_info": {"name": "Alice"}}],
         "join answers the member list with user_info")
    st, m, _ = pres(b, op="join", instance="resp-b", conn="7", channel="room",
                    user_id="alice", user_info={"name": "other"})
    t.ok(st == "OK" and not m["added"] and m["count"] == 1,
         "alice's second connection, on another responder: not added again", m)
    st, m, _ = pres(b, op="join", instance="resp-b", conn="8", channel="room",
                    user_id="bob")
    t.ok(st == "OK" and m["added"] and m["count"] == 2, "bob joins: count 2", m)
    got = kinds(events(sub))
    t.eq([k for k, _ in got], ["member_added", "member_added"],
         "two member_added events on the channel, one per user")
    t.eq(got[0][1], {"user_id": "alice", "user_info": {"name": "Alice"}},
         "member_added carries user_id and the first connection's user_info")
    st, m, _ = pres(b, op="join", instance="resp-b", conn="8", channel="room",
                    user_id="bob")
    t.ok(st == "OK" and not m["added"], "the same connection joining again is a no-op", m)

    st, m, _ = pres(b, op="members", channel="room")
    t.eq(sorted(x["user_id"] for x in m["members"]), ["alice", "bob"],
         "members lists alice and bob")
    st, since, evs = b.request("SINCE", {"channels": ["room"], "cursor": "earliest"})
    t.ok(st == "OK" and [e["event"] for e in evs] == ["member_added"] * 2,
         "the member events are in the history (SINCE earliest)", since)

    st, m, _ = pres(b, op="leave", instance="resp-a", conn="1", channel="room")
    t.ok(st == "OK" and m["removed"] is False,
         "alice leaves one connection: still a member (removed false)", m)
    t.eq(events(sub, 0.5), [], "no member_removed while alice has a connection")
    st, m, _ = pres(b, op="leave", instance="resp-b", conn="7", channel="room")
    t.ok(st == "OK" and m["removed"] is True, "her last connection leaves: removed", m)
    t.eq(kinds(events(sub)), [("member_removed", {"user_id": "alice"})],
         "one member_removed {user_id} for alice")
    st, m, _ = pres(b, op="leave", instance="resp-b", conn="7", channel="room")
    t.ok(st == "OK" and m["removed"] is False, "leaving twice: removed false, no error", m)

    # publishers may not forge presence events, on either socket
    st, m, _ = b.request("PUBLISH", {"channel": "room", "event": "member_added",
                                     "data": {"user_id": "mallory"}})
    t.ok(st == "ERROR" and m.get("error") == "invalid_event" and "presence" in m.get("message", ""),
         "PUBLISH of type member_added is refused (invalid_event, names presence)", m)
    head = b.request("PING")[1]["head"]
    push = env.ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 2000)
    push.connect(b.ingest)
    push.send(json.dumps([{"channel": "room", "event": "member_removed",
                           "data": {"user_id": "bob"}},
                          {"channel": "room", "event": "chat", "data": "hi"}]).encode())
    push.close()
    t.ok(wait_for(lambda: b.request("PING")[1]["head"] == head + 1, 5),
         "ingest: the forged member_removed is dropped, the next event accepted")
    t.eq([k for k, _ in kinds(events(sub))], ["chat"], "subscribers see only the chat event")

    # limits
    for u in ("carol", "dave", "erin"):
        st, m, _ = pres(b, op="join", instance="resp-c", conn=u, channel="room", user_id=u)
    t.ok(st == "ERROR" and m.get("error") == "presence_full" and "3 members" in m.get("message", ""),
         "bob, carol, dave in: erin over presence-max-members 3: presence_full", m)
    st, m, _ = pres(b, op="join", instance="resp-c", conn="x2", channel="small",
                    user_id="u1", max_members=1)
    st2, m2, _ = pres(b, op="join", instance="resp-c", conn="x3", channel="small",
                      user_id="u2", max_members=1)
    t.ok(st == "OK" and st2 == "ERROR" and m2.get("error") == "presence_full",
         "a request's max_members 1 lowers the limit for that join", m2)
    st, m, _ = pres(b, op="join", instance="resp-c", conn="x4", channel="room",
                    user_id="frank", max_members=50)
    t.ok(st == "ERROR" and m.get("error") == "presence_full",
         "max_members cannot raise presence-max-members", m)
    events(sub, 0.5)

    # a roster (the Mercure hub's subscriptions): no per-channel bound, a
    # larger user_info, and member_removed says what left
    rsub = b.subscriber("hub")
    time.sleep(0.3)
    big = {"topic": "https://example.com/{id}", "payload": "p" * 4000}
    oks = []
    for i in range(5):
        st, m, _ = pres(b, op="join", instance="resp-r", conn=f"r{i}", channel="hub",
                        user_id=f"s{i}", user_info=big, roster=True)
        oks.append(st)
    t.ok(oks == ["OK"] * 5 and m["count"] == 5 and m.get("epoch"),
         "a roster takes 5 members past presence-max-members 3, each with 4 kB of user_info; "
         "the answer has the epoch", oks)
    st, m, _ = pres(b, op="join", instance="resp-r", conn="r9", channel="hub", user_id="s9",
                    user_info={"x": "y" * 17000}, roster=True)
    t.ok(st == "ERROR" and m.get("error") == "bad_request" and "16384" in m.get("message", ""),
         "a roster member's user_info over 16 kB: bad_request", m)
    events(rsub, 0.5)
    pres(b, op="leave", instance="resp-r", conn="r0", channel="hub")
    t.eq(kinds(events(rsub)), [("member_removed", {"user_id": "s0", "user_info": big})],
         "a roster's member_removed carries its user_info")
    st, m, _ = pres(b, op="drop", instance="resp-r")
    t.ok(st == "OK" and m["left"] == 4, "the roster's responder drops its other 4", m)
    events(rsub, 0.5)
    rsub.close()

    bad = [
        ({}, "op"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room", "user_id": "x",
          "roster": "yes"}, "roster"),
        ({"op": "dance"}, "op"),
        ({"op": "join", "conn": "1", "channel": "room", "user_id": "x"}, "instance"),
        ({"op": "join", "instance": "bad id", "conn": "1", "channel": "room",
          "user_id": "x"}, "instance"),
        ({"op": "join", "instance": "i" * 65, "conn": "1", "channel": "room",
          "user_id": "x"}, "instance"),
        ({"op": "join", "instance": "i", "channel": "room", "user_id": "x"}, "conn"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "bad channel!",
          "user_id": "x"}, "channel"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room"}, "user_id"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room",
          "user_id": "a\nb"}, "user_id"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room",
          "user_id": "u" * 129}, "user_id"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room",
          "user_id": 42}, "user_id"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "other",
          "user_id": "x", "user_info": {"bio": "z" * 1100}}, "user_info"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room",
          "user_id": "x", "max_members": 0}, "max_members"),
        ({"op": "join", "instance": "i", "conn": "1", "channel": "room",
          "user_id": "x", "max_members": "5"}, "max_members"),
        ({"op": "members"}, "channel"),
        ({"op": "beat"}, "instance"),
    ]
    for body, word in bad:
        st, m, _ = b.request("PRESENCE", body)
        t.ok(st == "ERROR" and m.get("error") == "bad_request" and word in m.get("message", ""),
             f"bad PRESENCE {json.dumps(body)[:60]}: bad_request naming '{word}'", m)
    st, m, _ = b.request("PRESENCE", raw_frames=[b"PRESENCE", b"{not json"])
    t.ok(st == "ERROR", "PRESENCE with a body that is not JSON: an error", m)
    st, m, _ = b.request("PRESENCE", raw_frames=[b"PRESENCE", b"[1,2]"])
    t.ok(st == "ERROR", "PRESENCE with a JSON array body: an error", m)
    st, m, _ = pres(b, op="members", channel="room")
    t.ok(st == "OK" and "x" not in [u["user_id"] for u in m["members"]],
         "no refused join became a member", m)
    t.eq(events(sub, 0.5), [], "and no refused join published anything")

    st, m, _ = pres(b, op="members", channel="other")
    t.ok(st == "OK" and m["count"] == 0, "nor in the channel whose user_info was too big", m)

    # drop: a responder going away cleanly
    st, m, _ = pres(b, op="drop", instance="resp-c")
    t.ok(st == "OK" and m["left"] == 3, "drop resp-c: its 3 users leave (carol, dave, u1)", m)
    st, m, _ = pres(b, op="members", channel="small")
    t.ok(st == "OK" and m["count"] == 0 and m["members"] == [], "the small channel is empty", m)
    st, m, _ = pres(b, op="drop", instance="resp-never")
    t.ok(st == "OK" and m["left"] == 0, "drop of an unknown instance: left 0", m)
    st, s, _ = b.request("STATS")
    t.eq(s.get("presence"), {"channels": 1, "members": 1, "connections": 1,
                             "responders": 2}, "STATS presence: bob in room; resp-a and resp-b known")

    # a restarted broker knows no one: beats say so
    b.restart()
    st, m, _ = pres(b, op="beat", instance="resp-b")
    t.ok(st == "OK" and m["known"] is False, "after a broker restart, a beat is known false", m)
    st, m, _ = pres(b, op="members", channel="room")
    t.ok(st == "OK" and m["count"] == 0, "and the member list is empty until responders join again", m)
    t.ok(b.publish("room", "still here")["seq"] > 0, "the broker keeps serving")
    sub.close()
    b.stop()

    # a responder that stops beating: its members leave after the timeout
    b = env.broker("broker-exp", presence_timeout="2s")
    for inst, user in (("resp-b", "bob"), ("resp-d", "zed")):
        pres(b, op="join", instance=inst, conn="1", channel="lobby", user_id=user)
    lobby = b.subscriber("lobby")
    time.sleep(0.3)
    t0 = time.time()
    for _ in range(8):                     # resp-b keeps beating, resp-d does not
        pres(b, op="beat", instance="resp-b")
        time.sleep(0.5)
    got = kinds(events(lobby, 2.0))
    t.eq(got, [("member_removed", {"user_id": "zed"})],
         "resp-d silent past presence-timeout 2s: zed is removed")
    t.ok(time.time() - t0 < 8, "within the timeout plus a tick")
    st, m, _ = pres(b, op="beat", instance="resp-d")
    t.ok(st == "OK" and m["known"] is False, "resp-d's next beat: known false (join again)", m)
    st, m, _ = pres(b, op="members", channel="lobby")
    t.ok(st == "OK" and [u["user_id"] for u in m["members"]] == ["bob"],
         "bob (resp-b kept beating) is still a member", m)
    lobby.close()
    b.stop()

    # with a publish token, PRESENCE needs it like PUBLISH
    b = env.broker("broker-tok", publish_token=TOKEN)
    body = json.dumps({"op": "join", "instance": "r", "conn": "1", "channel": "c",
                       "user_id": "u"}).encode()
    st, m, _ = b.request("PRESENCE", raw_frames=[b"PRESENCE", body])
    t.ok(st == "ERROR" and m.get("error") == "unauthorized",
         "publish-token set: PRESENCE without the token is unauthorized", m)
    st, m, _ = b.request("PRESENCE", raw_frames=[b"PRESENCE", body, b"wrong-token-xxxxxxxx"])
    t.ok(st == "ERROR" and m.get("error") == "unauthorized", "with a wrong token: unauthorized", m)
    st, m, _ = b.request("PRESENCE", raw_frames=[b"PRESENCE", body, TOKEN.encode()])
    t.ok(st == "OK" and m["added"], "with the token: joined", m)
    b.stop()
t.done()
