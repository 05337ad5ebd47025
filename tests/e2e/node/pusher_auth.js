// A channel auth endpoint for tests/e2e/test_browser_pusher.py, as an
// application's /broadcasting/auth is: the real npm `pusher` server
// library's authorizeChannel behind an HTTP server on 127.0.0.1 that the
// test's lighttpd proxies to (mod_proxy), so the pages' pusher-js and
// Laravel Echo call it on their own origin.  argv[2]: JSON
//   {"port", "appId", "key", "secret", "users": {TOKEN: {"user_id", "user_info"}}}
// POST /pusher/auth and /broadcasting/auth (form: socket_id,
// channel_name, as pusher-js sends it), the user named by the
// "Authorization: Bearer TOKEN" header: 200 and the library's answer
// (presence channels get that user's channel_data); no or an unknown
// token: 403.  POST /pusher/auth-bad: the same, signed with a wrong
// secret.  Each request is logged on stdout as a JSON line
// {"path", "channel", "user", "status"}.
"use strict"
const http = require("http")
const PusherServer = require("pusher")

const spec = JSON.parse(process.argv[2])
const signer = (secret) => new PusherServer({ appId: spec.appId, key: spec.key, secret })
const good = signer(spec.secret), bad = signer(spec.secret + "-wrong")
const ROUTES = { "/pusher/auth": good, "/broadcasting/auth": good, "/pusher/auth-bad": bad }

const server = http.createServer((req, res) => {
  let body = ""
  req.on("data", (d) => { body += d })
  req.on("end", () => {
    const path = new URL(req.url, "http://x").pathname
    const q = new URLSearchParams(body)
    const sid = q.get("socket_id"), ch = q.get("channel_name") || ""
    const m = /^Bearer (.+)$/.exec(req.headers.authorization || "")
    const user = m ? spec.users[m[1]] : undefined
    const lib = ROUTES[path]
    let status = 200, out
    if (req.method !== "POST" || !lib) {
      status = 404
      out = { error: "no such endpoint" }
    } else if (!user || !sid) {
      status = 403
      out = { error: "not signed in" }
    } else {
      out = ch.startsWith("presence-") ? lib.authorizeChannel(sid, ch, user)
        : lib.authorizeChannel(sid, ch)
    }
    console.log(JSON.stringify({ path, channel: ch, user: user ? user.user_id : null, status }))
    res.writeHead(status, { "Content-Type": "application/json" })
    res.end(JSON.stringify(out))
  })
})

process.on("SIGTERM", () => process.exit(0))
server.listen(spec.port, "127.0.0.1")
