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
