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
