// The real pusher-js (npm, its node build) against fastpush-ws, for
// tests/e2e/test_pusher_ws.py.  argv[2]: JSON {"host", "port", "key",
// "appId", "secret", "authPort"?}.  The channel auth endpoint is the real
// npm `pusher` server library (authorizeChannel) behind a small HTTP
// server in this process, as an application's /broadcasting/auth would
// be; a client made with "badAuth" signs with a wrong secret instead.
//
// "masterKey" (base64 of 32 bytes) is the apps' encryption master key for
// private-encrypted- channels (pusher-js's node build decrypts them
// with the auth's shared_secret).
//
// Commands on stdin, one JSON object a line:
//   {"op":"connect","name":N,"user"?:{"user_id","user_info"},"badAuth"?:true,
//    "transport"?:"ws"}
//   {"op":"subscribe","name":N,"channel":C}
//   {"op":"unsubscribe","name":N,"channel":C}
//   {"op":"trigger","name":N,"channel":C,"event":E,"data":D}   (client event)
//   {"op":"members","name":N,"channel":C}
//   {"op":"disconnect","name":N}
//   {"op":"signin","name":N}       (user authentication: pusher.signin())
//   {"op":"raw","name":N,"event":E,"data":D}   (send_event as the library does)
// Reports on stdout, one JSON object a line, each with "name":
//   {"ev":"state","state":S,"socket_id"?} {"ev":"event","channel","event","data"}
//   {"ev":"subscribed","channel","members"?} {"ev":"sub_error","channel","data"}
//   {"ev":"member_added"|"member_removed","channel","id","info"} {"ev":"error","data"}
//   {"ev":"members","channel","count","ids","me"} {"ev":"ready","authPort"}
//   {"ev":"user_event","event","data"} (sendToUser)
"use strict"
const http = require("http")
const readline = require("readline")
const Pusher = require("pusher-js")
const PusherServer = require("pusher")

const spec = JSON.parse(process.argv[2])
const clients = {}
const users = {}            // name -> presence user
const say = (o) => process.stdout.write(JSON.stringify(o) + "\n")

function server(secret) {
  return new PusherServer({ appId: spec.appId, key: spec.key, secret,
                            host: spec.host, port: String(spec.port),
                            encryptionMasterKeyBase64: spec.masterKey })
}
const good = server(spec.secret), bad = server(spec.secret + "-wrong")

// POST /auth?name=N (form: socket_id, channel_name), as pusher-js sends
// it; POST /user-auth?name=N (form: socket_id): the user authentication
// of pusher.signin(), user_data {"id": the user's user_id}.
const auth = http.createServer((req, res) => {
  let body = ""
  req.on("data", (d) => { body += d })
  req.on("end", () => {
    const q = new URLSearchParams(body)
    const url = new URL(req.url, "http://x")
    const name = url.searchParams.get("name")
    const signer = clients[name] && clients[name].badAuth ? bad : good
    const sid = q.get("socket_id"), ch = q.get("channel_name")
    const r = url.pathname === "/user-auth"
      ? signer.authenticateUser(sid, { id: String(users[name].user_id) })
      : ch.startsWith("presence-")
      ? signer.authorizeChannel(sid, ch, users[name])
      : signer.authorizeChannel(sid, ch)
    res.writeHead(200, { "Content-Type": "application/json" })
    res.end(JSON.stringify(r))
  })
})

function connect(cmd) {
  const name = cmd.name
  users[name] = cmd.user
  const p = new Pusher(spec.key, {
    wsHost: spec.host, wsPort: spec.port, forceTLS: false, enableStats: false,
    enabledTransports: ["ws"], cluster: "mt1",
    channelAuthorization: {
      endpoint: `http://127.0.0.1:${auth.address().port}/auth?name=${name}`,
      transport: "ajax",
    },
    userAuthentication: {
      endpoint: `http://127.0.0.1:${auth.address().port}/user-auth?name=${name}`,
      transport: "ajax",
    },
  })
  p.user.bind_global((event, data) => {
    if (!event.startsWith("pusher")) say({ name, ev: "user_event", event, data })
  })
  p.badAuth = !!cmd.badAuth
  clients[name] = p
  p.connection.bind("state_change", (s) => say({ name, ev: "state", state: s.current,
                                                  socket_id: p.connection.socket_id }))
  p.connection.bind("error", (e) => say({ name, ev: "error", data: e }))
}

function subscribe(cmd) {
  const name = cmd.name, ch = cmd.channel
  const c = clients[name].subscribe(ch)
  c.bind("pusher:subscription_succeeded", (d) => {
    const o = { name, ev: "subscribed", channel: ch }
    if (ch.startsWith("presence-")) {
      o.members = {}
      d.each((m) => { o.members[m.id] = m.info })
      o.count = d.count
      o.me = d.me
    }
    say(o)
  })
  c.bind("pusher:subscription_error", (d) => say({ name, ev: "sub_error", channel: ch, data: d }))
  c.bind("pusher:member_added", (m) => say({ name, ev: "member_added", channel: ch, id: m.id,
                                              info: m.info }))
  c.bind("pusher:member_removed", (m) => say({ name, ev: "member_removed", channel: ch,
                                                id: m.id, info: m.info }))
  c.bind_global((event, data) => {
    if (event.startsWith("pusher:")) return
    say({ name, ev: "event", channel: ch, event, data })
  })
}

function handle(cmd) {
  const p = clients[cmd.name]
  switch (cmd.op) {
    case "connect": connect(cmd); break
    case "subscribe": subscribe(cmd); break
    case "unsubscribe": p.unsubscribe(cmd.channel); say({ name: cmd.name, ev: "unsubscribed" }); break
    case "trigger": say({ name: cmd.name, ev: "triggered",
                          ok: p.channel(cmd.channel).trigger(cmd.event, cmd.data) }); break
    case "raw": p.send_event(cmd.event, cmd.data, cmd.channel); break
    case "members": {
      const m = p.channel(cmd.channel).members, ids = []
      m.each((x) => ids.push(x.id))
      say({ name: cmd.name, ev: "members", channel: cmd.channel, count: m.count, ids: ids.sort(),
            me: m.me })
      break
    }
    case "disconnect": p.disconnect(); break
    case "signin":
      p.signin()
      p.user.signinDonePromise.then(() => say({ name: cmd.name, ev: "signed_in",
                                               user: p.user.user_data }))
      break
    case "quit": process.exit(0)
  }
}

auth.listen(0, "127.0.0.1", () => {
  say({ ev: "ready", authPort: auth.address().port })
  const rl = readline.createInterface({ input: process.stdin })
  rl.on("line", (l) => { if (l.trim()) handle(JSON.parse(l)) })
  rl.on("close", () => process.exit(0))
})
