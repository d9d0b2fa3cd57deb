// Soak load for bench/soak.sh (issue 12): mixed traffic against one switchboard for
// DURATION seconds, then exit. Bounded in count and time, loopback only.
//
//   - LONG long-lived clients, each subscribed to one of 8 module rooms, reconnecting
//     with connection state recovery when dropped;
//   - churn: CHURN clients per second connect, subscribe, send a clientInfo, and leave —
//     half with a clean disconnect, half abruptly (TCP destroyed, as a closed tab);
//   - every 10 s DROPS long-lived clients are cut abruptly and must come back recovered;
//   - PUBLISH events per second through POST /api/v1/publish to the module rooms, and a
//     32 KB event per second to module:m0;
//   - one slow consumer (a raw WebSocket that subscribes and never reads), re-opened
//     whenever the server disconnects it.
// Prints one JSON line of totals per minute to stdout.
import { createRequire } from 'node:module';
import net from 'node:net';
const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const { io } = require('socket.io-client');

const URL_ = process.env.URL || 'http://127.0.0.1:3301';
const DURATION = Number(process.env.DURATION || 1800) * 1000;
const LONG = Number(process.env.LONG || 200);
const CHURN = Number(process.env.CHURN || 20);
const PUBLISH = Number(process.env.PUBLISH || 50);
const DROPS = Number(process.env.DROPS || 10);
const MODULES = 8;

const t = {
  received: 0, published: 0, publishFailed: 0, churned: 0, churnFailed: 0,
  dropped: 0, recovered: 0, notRecovered: 0, slowOpened: 0,
};
const until = Date.now() + DURATION;

function client(opts = {}) {
  return io(URL_, { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 1000, ...opts });
}

function abrupt(s) {
  const ws = s.io.engine && s.io.engine.transport && s.io.engine.transport.ws;
  if (ws && ws._socket) ws._socket.destroy();
  else s.io.engine.close();
}

// long-lived, recovering clients
const longs = [];
for (let i = 0; i < LONG; i++) {
  const s = client();
  const moduleKey = 'm' + (i % MODULES);
  s.on('connect', () => {
    if (s.recovered) { t.recovered++; return; }
    if (s.wasDropped) t.notRecovered++;
    s.emit('module:subscribe', { moduleKey });
  });
  s.on('kpi:update:' + moduleKey, () => { t.received++; });
  longs.push(s);
}

// churn
const churn = setInterval(() => {
  for (let i = 0; i < CHURN; i++) {
    const s = client({ reconnection: false });
    const k = t.churned + i;
    s.on('connect', () => {
      s.emit('module:subscribe', { moduleKey: 'm' + (k % MODULES) }, () => {
        s.emit('clientInfo', { userAgent: 'soak', n: k }, () => {
          if (k % 2) s.disconnect(); else abrupt(s);
        });
      });
    });
    s.on('connect_error', () => { t.churnFailed++; s.close(); });
  }
  t.churned += CHURN;
}, 1000);

// abrupt drops of long-lived clients (they reconnect and should recover)
const drops = setInterval(() => {
  for (let i = 0; i < DROPS; i++) {
    const s = longs[Math.floor(Math.random() * longs.length)];
    if (s.connected) { s.wasDropped = true; t.dropped++; abrupt(s); }
  }
}, 10000);

// a 32 KB event per second to module:m0, so the slow consumer there outgrows its budget
const bigData = 'x'.repeat(32000);
const big = setInterval(() => {
  fetch(URL_ + '/api/v1/publish', {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ event: 'kpi:update:m0', data: [{ id: 'big', value: bigData }], rooms: ['module:m0'] }),
  }).then((r) => { if (r.ok) t.published++; else t.publishFailed++; }, () => { t.publishFailed++; });
}, 1000);

// publishes
const pub = setInterval(async () => {
  const jobs = [];
  for (let i = 0; i < PUBLISH / 10; i++) {
    const m = 'm' + Math.floor(Math.random() * MODULES);
    jobs.push(fetch(URL_ + '/api/v1/publish', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ event: 'kpi:update:' + m, data: [{ id: 'x', value: Math.random() }], rooms: ['module:' + m] }),
    }).then((r) => { if (r.ok) t.published++; else t.publishFailed++; }, () => { t.publishFailed++; }));
  }
  await Promise.all(jobs);
}, 100);

// the slow consumer
let slow = null;
function openSlow() {
  const u = new URL(URL_);
  const sock = net.connect(Number(u.port), u.hostname, () => {
    sock.write(`GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    const frame = (text) => {
      const p = Buffer.from(text);
      return Buffer.concat([Buffer.from([0x81, 0x80 | p.length, 0, 0, 0, 0]), p]);
    };
    sock.write(frame('40'));
    sock.write(frame('42["module:subscribe",{"moduleKey":"m0"}]'));
    sock.pause(); // never read again
  });
  sock.on('error', () => {});
  // A paused socket never sees the server's close; re-open every 2 min instead (the
  // server drops it by then: slow consumer, or ping timeout as it never answers pings).
  const again = setTimeout(() => { sock.destroy(); if (Date.now() < until) openSlow(); }, 120000);
  sock.on('close', () => clearTimeout(again));
  t.slowOpened++;
  slow = sock;
}
openSlow();

const report = setInterval(() => console.log(JSON.stringify({ at: new Date().toISOString(), ...t })), 60000);

setTimeout(() => {
  for (const h of [churn, drops, pub, big, report]) clearInterval(h);
  for (const s of longs) s.close();
  if (slow) slow.destroy();
  console.log(JSON.stringify({ at: new Date().toISOString(), final: true, ...t }));
  setTimeout(() => process.exit(0), 500);
}, DURATION);
