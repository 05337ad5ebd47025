// The GRIP backend Pushpin needs (Pushpin proxies every subscription to
// it and keeps no history).  Node, one process, native http.
//
//   node pushpin_backend.js PORT PUSHPIN_PUBLISH_URL
//   GET  /sse/CH                  Grip-Hold: stream on channel CH
//   POST /ws/CH                   WebSocket-over-HTTP: OPEN -> subscribe CH
//   GET  /poll/CH?since=N&wait=S  events after N at once, else (S > 0)
//                                 Grip-Hold: response for S seconds
//   POST /pub/CH                  keep the event (history for polls) and
//                                 publish it to Pushpin in all formats
'use strict';
const http = require('http');

const port = parseInt(process.argv[2], 10);
const pubUrl = new URL(process.argv[3]);
const HISTORY = 100;
const chans = new Map();
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function chan(name) {
  let c = chans.get(name);
  if (!c) { c = { seq: 0, hist: [] }; chans.set(name, c); }
  return c;
}

function send(res, code, body, headers) {
  res.writeHead(code, Object.assign({ 'Content-Length': Buffer.byteLength(body) }, headers));
  res.end(body);
}

function pollBody(c, since) {
  return JSON.stringify({ cursor: String(c.seq),
                          events: c.hist.filter((e) => e[0] > since).map((e) => e[1]) }) + '\n';
}

http.createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  const parts = url.pathname.split('/').filter(Boolean);
  const body = [];
  req.on('data', (d) => body.push(d));
  req.on('end', () => {
    const data = Buffer.concat(body).toString();
    if (req.method === 'GET' && parts[0] === 'sse' && parts[1]) {
      return send(res, 200, ': open\n\n', {
        'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache',
        'Grip-Hold': 'stream', 'Grip-Channel': parts[1],
        'Grip-Keep-Alive': ':\\n\\n; format=cstring; timeout=20' });
    }
    if (req.method === 'POST' && parts[0] === 'ws' && parts[1]) {
      let out = '';
      if (data.startsWith('OPEN')) {
        const ctl = 'c:' + JSON.stringify({ type: 'subscribe', channel: parts[1] });
        out = 'OPEN\r\nTEXT ' + Buffer.byteLength(ctl).toString(16) + '\r\n' + ctl + '\r\n';
      }
      return send(res, 200, out, { 'Content-Type': 'application/websocket-events',
                                   'Sec-WebSocket-Extensions': 'grip' });
    }
    if (req.method === 'GET' && parts[0] === 'poll' && parts[1]) {
      const c = chan(parts[1]);
      const s = url.searchParams.get('since');
      const since = s === null || s === '' ? c.seq : parseInt(s, 10) || 0;
      const wait = parseInt(url.searchParams.get('wait') || '0', 10);
      const h = { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache' };
      if (c.seq > since || wait <= 0) return send(res, 200, pollBody(c, since), h);
      return send(res, 200, pollBody(c, since), Object.assign(h, {
        'Grip-Hold': 'response', 'Grip-Channel': parts[1], 'Grip-Timeout': String(wait) }));
    }
    if (req.method === 'POST' && parts[0] === 'pub' && parts[1]) {
      const c = chan(parts[1]);
      c.seq++;
      c.hist.push([c.seq, data]);
      if (c.hist.length > HISTORY) c.hist.shift();
      const item = { channel: parts[1], formats: {
        'http-stream': { content: `id: ${c.seq}\nevent: message\ndata: ${data}\n\n` },
        'ws-message': { content: data },
        'http-response': { body: JSON.stringify({ cursor: String(c.seq), events: [data] }) + '\n' } } };
      const payload = JSON.stringify({ items: [item] });
      const p = http.request({ agent, host: pubUrl.hostname, port: pubUrl.port, path: pubUrl.pathname,
                               method: 'POST', headers: { 'Content-Type': 'application/json',
                               'Content-Length': Buffer.byteLength(payload) } }, (r) => {
        r.resume();
        r.on('end', () => send(res, r.statusCode === 200 ? 200 : 502, `{"seq":${c.seq}}\n`,
                               { 'Content-Type': 'application/json' }));
      });
      p.on('error', () => send(res, 502, 'publish failed\n', {}));
      p.end(payload);
      return;
    }
    send(res, 404, 'not found\n', {});
  });
}).listen({ port, host: '127.0.0.1', backlog: 4096 }, () => console.log(`grip backend on ${port}`));
