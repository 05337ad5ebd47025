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
