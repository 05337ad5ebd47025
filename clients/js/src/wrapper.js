/*  fastpush.js: the browser client of fastpush.
 *
 *      var fp = new Fastpush({ channels: ["news", "prices"] });
 *      fp.on("event", function (ev) { ... });    // {id, seq, channel, event, key?, ts, data}
 *      fp.on("reset", function (r) { ... });     // {channel, reason, snapshot}: reload that state
 *      fp.on("status", function (s) { ... });    // {transport, connected, cursor, role, error}
 *      fp.publish("news", {title: "Hi"}).then(function (r) { r.id; });
 *      fp.members("presence-room");              // presence: count, each(), get(id), me
 *      fp.on("member_added", function (m) { ... });  // {channel, id, info}; member_removed, subscribed
 *
 *  One object, three transports tried in order (WebSocket, Server-Sent
 *  Events over fetch, long-polling), one cursor across them: every switch
 *  or reconnect resumes from it, events already delivered are dropped by
 *  (channel, seq), and history that could not be covered is reported as
 *  a reset, never skipped in silence.  The tabs of an origin share one
 *  connection: a leader tab (Web Locks, or an election over
 *  BroadcastChannel) holds it and passes everything on over
 *  BroadcastChannel.  See README.md for the API and docs/protocol.md for
 *  the wire.
 *
 *  Sources: src/*.js, put together by build.mjs inside this wrapper
 *  (src/wrapper.js); the result is one plain <script> that defines the
 *  global Fastpush; fastpush.mjs exports it as an ES module; require()
 *  works too.
 */
(function (root, factory) {
    "use strict";
    var Fastpush = factory();
    if (typeof module === "object" && module && module.exports)
        module.exports = Fastpush;
    else
        root.Fastpush = Fastpush;
})(typeof globalThis !== "undefined" ? globalThis : this, function () {
    "use strict";

    /* @modules */

    Fastpush.TRANSPORTS = Object.keys(TRANSPORTS);
    Fastpush.version = "0.1.0";
    return Fastpush;
});
