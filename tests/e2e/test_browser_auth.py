"""The browser client with authorization on (JWT, HS256) against the real
system behind lighttpd: on each transport a client whose token expires
every few seconds keeps receiving a numbered sequence, each event once
and in order, because the stream ends at expiry (SSE auth-expired,
WebSocket close 4001, a poll refused) and the client reconnects with a
fresh token from its cursor; a token without the right to the channel
gets 'forbidden' and no event."""
import json
import time

from authlib import Keys
from browserstack import FAST, RECORDER, Numbered, System, check_sequence, run
from harness import Tap

t = Tap()
TRANSPORTS = ("websocket", "sse", "poll")
LIFE = 4            # seconds a token lives


def main(env, br):
    keys = Keys(env.dir)
    s = System(env, responders={"auth": "on", "jwt_key": keys.hs_path})
    tab = br.open(s.url)
    tab.eval(RECORDER)

    def give_token():
        tok = keys.hs256(sub="alice", subscribe=["sec"], exp=LIFE)
        tab.eval(f"window.TOK = {json.dumps(tok)}; true")

    give_token()
    for tr in TRANSPORTS:
        tab.eval(f"T.start('{tr}', {json.dumps(dict(FAST, channels=['sec'], transports=[tr], share=False, tokenFrom='TOK'))})")
    for tr in TRANSPORTS:
        t.ok(tab.eval(f"T.wait('{tr}', r => r.status.connected, 8000)", 12),
             f"{tr}: connects with a token")
    nums = Numbered(s.b.control, "sec", interval=0.05)
    nums.start()
    # keep handing out fresh tokens while the old ones run out twice
    end = time.time() + 2.5 * LIFE
    while time.time() < end:
        time.sleep(LIFE / 2)
        give_token()
    last = nums.stop()
    for tr in TRANSPORTS:
        ok = tab.eval(f"T.wait('{tr}', r => r.events.some(e => e[2] === {last}), 15000)", 20)
        got = tab.eval(f"T.get('{tr}', true)")
        t.ok(ok, f"{tr}: still receiving after two token expiries ({last} events published)",
             {k: got[k] for k in ("status", "resets", "errors", "n")})
        check_sequence(t, s, got["events"], "sec", f"{tr}: every event once, in order, across expiries")
        t.eq(got["resets"], [], f"{tr}: no reset across expiries")

    # a token without the right to the channel: refused, nothing delivered
    bad = keys.hs256(sub="mallory", subscribe=["other"], exp=60)
    tab.eval(f"window.BAD = {json.dumps(bad)}; true")
    for tr in TRANSPORTS:
        tab.eval(f"T.start('x-{tr}', {json.dumps(dict(FAST, channels=['sec'], transports=[tr], share=False, tokenFrom='BAD'))})")
    s.b.publish("sec", "secret")
    for tr in TRANSPORTS:
        ok = tab.eval(f"T.wait('x-{tr}', r => r.errors.length > 0, 8000)", 12)
        got = tab.eval(f"T.get('x-{tr}', true)")
        t.ok(ok and any("forbidden" in e or "unauthorized" in e for e in got["errors"]),
             f"{tr}: a token without the right is refused", got["errors"])
        t.eq(got["n"], 0, f"{tr}: and gets no event")
    s.close()


run(t, main)
