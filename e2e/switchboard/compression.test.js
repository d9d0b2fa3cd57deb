'use strict';
// permessage-deflate (RFC 7692) with the official socket.io-client over WebSocket (Node's
// `ws` offers the extension by default): off unless SWITCHBOARD_COMPRESSION=1; with it on,
// a 4 KB KPI payload published to a room of several clients arrives intact and costs at
// least 3x fewer bytes on the wire than with compression off. The bytes are counted by a
// TCP forwarder between the clients and each server.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const net = require('node:net');
const { startSwitchboard } = require('../lib/server');
const { clientFactory, waitConnect, DEFAULT_TIMEOUT_MS } = require('../lib/client');
const { api, recordAll, emitAck, sameJson } = require('../lib/switchboard');

const ANSWER = 'permessage-deflate; server_no_context_takeover; client_no_context_takeover';
const CLIENTS = 5;

/** A KPI list (what `kpi:update:*` carries) of about `bytes` bytes of JSON. */
function kpiPayload(bytes, seed) {
  let x = seed >>> 0 || 1;
  const rnd = () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 4294967296;
  };
  const modules = ['finance', 'hr', 'crm', 'security', 'elearning', 'rehab', 'reports'];
  const labels = ['Revenue', 'Expenses', 'Margin', 'Headcount', 'Attrition', 'Open roles', 'Pipeline', 'Win rate', 'Incidents', 'Uptime'];
  const out = [];
  for (let i = 0; JSON.stringify(out).length < bytes; i++) {
    const m = modules[i % modules.length];
    const label = labels[i % labels.length];
    const base = Math.round(rnd() * 100000) / 10;
    out.push({
      id: `${m}-${label.toLowerCase().replace(/ /g, '-')}-${i}`,
      label: `${label} (${m})`,
      value: base,
      previousValue: Math.round(base * (0.9 + rnd() * 0.2) * 10) / 10,
      trend: ['up', 'down', 'flat'][Math.floor(rnd() * 3)],
      status: ['success', 'warning', 'info', 'danger'][Math.floor(rnd() * 4)],
      updatedAt: new Date(Date.UTC(2026, 11, 6, 3, 0, Math.floor(rnd() * 60))).toISOString(),
      chart: Array.from({ length: 8 }, () => Math.round(base * (0.8 + rnd() * 0.4))),
    });
  }
  return out;
}

/** A TCP forwarder to `target` (a URL) counting the bytes the server sends (`down`). */
function forwarder(target) {
  const { hostname, port } = new URL(target);
  const conns = new Set();
  const f = { down: 0, up: 0, url: null };
  const srv = net.createServer((client) => {
    const upstream = net.connect(Number(port), hostname);
    conns.add(client).add(upstream);
    upstream.on('data', (b) => { f.down += b.length; });
    client.on('data', (b) => { f.up += b.length; });
    client.pipe(upstream);
    upstream.pipe(client);
    const end = () => { client.destroy(); upstream.destroy(); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  f.start = () => new Promise((resolve) => srv.listen(0, '127.0.0.1', () => {
    f.url = `http://127.0.0.1:${srv.address().port}`;
    resolve(f);
  }));
  f.stop = () => new Promise((resolve) => {
    for (const c of conns) c.destroy();
    srv.close(() => resolve());
  });
  return f;
}

/** The `Sec-WebSocket-Extensions` answer to a raw upgrade offering permessage-deflate. */
function upgradeAnswer(url) {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/socket.io/?EIO=4&transport=websocket`, {
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits',
      },
      signal: AbortSignal.timeout(DEFAULT_TIMEOUT_MS),
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.headers['sec-websocket-extensions']);
    });
    req.on('response', (res) => reject(new Error(`no upgrade: HTTP ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

describe('permessage-deflate (SPEC §7)', () => {
  const servers = {}; // off / on: { sb, fwd, clients, http }

  before(async () => {
    for (const [name, extraEnv] of [['off', {}], ['on', { SWITCHBOARD_COMPRESSION: '1' }]]) {
      const sb = await startSwitchboard({ extraEnv });
      const fwd = await forwarder(sb.url).start();
      servers[name] = { sb, fwd, clients: clientFactory(fwd.url), http: api(sb.url) };
    }
  });
  afterEach(async () => {
    for (const s of Object.values(servers)) {
      s.clients.closeAll();
      await s.http.waitIdle();
    }
  });
  after(async () => {
    for (const s of Object.values(servers)) {
      s.clients.closeAll();
      await s.fwd.stop();
      await s.sb.stop();
    }
  });

  it('is off by default: no extension in the handshake response; on with SWITCHBOARD_COMPRESSION=1', { timeout: 15_000 }, async () => {
    assert.equal(await upgradeAnswer(servers.off.sb.url), undefined);
    assert.equal(await upgradeAnswer(servers.on.sb.url), ANSWER);
    // The official client (ws in Node) offers it and takes the answer, no context takeover
    // either way.
    for (const [name, expected] of [['off', ''], ['on', 'permessage-deflate']]) {
      const s = servers[name].clients.socket('/', { transports: ['websocket'] });
      await waitConnect(s);
      assert.equal(s.io.engine.transport.name, 'websocket');
      const ws = s.io.engine.transport.ws;
      assert.equal(ws.extensions, expected, name);
      if (expected) {
        const { params } = ws._extensions['permessage-deflate'];
        assert.equal(params.server_no_context_takeover, true);
        assert.equal(params.client_no_context_takeover, true);
      }
    }
  });

  it('a 4 KB KPI payload to a room of several clients arrives intact with >= 3x fewer bytes on the wire', { timeout: 30_000 }, async (t) => {
    const payloads = [1, 2, 3].map((seed) => kpiPayload(4096, seed));
    const down = {};
    for (const name of ['off', 'on']) {
      const srv = servers[name];
      const recs = [];
      for (let i = 0; i < CLIENTS; i++) {
        const s = srv.clients.socket('/', { transports: ['websocket'] });
        recs.push(recordAll(s));
        await waitConnect(s);
        const ack = await emitAck(s, 'module:subscribe', { moduleKey: 'finance' });
        assert.deepStrictEqual(ack, { success: true, room: 'module:finance' });
      }
      await srv.http.waitRoom('module:finance', CLIENTS);
      const isFeed = (i) => i.event === 'kpi:update:finance' && i.args[0].length > 10;
      const start = srv.fwd.down;
      for (const data of payloads) {
        await srv.http.publish({ event: 'kpi:update:finance', data, rooms: ['module:finance'] });
      }
      for (const rec of recs) {
        const got = await rec.until((xs) => xs.filter(isFeed).length === payloads.length, `${name}: 3 KPI payloads`);
        const feed = got.filter(isFeed).map((i) => i.args[0]);
        feed.forEach((d, k) => assert.ok(sameJson(d, payloads[k]), `${name}: payload ${k} intact`));
      }
      down[name] = srv.fwd.down - start;
      srv.clients.closeAll();
      await srv.http.waitIdle();
    }
    t.diagnostic(`bytes on the wire for ${payloads.length} x ${CLIENTS} deliveries: off ${down.off}, on ${down.on} (${(down.off / down.on).toFixed(2)}x fewer)`);
    const sent = payloads.reduce((n, p) => n + JSON.stringify(p).length, 0) * CLIENTS;
    assert.ok(down.off >= sent, `off: ${down.off} bytes for ${sent} bytes of payload`);
    assert.ok(
      down.off >= 3 * down.on,
      `bytes on the wire: off ${down.off}, on ${down.on} (${(down.off / down.on).toFixed(2)}x), want >= 3x`,
    );
  });

  it('compressed client messages are accepted (the client compresses from 1 KB on)', { timeout: 15_000 }, async () => {
    const srv = servers.on;
    const s = srv.clients.socket('/', { transports: ['websocket'] });
    await waitConnect(s);
    const before = (await srv.http.stats()).counters.deflated_messages_in;
    // clientInfo is stored on the connection record; 3 KB is over ws's 1 KB threshold.
    const info = { app: 'erp', notes: 'x'.repeat(3000) };
    s.emit('clientInfo', info);
    const ack = await emitAck(s, 'module:subscribe', { moduleKey: 'finance', pad: 'y'.repeat(2000) });
    assert.deepStrictEqual(ack, { success: true, room: 'module:finance' });
    const st = await srv.http.stats();
    assert.ok(st.counters.deflated_messages_in >= before + 2, `deflated_messages_in ${before} -> ${st.counters.deflated_messages_in}`);
    assert.ok(s.connected);
  });
});
