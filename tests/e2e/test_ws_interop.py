"""fastpush-ws with real clients: python3-websockets, node's ws (Debian
node-ws) and headless Chromium (DevTools protocol, tests/e2e/chromium.py),
in echo mode and in the JSON protocol through the broker."""
import asyncio
import json
import os
import shutil
import subprocess

import websockets

import chromium as chromium_mod
from chromium import Chromium, PageServer
from harness import Env, Tap, require_tool
from wsclient import start_ws

t = Tap()


def python_websockets(b, echo, proto):
    async def run():
        out = {}
        async with websockets.connect(echo.url, subprotocols=["fastpush.v1"], max_size=None) as ws:
            out["proto"] = ws.subprotocol
            await ws.send("héllo ✓")
            out["text"] = await ws.recv()
            await ws.send(bytes(range(256)) * 400)
            out["bin"] = await ws.recv()
            pong = await ws.ping(b"are you there")
            await asyncio.wait_for(pong, 5)
            out["pong"] = True
        out["close"] = ws.close_code
        async with websockets.connect(proto.url, subprotocols=["fastpush.v1"]) as ws:
            await ws.send(json.dumps({"type": "subscribe", "channels": ["py"], "since": "earliest"}))
            msgs = []
            while True:
                m = json.loads(await asyncio.wait_for(ws.recv(), 5))
                msgs.append(m)
                if m.get("type") == "ready":
                    await ws.send(json.dumps({"type": "publish", "channel": "py", "data": "live", "ref": 1}))
                if any(x.get("data") == "live" for x in msgs) and \
                        any(x.get("type") == "published" for x in msgs):
                    break
            out["msgs"] = msgs
        return out

    for i in range(3):
        b.publish("py", i)
    out = asyncio.run(run())
    t.eq(out["proto"], "fastpush.v1", "python websockets: subprotocol negotiated")
    t.eq(out["text"], "héllo ✓", "python websockets: text echo")
    t.eq(out["bin"], bytes(range(256)) * 400, "python websockets: 100 KiB binary echo")
    t.ok(out["pong"], "python websockets: ping answered")
    t.eq(out["close"], 1000, "python websockets: clean close 1000")
    data = [m.get("data") for m in out["msgs"] if "type" not in m]
    t.eq(data, [0, 1, 2, "live"], "python websockets: history, ready, then its own publish live")
    t.ok(any(m.get("type") == "published" for m in out["msgs"]), "python websockets: published reply")


NODE_SCRIPT = r"""
const WebSocket = require('ws');
const [echoUrl, protoUrl] = process.argv.slice(1);
const out = {};
function echo() {
  return new Promise((res, rej) => {
    const ws = new WebSocket(echoUrl, ['fastpush.v1']);
    const got = [];
    ws.on('open', () => {
      out.proto = ws.protocol;
      ws.send('node ✓');
      ws.send(Buffer.alloc(70000, 7));
      ws.ping('p');
    });
    ws.on('pong', d => { out.pong = d.toString(); });
    ws.on('message', (d, isBinary) => {
      got.push(isBinary ? ['bin', d.length, d[0]] : ['text', d.toString()]);
      if (got.length === 2) ws.close(4000, 'done');
    });
    ws.on('close', (code) => { out.echo = got; out.close = code; res(); });
    ws.on('error', rej);
  });
}
function proto() {
  return new Promise((res, rej) => {
    const ws = new WebSocket(protoUrl);
    const msgs = [];
    ws.on('open', () => ws.send(JSON.stringify({type: 'subscribe', channels: ['nd'], since: 'earliest'})));
    ws.on('message', d => {
      const m = JSON.parse(d.toString());
      msgs.push(m);
      if (m.type === 'ready') ws.send(JSON.stringify({type: 'publish', channel: 'nd', data: {from: 'node'}}));
      if (m.data && m.data.from === 'node') ws.close();
    });
    ws.on('close', (code) => { out.msgs = msgs; out.close2 = code; res(); });
    ws.on('error', rej);
  });
}
echo().then(proto).then(() => { console.log(JSON.stringify(out)); process.exit(0); })
  .catch(e => { console.log(JSON.stringify({error: String(e)})); process.exit(1); });
setTimeout(() => { console.log(JSON.stringify({error: 'timeout', out})); process.exit(1); }, 15000);
"""


def node_ws(b, echo, proto):
    if not require_tool(t, "node", shutil.which("node"), "node ws: node installed") or \
            not require_tool(t, "node-ws", "/usr/share/nodejs/ws", "node ws: node-ws installed"):
        return
    b.publish("nd", "before")
    env = dict(os.environ, NODE_PATH="/usr/share/nodejs")
    r = subprocess.run(["node", "-e", NODE_SCRIPT, echo.url, proto.url], capture_output=True,
                       text=True, timeout=30, env=env)
    try:
        out = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        out = {"error": r.stdout + r.stderr}
    t.ok("error" not in out, "node ws: ran", out)
    t.eq(out.get("proto"), "fastpush.v1", "node ws: subprotocol")
    t.eq(out.get("echo"), [["text", "node ✓"], ["bin", 70000, 7]], "node ws: text and 70 KB binary echoed")
    t.eq(out.get("pong"), "p", "node ws: ping answered")
    t.eq(out.get("close"), 4000, "node ws: close code 4000 echoed")
    data = [m.get("data") for m in out.get("msgs", []) if "type" not in m]
    t.eq(data, ["before", {"from": "node"}], "node ws: history then its own publish")
    t.eq(out.get("close2"), 1005, "node ws: close without a code")


CHROME_SCRIPT = r"""
(async () => {
  const out = {echo: [], msgs: []};
  await new Promise((res) => {
    const ws = new WebSocket(%(echo)s, ['other', 'fastpush.v1']);
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      out.proto = ws.protocol; out.ext = ws.extensions;
      ws.send('chromium ✓ 𝄞'); ws.send(new Uint8Array(100000).fill(9)); ws.send('x'.repeat(70000));
    };
    ws.onmessage = (e) => {
      out.echo.push(typeof e.data === 'string' ? ['text', e.data.length, e.data.slice(0, 20)]
                                               : ['bin', e.data.byteLength]);
      if (out.echo.length === 3) ws.close(1000, 'bye');
    };
    ws.onclose = (e) => { out.close = [e.code, e.reason, e.wasClean]; res(); };
  });
  await new Promise((res) => {
    const ws = new WebSocket(%(proto)s, ['fastpush.v1']);
    ws.onopen = () => ws.send(JSON.stringify({type: 'subscribe', channels: ['br'], since: 'earliest', ref: 'c'}));
    ws.onmessage = (e) => {
      const m = JSON.parse(e.data); out.msgs.push(m);
      if (m.type === 'ready') ws.send(JSON.stringify({type: 'publish', channel: 'br', data: 'from chromium'}));
      if (m.data === 'from chromium') ws.close();
    };
    ws.onclose = (e) => { out.close2 = e.code; res(); };
  });
  await new Promise((res) => {
    const ws = new WebSocket(%(refused)s);
    ws.onclose = (e) => { out.refused = [e.code, e.wasClean]; res(); };
  });
  return out;
})()
"""


def chromium(env, b, echo, proto):
    if not require_tool(t, "chromium", chromium_mod.binary(), "chromium: installed"):
        return
    page = PageServer()
    refusing = start_ws(env, "ws-refusing", echo="on", origin="https://elsewhere.example")
    allowing = start_ws(env, "ws-page", echo="on", origin=page.origin, max_message="1m")
    b.publish("br", "history")
    try:
        with Chromium(env.dir) as br:
            script = CHROME_SCRIPT % {"echo": json.dumps(allowing.url), "proto": json.dumps(proto.url),
                                      "refused": json.dumps(refusing.url)}
            out = br.evaluate(script, url=page.origin + "/", timeout=20)
    finally:
        page.close()
    t.eq((out["proto"], out["ext"]), ("fastpush.v1", "permessage-deflate; "
                                      "server_no_context_takeover; client_no_context_takeover"),
         "chromium: our subprotocol chosen from its offer, permessage-deflate taken without "
         "context takeover (its messages below arrive compressed)")
    t.eq(out["echo"], [["text", 13, "chromium ✓ 𝄞"], ["bin", 100000], ["text", 70000, "x" * 20]],
         "chromium: text (astral plane), 100 KB binary and 70 KB text echoed in order")
    t.eq(out["close"], [1000, "", True], "chromium: clean close, its code echoed")
    data = [m.get("data") for m in out["msgs"] if "type" not in m]
    t.eq(data, ["history", "from chromium"], "chromium: JSON protocol, history then its own publish")
    t.ok(any(m.get("type") == "ready" and m.get("ref") == "c" for m in out["msgs"]), "chromium: ready with ref")
    t.eq(out["close2"], 1005, "chromium: close without a code")
    t.eq(out["refused"], [1006, False], "chromium: an origin not allowed is refused (403, 1006 to JS)")


with Env(t) as env:
    b = env.broker()
    echo = start_ws(env, "ws-echo", echo="on", max_message="1m")
    proto = start_ws(env, "ws-proto", broker=b, publish="on")
    python_websockets(b, echo, proto)
    node_ws(b, echo, proto)
    chromium(env, b, echo, proto)
t.done()
