// A plain Node.js push server of the kind comparison reports build: one
// process, native http for SSE, long-poll and interval poll, the `ws`
// package (Debian node-ws, NODE_PATH=/usr/share/nodejs) for WebSocket,
// and an HTTP publish endpoint.  No clustering, no tuning.
//
//   node node_server.js PORT
//   GET  /sse/CH                 text/event-stream
//   GET  /ws/CH                  WebSocket (also {"type":"subscribe",
//                                "channels":[...]} messages)
//   GET  /poll/CH?since=N&wait=S long-poll (S > 0) or interval poll;
//                                JSON {"cursor":"N","events":[...]}
//   POST /pub/CH                 body = event data
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const port = parseInt(process.argv[2] || '8090', 10);
const HISTORY = 100;
const chans = new Map();    // name -> {seq, hist: [[seq, data]], sse: Set, ws: Set, polls: Set}

function chan(name) {
  let c = chans.get(name);
  if (!c) {
    c = { seq: 0, hist: [], sse: new Set(), ws: new Set(), polls: new Set() };
    chans.set(name, c);
  }
  return c;
}

function pollReply(res, c, since) {
  const events = c.hist.filter((e) => e[0] > since).map((e) => e[1]);
  const body = JSON.stringify({ cursor: String(c.seq), events });
  res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache',
                       'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function publish(name, data) {
  const c = chan(name);
  c.seq++;
  c.hist.push([c.seq, data]);
  if (c.hist.length > HISTORY) c.hist.shift();
  const frame = `id: ${c.seq}\ndata: ${data}\n\n`;
  for (const res of c.sse) res.write(frame);
  for (const ws of c.ws) ws.send(data);
  for (const p of c.polls) { clearTimeout(p.timer); pollReply(p.res, c, p.since); }
  c.polls.clear();
  return c.sse.size + c.ws.size;
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  if (req.method === 'POST' && parts[0] === 'pub' && parts[1]) {
    const body = [];
    req.on('data', (d) => body.push(d));
    req.on('end', () => {
      const n = publish(parts[1], Buffer.concat(body).toString());
      const out = JSON.stringify({ subscribers: n });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': out.length });
      res.end(out);
    });
    return;
  }
  if (req.method === 'GET' && parts[0] === 'sse' && parts[1]) {
    const c = chan(parts[1]);
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
                         'Connection': 'keep-alive' });
    res.write(': open\n\n');
    c.sse.add(res);
    req.on('close', () => c.sse.delete(res));
    return;
  }
  if (req.method === 'GET' && parts[0] === 'poll' && parts[1]) {
    const c = chan(parts[1]);
    const s = url.searchParams.get('since');
    const since = s === null || s === '' ? c.seq : parseInt(s, 10) || 0;
    const wait = parseFloat(url.searchParams.get('wait') || '0');
    if (c.seq > since || wait <= 0) return pollReply(res, c, since);
    const p = { res, since };
    p.timer = setTimeout(() => { c.polls.delete(p); pollReply(res, c, since); }, wait * 1000);
    c.polls.add(p);
    req.on('close', () => { clearTimeout(p.timer); c.polls.delete(p); });
    return;
  }
  res.writeHead(404, { 'Content-Length': 0 });
  res.end();
});

const wss = new WebSocketServer({ noServer: true });
server.on('upgrade', (req, sock, head) => {
  const parts = new URL(req.url, 'http://x').pathname.split('/').filter(Boolean);
  if (parts[0] !== 'ws') return sock.destroy();
  wss.handleUpgrade(req, sock, head, (ws) => {
    const mine = new Set();
    const join = (name) => { const c = chan(name); c.ws.add(ws); mine.add(c); };
    if (parts[1]) join(parts[1]);
    ws.on('message', (m) => {
      try {
        const msg = JSON.parse(m);
        if (msg.type === 'subscribe') for (const n of msg.channels || []) join(n);
      } catch (e) { /* ignore */ }
    });
    ws.on('close', () => { for (const c of mine) c.ws.delete(ws); });
  });
});

server.keepAliveTimeout = 120000;
server.headersTimeout = 0;
server.requestTimeout = 0;
server.maxConnections = 100000;
server.listen(port, '127.0.0.1', () => console.log(`node push server on ${port}`));
