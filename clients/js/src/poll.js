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
