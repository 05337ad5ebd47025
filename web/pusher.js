/*  The demo's Pusher page (web/pusher.html): pusher-js against fastpush-ws
 *  on this page's origin, as a page written for Pusher Channels would use
 *  it.  The app key and the shell command come from /demo-config.js
 *  (tools/demo.py writes it).  */
"use strict";
(function () {
    var cfg = (window.FASTPUSH_DEMO || {}).pusher;
    var $ = function (id) { return document.getElementById(id); };
    if (!cfg || !window.Pusher) {
        $("warn").textContent = !window.Pusher
            ? "pusher-js is not installed here (make deps runs npm ci)"
            : "this demo was started without Pusher apps";
        return;
    }
    var names = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Dennis", "Margaret"];
    var user = names[Math.floor(Math.random() * names.length)] + "-" +
        Math.floor(Math.random() * 900 + 100);
    var pusher = new Pusher(cfg.key, {
        cluster: "mt1",                         // a placeholder: wsHost wins
        wsHost: location.hostname, wsPort: Number(location.port || 80),
        forceTLS: location.protocol === "https:",
        enabledTransports: ["ws", "wss"], disableStats: true,
        channelAuthorization: { endpoint: "/demo/pusher-auth?user=" +
                                encodeURIComponent(user), transport: "ajax" }
    });
    $("me").textContent = user;
    $("cmd").textContent = cfg.command;

    function conn(state) {
        var on = state === "connected";
        $("conn").className = "conn " + (on ? "on" : "off");
        $("conn-text").textContent = "pusher-js: " + state;
        $("socket").textContent = on ? "socket_id " + pusher.connection.socket_id : "";
    }
    pusher.connection.bind("state_change", function (s) { conn(s.current); });

    pusher.subscribe("clock").bind("tick", function (d) { $("clock").textContent = d.time; });

    var lobby = pusher.subscribe("presence-lobby");
    function members() {
        var list = [];
        lobby.members.each(function (m) { list.push(m.id === lobby.members.myID
                                                     ? m.id + " (you)" : m.id); });
        $("count").textContent = lobby.members.count + (lobby.members.count === 1
                                                         ? " member" : " members");
        $("members").textContent = list.sort().join(", ");
    }
    function log(text) {
        var li = document.createElement("li");
        li.textContent = new Date().toTimeString().slice(0, 8) + "  " + text;
        $("log").insertBefore(li, $("log").firstChild);
        while ($("log").children.length > 12)
            $("log").removeChild($("log").lastChild);
    }
    lobby.bind("pusher:subscription_succeeded", members);
    lobby.bind("pusher:subscription_error", function (e) {
        $("warn").textContent = "presence-lobby: " + (e.error || e.status);
    });
    lobby.bind("pusher:member_added", function (m) { members(); log(m.id + " joined"); });
    lobby.bind("pusher:member_removed", function (m) { members(); log(m.id + " left"); });
    lobby.bind("client-chat", function (d) { log(d.from + ": " + d.text); });
    lobby.bind("announcement", function (d) { log("the server: " + JSON.stringify(d)); });
    $("say").addEventListener("submit", function (e) {
        e.preventDefault();
        var text = $("text").value.trim();
        if (text && lobby.trigger("client-chat", { from: user, text: text }))
            log("you: " + text);
        $("text").value = "";
    });
})();
