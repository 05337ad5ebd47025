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
