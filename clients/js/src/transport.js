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
