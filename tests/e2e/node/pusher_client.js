// The real npm `pusher` server library against fastpush-poll, for
// tests/e2e/test_pusher_api.py.  argv[2]: JSON
//   {"host", "port", "appId", "key", "secret",
//    "ops": [{"op": "trigger", "channels", "event", "data", "params"?},
//            {"op": "batch", "batch": [...]},
//            {"op": "sendToUser", "user", "event", "data"},
//            {"op": "terminate", "user"},
//            {"op": "get", "path", "params"?}]}
// Prints one JSON line: [{"status", "body"}] per op, in order.
"use strict"
const Pusher = require("pusher")

async function run(spec) {
  const pusher = new Pusher({
    appId: spec.appId, key: spec.key, secret: spec.secret,
    host: spec.host, port: String(spec.port), useTLS: false, timeout: 5000,
    encryptionMasterKeyBase64: spec.masterKey,
  })
  const out = []
  for (const op of spec.ops) {
    try {
      let res
      if (op.op === "trigger")
        res = await pusher.trigger(op.channels, op.event, op.data, op.params)
      else if (op.op === "batch")
        res = await pusher.triggerBatch(op.batch)
      else if (op.op === "sendToUser")
        res = await pusher.sendToUser(op.user, op.event, op.data)
      else if (op.op === "terminate")
        res = await pusher.terminateUserConnections(op.user)
      else
        res = await pusher.get({ path: op.path, params: op.params || {} })
      out.push({ status: res.status, body: await res.text() })
    } catch (e) {
      out.push({ status: e.status || 0, body: e.body || String(e) })
    }
  }
  return out
}

run(JSON.parse(process.argv[2])).then(
  (out) => { console.log(JSON.stringify(out)) },
  (e) => { console.error(e); process.exit(1) })
