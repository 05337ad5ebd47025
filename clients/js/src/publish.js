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
