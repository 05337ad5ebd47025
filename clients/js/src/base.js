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
