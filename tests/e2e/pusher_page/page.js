// The pages of tests/e2e/test_browser_pusher.py: clients of the real
// pusher-js (index.html) and Laravel Echo (echo.html) connected to
// fastpush-ws on the page's own origin, recording what they get in R.log
// (and on the page, for the screenshot).  The test drives them with
// tab.eval:
//   R.pusher(name, {key, token?, endpoint?})   a pusher-js client
//   R.subscribe(name, channel)                 its subscription, recorded
//   R.trigger(name, channel, event, data)      a client event
//   R.members(name, channel)                   {count, ids}
//   R.echo(name, {key, token?})                a Laravel Echo client
//   R.listen(name, kind, channel, event)       kind: channel, private, join
//   R.whisper(name, channel, event, data)      Echo.private(channel).whisper
//   R.close(name)                              disconnect
//   R.wait(pred, ms, start) / R.find(pred, start) / R.log.length
// Records: {name, ev, ...}, ev one of state (state, socket_id), event
// (channel, event, data), subscribed (channel, count?, members?, me?),
// sub_error (channel, data), member_added / member_removed (channel, id,
// info), here / joining / leaving (Echo: channel, users / user), whisper.
"use strict"
window.R = { clients: {}, log: [] }

R.rec = function (name, o) {
  o = Object.assign({ name }, o)
  R.log.push(o)
  const li = document.createElement("li")
  li.className = o.ev === "event" || o.ev === "whisper" ? "event"
    : /error/.test(o.ev) ? "error" : ""
  const { name: _, ev, ...rest } = o
  li.textContent = `${name} ${ev} ${JSON.stringify(rest)}`
  document.getElementById("log").appendChild(li)
}

function origin() {
  return { wsHost: location.hostname, wsPort: Number(location.port), forceTLS: false,
           enabledTransports: ["ws"], disableStats: true, cluster: "mt1" }
}

function watch(name, pusher) {
  pusher.connection.bind("state_change", (s) => R.rec(name, {
    ev: "state", state: s.current, socket_id: pusher.connection.socket_id }))
  pusher.connection.bind("error", (e) => R.rec(name, { ev: "error", data: e && e.data }))
}

R.pusher = function (name, opts) {
  const headers = opts.token ? { Authorization: "Bearer " + opts.token } : {}
  const p = new Pusher(opts.key, Object.assign(origin(), {
    channelAuthorization: { endpoint: opts.endpoint || "/pusher/auth", transport: "ajax",
                            headers },
  }))
  R.clients[name] = p
  watch(name, p)
  return true
}

R.subscribe = function (name, ch) {
  const c = R.clients[name].subscribe(ch)
  c.bind("pusher:subscription_succeeded", (d) => {
    const o = { ev: "subscribed", channel: ch }
    if (ch.startsWith("presence-")) {
      o.members = {}
      d.each((m) => { o.members[m.id] = m.info })
      o.count = d.count
      o.me = d.me
    }
    R.rec(name, o)
  })
  c.bind("pusher:subscription_error", (d) => R.rec(name, { ev: "sub_error", channel: ch, data: d }))
  c.bind("pusher:member_added", (m) => R.rec(name, { ev: "member_added", channel: ch, id: m.id,
                                                     info: m.info }))
  c.bind("pusher:member_removed", (m) => R.rec(name, { ev: "member_removed", channel: ch,
                                                       id: m.id, info: m.info }))
  c.bind_global((event, data) => {
    if (!event.startsWith("pusher:"))
      R.rec(name, { ev: "event", channel: ch, event, data })
  })
  return true
}

R.trigger = function (name, ch, event, data) {
  return R.clients[name].channel(ch).trigger(event, data)
}

R.members = function (name, ch) {
  const m = R.clients[name].channel(ch).members, ids = []
  m.each((x) => ids.push(x.id))
  return { count: m.count, ids: ids.sort() }
}

R.echo = function (name, opts) {
  // What resources/js/bootstrap.js holds (docs/pusher.md, section 5),
  // with the page's origin as the host.  auth and userAuthentication of
  // their own: Echo's defaults are one object that bearerToken writes
  // into, shared by every Echo of the page.
  const o = origin()
  const echo = new Echo.default({
    broadcaster: "pusher", key: opts.key, cluster: o.cluster, wsHost: o.wsHost,
    wsPort: o.wsPort, wssPort: o.wsPort, forceTLS: false, enabledTransports: ["ws"],
    disableStats: true, bearerToken: opts.token || null, auth: { headers: {} },
    userAuthentication: { endpoint: "/broadcasting/user-auth", headers: {} },
  })
  R.clients[name] = echo
  watch(name, echo.connector.pusher)
  return true
}

R.listen = function (name, kind, ch, event) {
  const echo = R.clients[name]
  const c = kind === "join" ? echo.join(ch) : kind === "private" ? echo.private(ch)
    : echo.channel(ch)
  const full = (kind === "join" ? "presence-" : kind === "private" ? "private-" : "") + ch
  if (!c._fpBound) {
    c._fpBound = true
    c.subscribed(() => R.rec(name, { ev: "subscribed", channel: full }))
    c.error((e) => R.rec(name, { ev: "sub_error", channel: full, data: e }))
    if (kind === "join") {
      c.here((users) => R.rec(name, { ev: "here", channel: full, users }))
      c.joining((user) => R.rec(name, { ev: "joining", channel: full, user }))
      c.leaving((user) => R.rec(name, { ev: "leaving", channel: full, user }))
    }
  }
  if (event && event.startsWith("whisper:"))
    c.listenForWhisper(event.slice(8), (data) => R.rec(name, {
      ev: "whisper", channel: full, event: event.slice(8), data }))
  else if (event)
    c.listen(event, (data) => R.rec(name, { ev: "event", channel: full, event, data }))
  return true
}

R.whisper = function (name, ch, event, data) {
  R.clients[name].private(ch).whisper(event, data)
  return true
}

R.socketId = function (name) {
  const c = R.clients[name]
  return c.socketId ? c.socketId() : c.connection.socket_id
}

R.close = function (name) {
  const c = R.clients[name]
  c.disconnect()
  return true
}

R.find = function (pred, start) {
  return R.log.slice(start || 0).filter(pred)
}

R.wait = function (pred, ms, start) {
  return new Promise((resolve) => {
    const end = Date.now() + (ms || 10000);
    (function check() {
      const hit = R.log.slice(start || 0).find(pred)
      if (hit) return resolve(hit)
      if (Date.now() > end) return resolve(null)
      setTimeout(check, 50)
    })()
  })
}
