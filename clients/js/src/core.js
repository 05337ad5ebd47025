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
