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
