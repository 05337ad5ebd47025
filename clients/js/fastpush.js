/*  GENERATED from clients/js/src/*.js by clients/js/build.mjs: do not
 *  edit this file, edit src/ and rebuild with
 *      make js        (or: /usr/bin/node clients/js/build.mjs)
 */
/*  fastpush.js: the browser client of fastpush.
 *
 *      var fp = new Fastpush({ channels: ["news", "prices"] });
 *      fp.on("event", function (ev) { ... });    // {id, seq, channel, event, key?, ts, data}
 *      fp.on("reset", function (r) { ... });     // {channel, reason, snapshot}: reload that state
 *      fp.on("status", function (s) { ... });    // {transport, connected, cursor, role, error}
 *      fp.publish("news", {title: "Hi"}).then(function (r) { r.id; });
 *      fp.members("presence-room");              // presence: count, each(), get(id), me
 *      fp.on("member_added", function (m) { ... });  // {channel, id, info}; member_removed, subscribed
 *
 *  One object, three transports tried in order (WebSocket, Server-Sent
 *  Events over fetch, long-polling), one cursor across them: every switch
 *  or reconnect resumes from it, events already delivered are dropped by
 *  (channel, seq), and history that could not be covered is reported as
 *  a reset, never skipped in silence.  The tabs of an origin share one
 *  connection: a leader tab (Web Locks, or an election over
 *  BroadcastChannel) holds it and passes everything on over
 *  BroadcastChannel.  See README.md for the API and docs/protocol.md for
 *  the wire.
 *
 *  Sources: src/*.js, put together by build.mjs inside this wrapper
 *  (src/wrapper.js); the result is one plain <script> that defines the
 *  global Fastpush; fastpush.mjs exports it as an ES module; require()
 *  works too.
 */
(function (root, factory) {
    "use strict";
    var Fastpush = factory();
    if (typeof module === "object" && module && module.exports)
        module.exports = Fastpush;
    else
        root.Fastpush = Fastpush;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
    "use strict";

    /* ------------------------------------------------------------ base.js */

    /*  The defaults, the table of transports (filled in by websocket.js,
     *  sse.js and poll.js) and the small helpers the other modules use.  */

    var DEFAULTS = {
        url: "",                    // scheme://host[:port][/prefix]; "" = this page's origin
        channels: [],
        token: null,                // string, or function returning one (or a promise of one)
        cursor: null,               // start: null = now, "earliest", or "EPOCH-SEQ"
        transports: ["websocket", "sse", "poll"],
        wsPath: "/ws",
        ssePath: "/events",
        pushPath: "/push",          // fastpush-poll: /poll, /publish
        share: true,                // one connection for the tabs of the origin (or a group name)
        publish: "auto",            // "auto" (WebSocket when connected by it), "http", "websocket"
        publishSecret: null,        // X-Fastpush-Secret: for demos only, see README
        openTimeout: 10000,         // ms for a transport's first sign of life and its "ready"
        silenceTimeout: 45000,      // ms of silence (no event, heartbeat or pong) = dead
        pingInterval: 20000,        // WebSocket: ping when nothing came for this long
        pollWait: 25,               // s a long-poll may wait
        pollLimit: 500,             // events per poll answer
        upgradeInterval: 30000,     // ms between tries of a better transport
        backoff: [500, 30000],      // reconnect delay, first and largest (ms), with jitter
        leaderTimeout: 3000         // BroadcastChannel election: leader silent this long = gone
    };

    var TRANSPORTS = {};

    /*  Failures that retrying cures (restarts, overload, the network):
     *  shown in the status, not raised as "error" events.  */
    var TRANSIENT = /^(silent|closed|disconnected|http_5|timeout|broker_unavailable|shutdown|too_many|slow_consumer|rate_limited|store_failed|auth_expired)/;

    /* ------------------------------------------------------------ helpers */

    function assign(to) {
        for (var i = 1; i < arguments.length; i++)
            for (var k in arguments[i])
                if (Object.prototype.hasOwnProperty.call(arguments[i], k) &&
                    arguments[i][k] !== undefined)
                    to[k] = arguments[i][k];
        return to;
    }

    function parseCursor(c) {
        var m = typeof c === "string" && /^([0-9a-z]{1,32})-(0|[1-9][0-9]*)$/.exec(c);
        return m ? { epoch: m[1], seq: Number(m[2]) } : null;
    }

    function fail(code, message, status) {
        var e = new Error(message || code);
        e.code = code;
        if (status)
            e.status = status;
        return e;
    }

    /*  An HTTP answer that is not what was asked for, as an Error with the
     *  server's code ({"error": code, "message"}) when there is one.  */
    function httpError(res) {
        return res.text().then(function (text) {
            var body = {};
            try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
            return fail(body.error || "http_" + res.status,
                        body.message || "HTTP " + res.status, res.status);
        }, function () { return fail("http_" + res.status, "HTTP " + res.status, res.status); });
    }

    function channelQuery(channels) {
        return channels.map(function (c) { return "channel=" + encodeURIComponent(c); }).join("&");
    }

    function authHeaders(token, extra) {
        var h = assign({}, extra);
        if (token)
            h.Authorization = "Bearer " + token;
        return h;
    }

    function hash(text) {                   // FNV-1a, to keep lock names short
        var h = 0x811c9dc5;
        for (var i = 0; i < text.length; i++) {
            h ^= text.charCodeAt(i);
            h = Math.imul(h, 0x01000193) >>> 0;
        }
        return h.toString(36);
    }

    function randomId() {
        return Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
    }

    /* ------------------------------------------------------------ core.js */

    /*  The Fastpush object: options, the cursor and status getters, the
     *  event emitter (on/off/_emit), named timers, and close().  */

    function Fastpush(options) {
        if (!(this instanceof Fastpush))
            return new Fastpush(options);
        var o = this.options = assign({}, DEFAULTS, options);
        if (!Array.isArray(o.channels) || !o.channels.length)
            throw new TypeError("fastpush: name at least one channel");
        o.transports.forEach(function (t) {
            if (!TRANSPORTS[t])
                throw new TypeError("fastpush: unknown transport " + t);
        });
        this._listeners = {};
        this._last = {};                    // channel -> seq of the last event delivered
        this._epoch = null;                 // the cursor: EPOCH-SEQ, SEQ the highest seen
        this._seq = 0;
        var c = parseCursor(o.cursor);
        if (c) {
            this._epoch = c.epoch;
            this._seq = c.seq;
        }
        this._status = { transport: null, connected: false, cursor: this.cursor, role: null,
                         error: null };
        this._cur = null;                   // the attempt events come from
        this._probe = null;                 // a better transport being tried meanwhile
        this._failures = 0;
        this._timers = {};
        this._id = randomId();
        this._pubs = {};                    // relayed publishes waiting for the leader
        this._npub = 0;
        this._hold = null;                  // relayed messages held during a catch-up
        this._closed = false;
        this._user = typeof o.token === "string" ? tokenUser(o.token) : null;  // members.me
        var self = this;
        this._onOnline = function () { self._retryNow(); };
        if (typeof addEventListener === "function")
            addEventListener("online", this._onOnline);
        this._timer("start", 0, function () { self._share(); });
    }

    var P = Fastpush.prototype;

    Object.defineProperty(P, "cursor", {
        get: function () {
            if (this._epoch)
                return this._epoch + "-" + this._seq;
            return this.options.cursor === "earliest" ? "earliest" : null;
        }
    });

    Object.defineProperty(P, "status", {
        get: function () { return assign({}, this._status, { cursor: this.cursor }); }
    });

    /*  on(type, fn) -> a function that removes the listener.  */
    P.on = function (type, fn) {
        (this._listeners[type] = this._listeners[type] || []).push(fn);
        var self = this;
        return function () { self.off(type, fn); };
    };

    P.off = function (type, fn) {
        var l = this._listeners[type] || [];
        var i = l.indexOf(fn);
        if (i >= 0)
            l.splice(i, 1);
    };

    P._emit = function (type, arg) {
        (this._listeners[type] || []).slice().forEach(function (fn) {
            try {
                fn(arg);
            } catch (e) {
                setTimeout(function () { throw e; });   // the app's bug, not ours
            }
        });
    };

    P._timer = function (name, ms, fn) {
        clearTimeout(this._timers[name]);
        var self = this;
        this._timers[name] = setTimeout(function () {
            delete self._timers[name];
            if (!self._closed)
                fn();
        }, ms);
    };

    P._url = function (path) {
        var base = this.options.url || (typeof location !== "undefined" ? location.origin : "");
        return base.replace(/\/+$/, "") + path;
    };

    P._token = function () {
        var t = this.options.token;
        try {
            return Promise.resolve(typeof t === "function" ? t() : t);
        } catch (e) {
            return Promise.reject(e);
        }
    };

    P._setStatus = function (patch) {
        var s = this._status, changed = false;
        for (var k in patch)
            if (s[k] !== patch[k]) {
                s[k] = patch[k];
                changed = true;
            }
        if (!changed)
            return;
        var st = this.status;
        this._emit("status", st);
        if (s.role === "leader")
            this._post("status", st);
    };

    P.close = function () {
        if (this._closed)
            return;
        this._stopTransports();
        this._closed = true;
        for (var k in this._timers)
            clearTimeout(this._timers[k]);
        clearInterval(this._electTimer);
        if (this._onHide)
            this._onHide();
        if (typeof removeEventListener === "function") {
            removeEventListener("online", this._onOnline);
            if (this._onHide)
                removeEventListener("pagehide", this._onHide);
        }
        this._setStatus({ connected: false, transport: null });
        if (this._unlock)
            this._unlock();
        if (this._bc)
            this._bc.close();
        this._bc = null;
        for (var id in this._pubs)
            this._pubs[id].reject(fail("closed", "the client was closed"));
    };

    /* ------------------------------------------------------------ cursor.js */

    /*  Cursor and state: each event handed to the app once (per-channel
     *  SEQ), resets, a new epoch, the cursor a transport reports.  */

    /*  Hand an event to the app once: per channel, events come in SEQ
     *  order, so one at or below the channel's last SEQ was delivered
     *  already (a resume or a transport switch overlaps).  `a` is the
     *  transport attempt it came from, null when relayed by the leader.  */
    P._event = function (a, ev) {
        if (a && a.dead)
            return;
        if (ev.snapshot) {                  // keyed state after a reset: no cursor
            this._out("event", ev);
            return;
        }
        var c = parseCursor(ev.id);
        if (c && c.epoch !== this._epoch)
            this._newEpoch(c.epoch, 0);
        if (ev.seq <= (this._last[ev.channel] || 0))
            return;
        this._last[ev.channel] = ev.seq;
        if (ev.seq > this._seq)
            this._seq = ev.seq;
        this._presenceEvent(ev);
        this._out("event", ev);
    };

    /*  History could not cover the cursor on a channel: the app reloads.
     *  SEQs are never reused within an epoch, so what was delivered stays
     *  delivered; only "ahead" (the broker is behind the cursor) numbers
     *  anew, and a new epoch forgets everything (_newEpoch).  */
    P._reset = function (a, r) {
        if (a && a.dead)
            return;
        if (r.reason === "ahead") {         // the broker is behind us: its SEQs are new
            if (a)
                a.ahead = true;
            delete this._last[r.channel];
        }
        this._out("reset", { channel: r.channel, reason: r.reason, snapshot: !!r.snapshot });
    };

    P._newEpoch = function (epoch, seq) {
        this._epoch = epoch;
        this._seq = seq;
        this._last = {};
        this._presenceEpoch();
    };

    /*  A transport says where it stands: everything of our channels up to
     *  `cursor` was delivered.  After an "ahead" reset (the broker is
     *  behind our cursor) its cursor replaces ours.  */
    P._cursorFrom = function (cursor, ahead) {
        var c = parseCursor(cursor);
        if (!c)
            return;
        if (c.epoch !== this._epoch) {
            this._newEpoch(c.epoch, c.seq);
        } else if (ahead) {
            this._last = {};
            this._seq = c.seq;
        } else if (c.seq > this._seq) {
            this._seq = c.seq;
        }
        if (this._status.role === "leader")
            this._post("ready", { cursor: cursor, ahead: !!ahead });
    };

    P._out = function (type, x) {
        this._emit(type, x);
        if (this._status.role === "leader")
            this._post(type, x);
    };

    /* ------------------------------------------------------------ presence.js */

    /*  Presence channels: who is on them.  Whatever transport delivers it,
     *  the member list comes to _presence() ({channel, members, count,
     *  seq}) and member_added / member_removed arrive as ordinary events
     *  (through _event, so already de-duplicated by seq); both keep one
     *  Members object per channel and emit "subscribed", "member_added" and
     *  "member_removed".  */

    /*  A presence channel: its last part (after the last ":") starts with
     *  "presence-".  */
    function isPresence(channel) {
        return channel.slice(channel.lastIndexOf(":") + 1).indexOf("presence-") === 0;
    }

    /*  {id, info} of a JWT's sub and fastpush.user_info, or null: who "me"
     *  is.  The token is not checked here (the server does).  */
    function tokenUser(token) {
        try {
            var p = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
            var bytes = atob(p + "===".slice((p.length + 3) % 4));
            var c = JSON.parse(decodeURIComponent(bytes.replace(/[\s\S]/g, function (ch) {
                return "%" + ("0" + ch.charCodeAt(0).toString(16)).slice(-2);
            })));
            if (typeof c.sub !== "string" || !c.sub)
                return null;
            var info = c.fastpush && c.fastpush.user_info;
            return { id: c.sub, info: info === undefined ? null : info };
        } catch (e) {
            return null;
        }
    }

    /*  The members of one presence channel, as the app sees them (like
     *  pusher-js's channel.members): count, each(fn), get(id), me.  */
    function Members(fp, channel) {
        this.channel = channel;
        this.subscribed = false;            // a member list arrived
        this._fp = fp;
        this._map = new Map();              // user_id -> user_info
    }

    Object.defineProperty(Members.prototype, "count", {
        get: function () { return this._map.size; }
    });

    /*  This page's user, {id, info}, when known (options.userId, or the
     *  token's sub); info is the list's when the user is in it.  */
    Object.defineProperty(Members.prototype, "me", {
        get: function () {
            var u = this._fp._me();
            if (!u)
                return null;
            return { id: u.id, info: this._map.has(u.id) ? this._map.get(u.id) : u.info };
        }
    });

    Members.prototype.get = function (id) {
        id = String(id);
        return this._map.has(id) ? { id: id, info: this._map.get(id) } : null;
    };

    Members.prototype.each = function (fn) {
        this._map.forEach(function (info, id) { fn({ id: id, info: info }); });
    };

    Members.prototype.toArray = function () {
        var out = [];
        this.each(function (m) { out.push(m); });
        return out;
    };

    /*  members(channel) -> the Members of a presence channel this client
     *  follows (empty and not subscribed until its list comes), or null.  */
    P.members = function (channel) {
        if (this.options.channels.indexOf(channel) < 0 || !isPresence(channel))
            return null;
        return this._presenceOf(channel).members;
    };

    P._me = function () {
        if (this.options.userId)
            return { id: String(this.options.userId), info: null };
        return this._user || null;
    };

    /*  The state of a channel: its Members, `seq` (the list's, then the
     *  newest member event applied: events at or below it are in) and
     *  `log`, the member events above the list's seq, applied again onto a
     *  fresh list of a lower seq.  */
    P._presenceOf = function (channel) {
        var all = this._presenceState = this._presenceState || {};
        return all[channel] = all[channel] ||
            { members: new Members(this, channel), seq: 0, log: [] };
    };

    /*  A member list ({channel, members: [{user_id, user_info}], count,
     *  seq}): it replaces what was known.  The member events above its seq
     *  that came already are applied again; the differences to the old list
     *  (what a reconnect missed) are emitted as member_added/removed, then
     *  "subscribed" with the members.  */
    P._presence = function (a, x) {
        if ((a && a.dead) || !x || typeof x.channel !== "string" || !isPresence(x.channel) ||
            !Array.isArray(x.members))
            return;
        var st = this._presenceOf(x.channel), m = st.members, seq = Number(x.seq) || 0;
        var old = m._map, first = !m.subscribed;
        m._map = new Map();
        x.members.forEach(function (u) {
            if (u && u.user_id !== undefined)
                m._map.set(String(u.user_id), u.user_info === undefined ? null : u.user_info);
        });
        st.log = st.log.filter(function (e) { return e.seq > seq; });
        st.seq = seq;
        st.log.forEach(function (e) { this._member(st, e, false); }, this);
        m.subscribed = true;
        if (this._status.role === "leader")
            this._post("presence", x);
        if (!first) {
            var self = this;
            m._map.forEach(function (info, id) {
                if (!old.has(id))
                    self._emit("member_added", { channel: x.channel, id: id, info: info });
            });
            old.forEach(function (info, id) {
                if (!m._map.has(id))
                    self._emit("member_removed", { channel: x.channel, id: id, info: info });
            });
        }
        this._emit("subscribed", { channel: x.channel, members: m });
    };

    /*  An event delivered to the app (once, in seq order): a member event of
     *  a presence channel changes its members, unless the list has it.  */
    P._presenceEvent = function (ev) {
        if ((ev.event !== "member_added" && ev.event !== "member_removed") ||
            !isPresence(ev.channel) || !ev.data || ev.data.user_id === undefined)
            return;
        var st = this._presenceOf(ev.channel);
        if (ev.seq <= st.seq)
            return;                         // in the list already
        var e = { seq: ev.seq, added: ev.event === "member_added", id: String(ev.data.user_id),
                  info: ev.data.user_info === undefined ? null : ev.data.user_info };
        st.log.push(e);
        if (st.log.length > 1000)
            st.log.shift();
        this._member(st, e, st.members.subscribed);
    };

    /*  Apply one member event; emit only a real change (a user is counted
     *  once, whatever its connections).  A member_added for a member the
     *  list holds means the broker forgot its members (it restarted: the
     *  responders join their connections again) and the list may hold
     *  users who left meanwhile: reconnect, for a fresh one.  */
    P._member = function (st, e, emit) {
        var map = st.members._map, had = map.has(e.id), info = had ? map.get(e.id) : null;
        if (e.seq > st.seq)
            st.seq = e.seq;
        if (emit && e.added && had)
            this._presenceStale();
        if (e.added)
            map.set(e.id, had ? info : e.info);  // the first connection's info stays
        else
            map.delete(e.id);
        if (emit && e.added !== had)
            this._emit(e.added ? "member_added" : "member_removed", {
                channel: st.members.channel, id: e.id, info: e.added ? map.get(e.id) : info });
    };

    /*  Reconnect (once, after the joins again have come) for fresh lists;
     *  the cursor makes it lose nothing.  A follower's leader does it.  */
    P._presenceStale = function () {
        var self = this;
        if (this._status.role === "follower" || this._timers.presence !== undefined)
            return;
        this._timer("presence", 1000, function () {
            var a = self._cur;
            if (a && a.ready)
                self._fail(a, fail("closed", "the member lists may be stale: reconnecting"));
        });
    };

    /*  A new epoch: the seqs start again, the lists' seqs mean nothing.  */
    P._presenceEpoch = function () {
        var all = this._presenceState || {};
        for (var ch in all) {
            all[ch].seq = 0;
            all[ch].log = [];
        }
    };

    /*  The leader tells a new follower the lists it holds.  */
    P._presencePost = function () {
        var all = this._presenceState || {};
        for (var ch in all) {
            var st = all[ch];
            if (!st.members.subscribed)
                continue;
            var members = [];
            st.members._map.forEach(function (info, id) {
                members.push({ user_id: id, user_info: info });
            });
            this._post("presence", { channel: ch, members: members, count: members.length,
                                     seq: st.seq });
        }
    };

    /* ------------------------------------------------------------ transport.js */

    /*  Running the transports (websocket.js, sse.js, poll.js): opening one,
     *  or a better one as a probe, the silence watchdog, failing over,
     *  backoff and upgrades.  */

    /*  Open transport number `index` of the order, as the current one or
     *  as a probe (a better one tried while the current one works).  */
    P._open = function (index, probe) {
        var self = this, o = this.options;
        var a = { name: o.transports[index], index: index, ready: false, dead: false,
                  ahead: false, last: Date.now(), t: null };
        a.limit = a.name === "poll" ? o.pollWait * 1000 + o.openTimeout : o.silenceTimeout;
        if (probe)
            this._probe = a;
        else
            this._cur = a;
        this._watch(a);
        this._token().then(function (token) {
            self._user = token && tokenUser(token) || self._user;
            if (!a.dead)
                a.t = TRANSPORTS[a.name](self, a, self.cursor, token);
        }).catch(function (e) { self._fail(a, e); });
        return a;
    };

    /*  Any sign of life: an event, a heartbeat, a pong, an answer.  */
    P._alive = function (a) {
        a.last = Date.now();
    };

    /*  The silence watchdog: openTimeout until ready (a buffering proxy
     *  delivers nothing at all), then the transport's limit.  */
    P._watch = function (a) {
        var self = this;
        var left = a.last + (a.ready ? a.limit : this.options.openTimeout) - Date.now();
        clearTimeout(a.watch);
        if (left <= 0)
            return this._fail(a, fail("silent", a.name + " stayed silent"));
        a.watch = setTimeout(function () { if (!a.dead) self._watch(a); }, left);
    };

    P._ready = function (a, cursor) {
        if (a.dead)
            return;
        this._cursorFrom(cursor, a.ahead);
        a.ahead = false;
        if (a.ready)
            return;
        a.ready = true;
        this._watch(a);
        if (a === this._probe) {            // a better transport works: switch
            var old = this._cur;
            this._cur = a;
            this._probe = null;
            if (old)
                this._drop(old);
        }
        this._failures = 0;
        this._setStatus({ transport: a.name, connected: true, error: null });
        this._scheduleUpgrade();
    };

    P._drop = function (a) {
        a.dead = true;
        clearTimeout(a.watch);
        try {
            if (a.t)
                a.t.close();
        } catch (e) { /* closing anyway */ }
    };

    /*  A transport failed or went silent.  A working one is reconnected
     *  after a backoff; one that never worked gives way to the next in the
     *  order, and after the last the order starts again, after a backoff.  */
    P._fail = function (a, err) {
        if (a.dead)
            return;
        this._drop(a);
        var msg = a.name + ": " + (err && err.message || err);
        if (a === this._probe) {
            this._probe = null;
            if (this._cur && a.index + 1 < this._cur.index)
                this._open(a.index + 1, true);
            else
                this._scheduleUpgrade();
            return;
        }
        if (a !== this._cur)
            return;
        this._cur = null;
        this._setStatus({ connected: false, error: msg });
        if (err && err.code && !TRANSIENT.test(err.code) && !(err.status >= 500))
            this._emit("error", err);
        if (this._probe) {                  // the better one is on its way
            this._cur = this._probe;
            this._probe = null;
            return;
        }
        var next = a.ready ? a.index : a.index + 1;
        if (next < this.options.transports.length && !a.ready)
            return this._open(next, false);
        var delay = this._backoff(), self = this;
        this._timer("retry", delay, function () {
            self._open(next % self.options.transports.length, false);
        });
    };

    P._backoff = function () {
        var b = this.options.backoff;
        var d = Math.min(b[1], b[0] * Math.pow(2, this._failures++));
        return d / 2 + Math.random() * d / 2;
    };

    P._retryNow = function () {
        var t = this._timers.retry;
        if (t === undefined)
            return;
        this._failures = 0;
        var self = this;
        this._timer("retry", 0, function () { self._open(0, false); });
    };

    P._scheduleUpgrade = function () {
        var a = this._cur, self = this;
        if (!a || !a.ready || a.index === 0 || this._probe)
            return;
        this._timer("upgrade", this.options.upgradeInterval, function () {
            if (self._cur === a && !a.dead && !self._probe)
                self._open(0, true);
        });
    };

    P._stopTransports = function () {
        if (this._cur)
            this._drop(this._cur);
        if (this._probe)
            this._drop(this._probe);
        this._cur = this._probe = null;
        clearTimeout(this._timers.retry);
        clearTimeout(this._timers.upgrade);
        delete this._timers.retry;
        delete this._timers.upgrade;
    };

    /* ------------------------------------------------------------ tabs.js */

    /*  Leader-tab sharing: a leader (Web Locks, or an election over
     *  BroadcastChannel) connects and relays; the followers listen.  */

    /*  One connection for all tabs that follow the same channels: the
     *  leader connects and relays; the others follow over BroadcastChannel.  */
    P._share = function () {
        var o = this.options, self = this;
        if (!o.share || typeof BroadcastChannel === "undefined")
            return this._lead("solo");
        this._key = "fastpush:" + (typeof o.share === "string" ? o.share : hash(JSON.stringify([
            this._url(""), o.channels.slice().sort(), o.transports,
            typeof o.token === "string" ? o.token : typeof o.token])));
        this._bc = new BroadcastChannel(this._key);
        this._bc.onmessage = function (e) { self._relayIn(e.data); };
        this._setStatus({ role: "follower" });
        if (o.cursor)
            this._catchUp();
        this._post("hello");
        if (typeof navigator !== "undefined" && navigator.locks && navigator.locks.request) {
            navigator.locks.request(this._key, function () {
                if (self._closed)
                    return;
                self._lead("leader");
                return new Promise(function (resolve) { self._unlock = resolve; });
            }).catch(function () { /* closed before the lock came */ });
        } else {
            this._elect();
        }
    };

    P._lead = function (role) {
        this._hold = null;                  // our own connection resumes from our cursor
        this._setStatus({ role: role });
        this._open(0, false);
    };

    P._post = function (t, x, extra) {
        if (this._bc)
            this._bc.postMessage(assign({ t: t, x: x }, extra));
    };

    P._relayIn = function (m) {
        var leader = this._status.role === "leader";
        if (this._hold && /^(event|reset|ready|presence)$/.test(m.t))
            return this._hold.push(m);
        switch (m.t) {
        case "event": if (!leader) this._event(null, m.x); break;
        case "presence": if (!leader) this._presence(null, m.x); break;
        case "reset": if (!leader) this._reset(null, m.x); break;
        case "ready": if (!leader) this._cursorFrom(m.x.cursor, m.x.ahead); break;
        case "status":
            if (!leader)
                this._setStatus({ transport: m.x.transport, connected: m.x.connected,
                                  error: m.x.error });
            break;
        case "hello":
            if (leader) {
                this._post("status", this.status);
                this._presencePost();
                if (this._since)
                    this._post("lead", this._id, { since: this._since });
            }
            break;
        case "pub":
            if (leader)
                this._publishFor(m);
            break;
        case "pubr":
            var p = this._pubs[m.id];
            if (p) {
                delete this._pubs[m.id];
                clearTimeout(p.timer);
                if (m.ok)
                    p.resolve(m.x);
                else
                    p.reject(fail(m.x.code, m.x.message, m.x.status));
            }
            break;
        case "lead": case "bye":
            if (this._onElect)
                this._onElect(m);
            break;
        }
    };

    /*  A follower told to start from a cursor fetches what it missed with
     *  one-shot polls, holding what the leader relays meanwhile.  */
    P._catchUp = function () {
        var self = this, cursor = this.cursor;
        var a = { name: "poll", once: true, dead: false, ahead: false, last: 0 };
        function done(err) {
            var held = self._hold;
            self._hold = null;
            if (err && self._status.role === "follower")
                self._emit("error", err);
            (held || []).forEach(function (m) { self._relayIn(m); });
        }
        this._hold = [];
        this._token().then(function (token) {
            TRANSPORTS.poll(self, a, cursor, token, done);
        }, done);
    };

    P._publishFor = function (m) {
        var self = this;
        this.publish(m.x.channel, m.x.data, { event: m.x.event, key: m.x.key }).then(
            function (r) { self._post("pubr", r, { id: m.id, ok: true }); },
            function (e) {
                self._post("pubr", { code: e.code, message: e.message, status: e.status },
                           { id: m.id, ok: false });
            });
    };

    /*  Leader election over BroadcastChannel, where Web Locks are missing
     *  (plain http:// pages other than localhost): the leader says so
     *  every second; a follower that hears nothing for leaderTimeout
     *  claims; of two leaders the newer claim wins.  */
    P._elect = function () {
        var self = this, heard = 0;
        this._since = 0;
        this._onElect = function (m) {
            if (m.t === "bye") {
                heard = 0;
                return self._timer("claim", Math.random() * 200, check);
            }
            if (self._status.role !== "leader")
                heard = Date.now();
            else if (m.since > self._since || (m.since === self._since && m.x > self._id))
                self._stepDown();
        };
        function check() {
            if (self._status.role === "leader")
                return self._post("lead", self._id, { since: self._since });
            if (Date.now() - heard > self.options.leaderTimeout) {
                self._since = Date.now();
                self._post("lead", self._id, { since: self._since });
                self._lead("leader");
            }
        }
        this._timer("claim", 300 + Math.random() * 200, check);
        this._electTimer = setInterval(check, 1000);
        this._onHide = function () {
            if (self._status.role === "leader")
                self._post("bye", self._id);
        };
        if (typeof addEventListener === "function")
            addEventListener("pagehide", this._onHide);
    };

    P._stepDown = function () {
        this._stopTransports();
        this._since = 0;
        this._setStatus({ role: "follower" });
    };

    /* ------------------------------------------------------------ publish.js */

    /*  publish(): over the WebSocket, over HTTP, or through the leader tab.  */

    /*  publish(channel, data, {event, key, via}) -> Promise<{id, via}>.
     *  Over the WebSocket when this tab is connected by one (and the
     *  bridge allows it), else POST PUSHPATH/publish; followers ask the
     *  leader.  */
    P.publish = function (channel, data, opts) {
        opts = opts || {};
        var msg = { channel: channel, data: data === undefined ? null : data };
        if (opts.event)
            msg.event = opts.event;
        if (opts.key !== undefined && opts.key !== null && opts.key !== "")
            msg.key = String(opts.key);
        if (this._status.role === "follower")
            return this._relayPublish(msg);
        var via = opts.via || this.options.publish, a = this._cur, self = this;
        if (via !== "http" && a && a.ready && a.t && a.t.publish && !this._noWsPublish)
            return a.t.publish(msg).catch(function (e) {
                if (e.code !== "forbidden" || via !== "auto")
                    throw e;
                self._noWsPublish = true;   // the bridge has publishing off
                return self._httpPublish(msg);
            });
        if (via === "websocket")
            return Promise.reject(fail("not_connected", "no WebSocket to publish on"));
        return this._httpPublish(msg);
    };

    P._httpPublish = function (msg) {
        var self = this;
        return this._token().then(function (token) {
            var h = authHeaders(token, { "Content-Type": "application/json" });
            if (self.options.publishSecret)
                h["X-Fastpush-Secret"] = self.options.publishSecret;
            return fetch(self._url(self.options.pushPath + "/publish"), {
                method: "POST", headers: h, body: JSON.stringify(msg), cache: "no-store" });
        }).then(function (res) {
            if (res.status !== 202)
                return httpError(res).then(function (e) { throw e; });
            return res.json().then(function (r) { return { id: r.id, via: "http" }; });
        });
    };

    P._relayPublish = function (msg) {
        var self = this, id = this._id + ":" + ++this._npub;
        return new Promise(function (resolve, reject) {
            self._pubs[id] = {
                resolve: resolve, reject: reject,
                timer: setTimeout(function () {
                    delete self._pubs[id];
                    reject(fail("timeout", "the leader tab did not answer"));
                }, 10000)
            };
            self._post("pub", msg, { id: id });
        });
    };

    /* ------------------------------------------------------------ websocket.js */

    /*  TRANSPORTS.websocket: the fastpush.v1 subprotocol of ws-bridge.  */

    TRANSPORTS.websocket = function (fp, a, cursor, token) {
        var o = fp.options, pubs = {}, n = 0;
        /*  The token rides in the subprotocol list (the bridge answers
         *  with "fastpush.v1" only), not in the URL, which ends up in
         *  access logs.  */
        var url = fp._url(o.wsPath).replace(/^http/, "ws");
        var ws = new WebSocket(url, token ? ["fastpush.v1", "bearer." + token]
                                          : ["fastpush.v1"]);
        function settle(ref, err, ok) {
            var p = pubs[ref];
            if (!p)
                return false;
            delete pubs[ref];
            if (err)
                p.reject(err);
            else
                p.resolve(ok);
            return true;
        }
        ws.onopen = function () {
            fp._alive(a);
            var sub = { type: "subscribe", channels: o.channels, ref: "sub" };
            if (cursor)
                sub.since = cursor;
            ws.send(JSON.stringify(sub));
        };
        ws.onmessage = function (e) {
            fp._alive(a);
            var m = JSON.parse(e.data);
            if (!m.type)
                return fp._event(a, m);
            if (m.type === "ready")
                fp._ready(a, m.cursor);
            else if (m.type === "reset")
                fp._reset(a, m);
            else if (m.type === "presence")     /*  once ws-bridge sends member lists  */
                fp._presence(a, m);
            else if (m.type === "published")
                settle(m.ref, null, { id: m.id, via: "websocket" });
            else if (m.type === "error" && !settle(m.ref, fail(m.error, m.message)))
                fp._fail(a, fail(m.error, m.message));
        };
        ws.onclose = function (e) {
            for (var ref in pubs)
                settle(ref, fail("disconnected", "the WebSocket closed before the answer"));
            /*  4001: the token expired; reconnecting asks options.token again  */
            fp._fail(a, e.code === 4001 ? fail("auth_expired", "the token expired")
                                        : fail("closed", "closed (" + e.code + ")"));
        };
        var pinger = setInterval(function () {
            if (Date.now() - a.last >= o.pingInterval && ws.readyState === 1)
                ws.send('{"type":"ping"}');
        }, Math.max(500, o.pingInterval / 4));
        return {
            close: function () {
                clearInterval(pinger);
                ws.onclose = ws.onmessage = ws.onopen = null;
                ws.close(1000);
                for (var ref in pubs)
                    settle(ref, fail("disconnected", "the WebSocket closed"));
            },
            publish: function (msg) {
                var ref = "p" + ++n;
                ws.send(JSON.stringify(assign({ type: "publish", ref: ref }, msg)));
                return new Promise(function (resolve, reject) {
                    pubs[ref] = { resolve: resolve, reject: reject };
                });
            }
        };
    };

    /* ------------------------------------------------------------ sse.js */

    /*  TRANSPORTS.sse: Server-Sent Events, read with fetch().  */

    /*  Server-Sent Events read with fetch(), not EventSource: it can send
     *  Authorization, sees heartbeat comments (so silence is noticed) and
     *  every event type, and leaves reconnecting to us.  */
    TRANSPORTS.sse = function (fp, a, cursor, token) {
        var o = fp.options, ctrl = new AbortController();
        var type = "", data = [];
        function dispatch(kind, text) {
            var x = JSON.parse(text);
            if (kind === "ready")
                fp._ready(a, x.cursor);
            else if (kind === "reset")
                fp._reset(a, x);
            else if (kind === "presence")
                fp._presence(a, x);
            else if (kind === "error")
                fp._fail(a, fail(x.error, x.message));
            else if (kind === "auth-expired")   /*  reconnect with a fresh token  */
                fp._fail(a, fail("auth_expired", "the token expired"));
            else
                fp._event(a, x);
        }
        function line(l) {
            if (l === "") {
                if (data.length)
                    dispatch(type || "message", data.join("\n"));
                type = "";
                data = [];
            } else if (l[0] !== ":") {
                var c = l.indexOf(":");
                var name = c < 0 ? l : l.slice(0, c);
                var value = c < 0 ? "" : l.slice(l[c + 1] === " " ? c + 2 : c + 1);
                if (name === "event")
                    type = value;
                else if (name === "data")
                    data.push(value);
            }
        }
        function read(reader) {
            var dec = new TextDecoder(), buf = "";
            return reader.read().then(function step(r) {
                if (r.done || a.dead)
                    return;
                fp._alive(a);
                buf += dec.decode(r.value, { stream: true });
                var start = 0, i;
                while ((i = buf.indexOf("\n", start)) >= 0) {
                    line(buf.slice(start, buf[i - 1] === "\r" ? i - 1 : i));
                    start = i + 1;
                }
                buf = buf.slice(start);
                return reader.read().then(step);
            });
        }
        var url = fp._url(o.ssePath) + "?" + channelQuery(o.channels) +
            (cursor ? "&last_event_id=" + encodeURIComponent(cursor) : "");
        fetch(url, { headers: authHeaders(token, { Accept: "text/event-stream" }),
                     cache: "no-store", signal: ctrl.signal })
            .then(function (res) {
                if (!res.ok || !res.body)
                    return httpError(res).then(function (e) { throw e; });
                fp._alive(a);
                return read(res.body.getReader());
            })
            .then(function () { fp._fail(a, fail("closed", "the stream ended")); },
                  function (e) { fp._fail(a, e); });
        return { close: function () { ctrl.abort(); } };
    };

    /* ------------------------------------------------------------ poll.js */

    /*  TRANSPORTS.poll: long-polling, and the followers' one-shot catch-up.  */

    /*  Long-polls from the cursor; every answer says where it stands.  With
     *  a.once (a follower's catch-up) it stops at the first answer that
     *  has no more, and calls done(err).  The first poll asks for the
     *  presence channels' member lists (presence=1): they come before the
     *  answer's events.  */
    TRANSPORTS.poll = function (fp, a, cursor, token, done) {
        var o = fp.options, ctrl = null;
        var lists = !a.once && o.channels.some(isPresence);
        function once(since, wait) {
            ctrl = new AbortController();
            var url = fp._url(o.pushPath + "/poll") + "?" + channelQuery(o.channels) +
                "&limit=" + o.pollLimit + (since ? "&since=" + encodeURIComponent(since) : "") +
                (wait ? "&wait=" + o.pollWait : "") + (lists ? "&presence=1" : "");
            lists = false;
            return fetch(url, { headers: authHeaders(token), cache: "no-store",
                                signal: ctrl.signal })
                .then(function (res) {
                    if (res.status !== 200)
                        return httpError(res).then(function (e) { throw e; });
                    return res.json();
                })
                .then(function (body) {
                    if (a.dead)
                        return;
                    fp._alive(a);
                    (body.presence || []).forEach(function (p) { fp._presence(a, p); });
                    body.reset.forEach(function (r) { fp._reset(a, r); });
                    body.events.forEach(function (ev) { fp._event(a, ev); });
                    if (a.once) {
                        fp._cursorFrom(body.cursor, a.ahead);
                        a.ahead = false;
                        return body.more ? once(body.cursor, false) : done(null);
                    }
                    fp._ready(a, body.cursor);
                    return once(body.cursor, !body.more);
                });
        }
        once(cursor, false).catch(function (e) {
            if (a.once)
                done(e);
            else
                fp._fail(a, e);
        });
        return { close: function () { a.dead = true; if (ctrl) ctrl.abort(); } };
    };

    Fastpush.TRANSPORTS = Object.keys(TRANSPORTS);
    Fastpush.version = "0.1.0";
    return Fastpush;
});
