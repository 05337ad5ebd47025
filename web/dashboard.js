/*  The fastpush demo dashboard: plain JS, no build step, nothing from the
 *  internet.  It uses the client as an ES module (/js/fastpush.mjs) and the
 *  demo's settings from /demo-config.js (the HTTP publish secret, which a
 *  real site keeps on its server, and the commands to publish from a shell).
 */
import { Fastpush } from "/js/fastpush.mjs";

const DEMO = window.FASTPUSH_DEMO || {};
const CHANNELS = ["chat", "clock", "counter", "prices", "burst"];
const BENCH_CHANNELS = ["clock", "counter", "prices", "burst"];
const TRANSPORTS = ["websocket", "sse", "poll"];
const NAMES = { websocket: "WebSocket", sse: "Server-Sent Events", poll: "Long-polling" };
const COLORS = { websocket: "#2563eb", sse: "#16a34a", poll: "#d97706" };

const $ = (id) => document.getElementById(id);
function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (k === "class") e.className = v;
        else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
        else e.setAttribute(k, v);
    }
    for (const k of kids) e.append(k instanceof Node ? k : String(k));
    return e;
}
const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false }) +
    "." + String(ms % 1000).padStart(3, "0");
const short = (v) => { const s = typeof v === "string" ? v : JSON.stringify(v); return s.length > 90 ? s.slice(0, 90) + "…" : s; };
const fmt = (n) => n.toLocaleString("en-US");
const median = (a) => { if (!a.length) return null; const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
const pct = (a, p) => { if (!a.length) return null; const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

/* ------------------------------------------------------------ live feed */

const feedOn = { chat: true, clock: true, counter: true, prices: false, burst: true };
const burstSeen = { n: 0, of: 0, first: 0 };

function feedRow(row) {
    const feed = $("feed");
    feed.prepend(row);
    while (feed.childElementCount > 40) feed.lastElementChild.remove();
}

function feedNote(text, cls) {
    feedRow(el("div", { class: "ev note " + (cls || "") }, el("span", { class: "t" }, clock(Date.now())),
               el("span", {}, text)));
}

function feedEvent(ev) {
    if (ev.channel === "burst") {             // one line per burst, not thousands
        const d = ev.data || {};
        if (d.i === 1) Object.assign(burstSeen, { n: 0, of: d.of, first: Date.now() });
        burstSeen.n++;
        if (d.i === d.of && feedOn.burst)
            feedNote(`burst: ${fmt(burstSeen.n)} of ${fmt(d.of)} events received in ` +
                     `${Date.now() - burstSeen.first} ms`);
        return;
    }
    if (!feedOn[ev.channel] && ev.channel in feedOn) return;
    feedRow(el("div", { class: "ev" },
        el("span", { class: "t" }, clock(ev.ts)),
        el("span", {}, el("span", { class: "pill " + ev.channel }, ev.channel)),
        el("span", { class: "type" }, ev.key ? `${ev.event} · ${ev.key}` : ev.event),
        el("span", { class: "data mono" }, (ev.snapshot ? "(snapshot) " : "") + short(ev.data)),
        el("span", { class: "lat" }, ev.snapshot ? "" : `${Math.max(0, Date.now() - ev.ts)} ms`)));
}

function buildFilters() {
    for (const ch of Object.keys(feedOn)) {
        const box = el("input", { type: "checkbox" });
        box.checked = feedOn[ch];
        box.addEventListener("change", () => { feedOn[ch] = box.checked; });
        $("filters").append(el("label", {}, box, el("span", { class: "pill " + ch }, ch)));
    }
}

/* ------------------------------------------------------------ tiles */

const continuity = { last: null, missed: 0, repeated: 0 };

function onCounter(n) {
    const c = continuity;
    if (c.last !== null && n <= c.last) c.repeated++;
    else if (c.last !== null && n > c.last + 1) c.missed += n - c.last - 1;
    c.last = Math.max(n, c.last || 0);
    $("counter").textContent = fmt(n);
    const hint = $("continuity");
    const bad = c.missed || c.repeated;
    hint.className = "hint " + (bad ? "bad" : "good");
    hint.textContent = bad ? `${c.missed} missed, ${c.repeated} repeated` :
        "every number arrived once, in order";
}

function showStatus(s) {
    const conn = $("conn");
    conn.className = "conn " + (s.connected ? "on" : "off");
    const role = s.role === "follower" ? " · via another tab" : "";
    $("conn-text").textContent = s.connected ? `${NAMES[s.transport]}${role}` :
        (s.error ? "reconnecting…" : "connecting…");
    conn.title = s.error || "";
    $("transport").textContent = s.connected ? NAMES[s.transport] : "not connected";
    $("role").textContent = s.role === "follower" ? "follower: another tab holds the connection" :
        s.role === "leader" ? "leader: holds the connection for this origin's tabs" : "";
}

/* ------------------------------------------------------------ prices */

const prices = new Map();               // key -> {price, prev, ts}

function applyPrice(ev) {
    if (!ev.key) return;
    const old = prices.get(ev.key);
    if (ev.data === null) prices.delete(ev.key);   // a tombstone removes the key
    else prices.set(ev.key, { price: ev.data && ev.data.price !== undefined ? ev.data.price : ev.data,
                              prev: old ? old.price : null, ts: ev.ts, fresh: true });
}

function drawPrices() {
    const body = $("prices");
    body.replaceChildren(...[...prices.entries()].sort().map(([k, p]) => {
        const dir = p.prev === null || p.prev === p.price ? "" : p.price > p.prev ? "up" : "down";
        const tr = el("tr", { class: p.fresh ? "flash" : "" }, el("td", {}, k),
                      el("td", {}, typeof p.price === "number" ? p.price.toLocaleString("en-US", { maximumFractionDigits: 6 }) : short(p.price)),
                      el("td", { class: dir }, dir === "up" ? "▲" : dir === "down" ? "▼" : ""),
                      el("td", { class: "hint" }, `${Math.max(0, Math.round((Date.now() - p.ts) / 1000))} s ago`));
        p.fresh = false;
        return tr;
    }));
    if (!prices.size) body.append(el("tr", {}, el("td", { colspan: 4, class: "hint" }, "no keys yet")));
}

async function loadPrices() {
    const st = await fetch("/push/state?channel=prices", { cache: "no-store" }).then((r) => r.json());
    prices.clear();
    st.events.forEach(applyPrice);
    return st.cursor;
}

/* ------------------------------------------------------------ main client */

let main;

async function startMain() {
    let cursor = null;
    try {
        cursor = await loadPrices();    // the state, and the cursor to follow it from
    } catch (e) {
        feedNote("could not load /push/state: " + e.message, "reset");
    }
    main = new Fastpush({ channels: CHANNELS, cursor, publishSecret: DEMO.publishSecret,
                          upgradeInterval: 10000 });
    main.on("status", showStatus);
    main.on("event", (ev) => {
        feedEvent(ev);
        if (ev.channel === "prices") applyPrice(ev);
        if (ev.channel === "counter" && !ev.snapshot) onCounter(ev.data);
        if (ev.channel === "clock") $("clock").textContent = ev.data.time || short(ev.data);
    });
    main.on("reset", (r) => {
        feedNote(`reset on ${r.channel} (${r.reason}): history could not cover the cursor, ` +
                 (r.snapshot ? "a snapshot follows" : "reload the state"), "reset");
        if (r.channel === "counter") continuity.last = null;
        if (r.channel === "prices") {
            prices.clear();
            if (!r.snapshot) loadPrices().catch(() => {});
        }
    });
    main.on("error", (e) => feedNote(`client error: ${e.code}: ${e.message}`, "reset"));
    window.fastpushDemo = { main, bench };
}

/* ------------------------------------------------------------ transports */

const bench = {};

function startBench() {
    for (const t of TRANSPORTS) {
        const b = bench[t] = { total: 0, resets: 0, seconds: new Map(), status: null };
        b.fp = new Fastpush({ channels: BENCH_CHANNELS, transports: [t], upgradeInterval: 10000 });
        b.fp.on("status", (s) => { b.status = s; });
        b.fp.on("reset", () => { b.resets++; });
        b.fp.on("event", (ev) => {
            if (ev.snapshot) return;
            b.total++;
            const sec = Math.floor(Date.now() / 1000);
            let s = b.seconds.get(sec);
            if (!s) b.seconds.set(sec, s = { n: 0, lat: [] });
            s.n++;
            s.lat.push(Math.max(0.5, Date.now() - ev.ts));
        });
        const card = el("div", { class: "tcard", style: `--c:${COLORS[t]}` },
            el("h3", {}, NAMES[t], el("span", { class: "state", id: `st-${t}` }, "…")),
            el("dl", {}, ...[["events/s", "eps"], ["received", "tot"], ["p50 ms", "p50"], ["p95 ms", "p95"], ["resets", "rst"]]
                .flatMap(([label, id]) => [el("div", {}, el("dt", {}, label), el("dd", { id: `${id}-${t}` }, "–"))])));
        $("tcards").append(card);
    }
}

function series(b, now) {
    const thr = [], lat = [];
    for (let s = now - 60; s < now; s++) {
        const x = b.seconds.get(s);
        thr.push(x ? x.n : 0);
        lat.push(x ? median(x.lat) : null);
    }
    for (const k of b.seconds.keys()) if (k < now - 61) b.seconds.delete(k);
    return { thr, lat };
}

function drawBench() {
    const now = Math.floor(Date.now() / 1000);
    const lat = {}, thr = {};
    for (const t of TRANSPORTS) {
        const b = bench[t], s = series(b, now);
        lat[t] = s.lat;
        thr[t] = s.thr;
        const recent = [];
        for (let x = now - 10; x < now; x++) recent.push(...((b.seconds.get(x) || {}).lat || []));
        const st = $(`st-${t}`), ok = b.status && b.status.connected;
        st.className = "state" + (ok ? "" : " off");
        st.textContent = ok ? "connected" : b.status && b.status.error ? "reconnecting" : "connecting";
        st.title = (b.status && b.status.error) || "";
        $(`eps-${t}`).textContent = fmt(s.thr[59]);
        $(`tot-${t}`).textContent = fmt(b.total);
        $(`rst-${t}`).textContent = fmt(b.resets);
        $(`p50-${t}`).textContent = recent.length ? fmt(Math.round(median(recent))) : "–";
        $(`p95-${t}`).textContent = recent.length ? fmt(Math.round(pct(recent, 0.95))) : "–";
    }
    if (main) $("cursor").textContent = `cursor ${main.cursor || "–"}`;
    chart($("lat"), lat, { log: true });
    chart($("thr"), thr, { log: false });
}

/*  A line per transport over the last 60 s; log scale for latency.  */
function chart(canvas, data, { log }) {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth, H = canvas.clientHeight;
    if (canvas.width !== W * dpr) { canvas.width = W * dpr; canvas.height = H * dpr; }
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, W, H);
    const L = 44, R = 10, T = 10, B = 22, w = W - L - R, h = H - T - B;
    const all = Object.values(data).flat().filter((v) => v !== null);
    const max = Math.max(log ? 10 : 10, ...all);
    const top = log ? Math.pow(10, Math.ceil(Math.log10(max))) : niceCeil(max / 5) * 5;
    const y = log ? (v) => T + h - (Math.log10(Math.max(0.5, v)) - Math.log10(0.5)) / (Math.log10(top) - Math.log10(0.5)) * h
                  : (v) => T + h - v / top * h;
    const x = (i) => L + i / 59 * w;
    g.font = "11px system-ui, sans-serif";
    g.fillStyle = "#687382";
    g.strokeStyle = "#eef0f3";
    g.lineWidth = 1;
    const step = niceCeil(top / 5);
    const ticks = log ? [1, 10, 100, 1000, 10000].filter((v) => v <= top)
                      : Array.from({ length: Math.floor(top / step) + 1 }, (_, i) => i * step);
    for (const v of ticks) {
        g.beginPath(); g.moveTo(L, y(v)); g.lineTo(L + w, y(v)); g.stroke();
        g.textAlign = "right"; g.textBaseline = "middle";
        g.fillText(fmt(Math.round(v)), L - 6, y(v));
    }
    g.textAlign = "center"; g.textBaseline = "top";
    for (const s of [60, 45, 30, 15, 0]) g.fillText(s ? `-${s}s` : "now", x(59 - s * 59 / 60), T + h + 6);
    TRANSPORTS.forEach((t, i) => {          // wide to thin: equal lines stay visible
        g.strokeStyle = COLORS[t]; g.lineWidth = 5 - 1.5 * i; g.lineJoin = "round";
        g.beginPath();
        let pen = false;
        data[t].forEach((v, i) => {
            if (v === null) { pen = false; return; }
            if (pen) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
            pen = true;
        });
        g.stroke();
    });
}

/*  The smallest 1, 2 or 5 times a power of ten at or above v.  */
function niceCeil(v) {
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
}

/* ------------------------------------------------------------ publish */

function setupPublish() {
    const form = $("pub"), out = $("pub-result");
    form.channel.addEventListener("change", () => {
        if (form.channel.value === "prices" && !form.key.value) {
            form.key.value = "EURUSD";
            form.data.value = '{"symbol": "EURUSD", "price": 1.5}';
        }
    });
    form.addEventListener("submit", async (e) => {
        e.preventDefault();
        let data = form.data.value.trim();
        try { data = JSON.parse(data); } catch (err) { /* plain text: a string */ }
        out.className = "result";
        out.textContent = "publishing…";
        try {
            const r = await main.publish(form.channel.value.trim(), data,
                                         { event: form.event.value.trim(), key: form.key.value.trim(),
                                           via: form.via.value });
            out.className = "result ok";
            out.textContent = `published ${r.id} over ${r.via === "http" ? "HTTP (POST /push/publish)" : "the WebSocket"}`;
        } catch (err) {
            out.className = "result err";
            out.textContent = `refused: ${err.code || ""} ${err.message}`;
        }
    });
    for (const b of document.querySelectorAll("[data-burst]"))
        b.addEventListener("click", () => control("burst", { n: b.dataset.burst }).then((r) => {
            $("burst-result").textContent = `the demo publisher sent ${fmt(r.published)} events ` +
                `to the broker in ${Math.round(r.seconds * 1000)} ms`;
        }));
}

/* ------------------------------------------------------------ parts, stats */

async function control(cmd, q) {
    const res = await fetch(`/demo/${cmd}?` + new URLSearchParams(q), {
        method: "POST", headers: { "X-Fastpush-Secret": DEMO.publishSecret || "" } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json();
}

const PART_HELP = {
    ws: "the WebSocket bridge", sse: "the SSE responder (FastCGI)",
    poll: "the poll responder (also /push/publish and /push/stats)", broker: "the broker",
    broker2: "the second broker (cluster mode: both share the JetStream stream)",
    nats1: "a NATS JetStream node (the stream has 3 replicas: one may fail)",
    nats2: "a NATS JetStream node", nats3: "a NATS JetStream node",
};

function drawParts(state) {
    // the cluster demo (make demo CLUSTER=1) adds broker2 and nats1..3
    const names = ["ws", "sse", "poll", "broker", "broker2", "nats1", "nats2", "nats3"]
        .filter((name) => state.parts[name]);
    const rows = names.map((name) => {
        const p = state.parts[name];
        const busy = (btn, cmd) => btn.addEventListener("click", () => {
            btn.disabled = true;
            control(cmd, { part: name }).then(drawParts, () => {}).finally(() => { btn.disabled = false; });
        });
        const btns = [];
        if (name === "broker") {
            const b = el("button", { class: "ghost" }, "Restart"); busy(b, "restart"); btns.push(b);
        } else {
            const b = el("button", { class: p.running ? "ghost" : "" }, p.running ? "Stop" : "Start");
            busy(b, p.running ? "stop" : "start"); btns.push(b);
        }
        return el("tr", {}, el("td", {}, el("code", {}, p.label), el("div", { class: "hint" }, PART_HELP[name])),
                  el("td", { class: p.running ? "status-on" : "status-off" },
                     p.running ? `running (pid ${p.pid})` : "stopped"),
                  el("td", {}, ...btns));
    });
    $("parts").replaceChildren(...rows);
}

function drawStats(st) {
    const b = st.broker || {};
    const reps = b.responders || [];
    const sum = (tr, k) => reps.filter((r) => r.transport === tr).reduce((a, r) => a + (r.stats[k] || 0), 0);
    const table = (rows) => el("table", {}, el("tbody", {}, ...rows.map(([k, v]) => el("tr", {}, el("td", {}, k), el("td", {}, v)))));
    const store = b.store;
    $("stats").replaceChildren(
        el("h4", {}, "Connections now (reported by each responder every 5 s)"),
        table([["WebSocket connections", fmt(sum("ws", "streams"))],
               ["SSE streams", fmt(sum("sse", "streams"))],
               ["long-polls waiting", fmt(sum("poll", "waiting"))]]),
        el("h4", {}, "Broker"),
        table([["epoch · head", `${b.epoch} · ${fmt(b.head || 0)}`],
               ["events published since it started", fmt((b.events || {}).published || 0)],
               ["channels · keys", `${fmt((b.channels || {}).count || 0)} · ${fmt((b.history || {}).keys || 0)}`],
               ["history", `${fmt((b.history || {}).events || 0)} events, ${fmt(Math.round(((b.history || {}).bytes || 0) / 1024))} KiB`],
               ["store", store ? `${fmt(Math.round(store.bytes / 1024))} KiB in ${store.segments} segment(s), fsync ${store.fsync}` : "none (memory only)"],
               ["up", `${fmt(Math.round((b.uptime_ms || 0) / 1000))} s`]]),
        el("h4", {}, "Busiest channels"),
        table((b.top || []).slice(0, 6).map((c) => [c.channel, `${fmt(c.history)} in history, ${c.subscribers} subscriber(s)`])));
}

async function refresh() {
    let brokerOk = false;
    try {
        const res = await fetch("/push/stats", { cache: "no-store" });
        const st = await res.json();
        // 403/404: fastpush-poll's stats-access keeps the stats from this
        // browser (the demo's --stats-access); that says nothing of the broker
        brokerOk = res.status === 403 || res.status === 404;
        if (!res.ok) throw new Error(st.message || `HTTP ${res.status}`);
        drawStats(st);
        brokerOk = true;
    } catch (e) {
        $("stats").textContent = `/push/stats did not answer: ${e.message}`;
    }
    // the connection to the page can be fine while the broker behind it is
    // not: say so rather than look healthy
    $("broker-warn").textContent = brokerOk ? "" :
        "the broker is not answering: events resume when it is back";
    try {
        drawParts(await fetch("/demo/state", { cache: "no-store" }).then((r) => r.json()));
    } catch (e) {
        $("parts").replaceChildren(el("tr", {}, el("td", { class: "hint" },
            "the demo's control service is not here (run `make demo`)")));
    }
}

function showCommands() {
    const c = DEMO.commands || {};
    const box = $("commands");
    for (const [k, label] of [["cli", "the fastpush CLI"], ["php", "PHP (clients/php)"], ["curl", "HTTP"]])
        if (c[k]) box.append(el("h4", {}, label), el("pre", {}, c[k]));
    if (!box.childElementCount) box.append(el("p", { class: "hint" }, "see README.md"));
}

/* ------------------------------------------------------------ start */

buildFilters();
setupPublish();
showCommands();
startBench();
startMain();
refresh();
setInterval(refresh, 2000);
setInterval(drawBench, 500);
setInterval(drawPrices, 1000);
drawPrices();
