'use strict';
// SPEC §6: the socket.io-client browser bundle is served at /socket.io/socket.io.js (like
// Node's `serveClient`), and it is a working client: loaded in a VM context (with `ws` as
// WebSocket and `xmlhttprequest-ssl` as XMLHttpRequest standing in for the browser) it
// connects and talks to the server over both transports. Also GET /health (SPEC §1c).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const vm = require('node:vm');
const path = require('node:path');
const { waitConnect, withTimeout } = require('../lib/client');
const { useSwitchboard, emitAck, isTimestamp } = require('../lib/switchboard');

const CLIENT_VERSION = require('socket.io-client/package.json').version;

describe('served client bundle and /health', () => {
  const ctx = useSwitchboard();

  it('GET /socket.io/socket.io.js is the Socket.IO client bundle', { timeout: 10_000 }, async () => {
    const r = await ctx.http.get('/socket.io/socket.io.js');
    assert.equal(r.status, 200, `HTTP ${r.status}: ${r.text.slice(0, 200)}`);
    assert.match(r.headers.get('content-type') || '', /javascript/);
    assert.ok(r.text.includes('Socket.IO'), 'bundle does not mention "Socket.IO"');
    assert.ok(r.text.includes(`Socket.IO v${CLIENT_VERSION}`), `bundle is not socket.io-client v${CLIENT_VERSION}: ${r.text.slice(0, 80)}`);
    const min = await ctx.http.get('/socket.io/socket.io.min.js');
    assert.equal(min.status, 200);
    assert.equal(min.text, r.text);
  });

  for (const transports of [['websocket'], ['polling']]) {
    it(`the served bundle connects and joins a room over ${transports[0]}`, { timeout: 15_000 }, async () => {
      const code = (await ctx.http.get('/socket.io/socket.io.js')).text;
      const mod = { exports: {} };
      const sandbox = {
        module: mod,
        exports: mod.exports,
        console,
        setTimeout,
        clearTimeout,
        setInterval,
        clearInterval,
        WebSocket: require('ws'),
        XMLHttpRequest: require(path.dirname(require.resolve('xmlhttprequest-ssl/package.json'))),
      };
      vm.runInNewContext(code, sandbox, { filename: 'socket.io.js' });
      const io = mod.exports;
      assert.equal(typeof io, 'function', 'the UMD bundle exports io()');

      const s = io(ctx.server.url, { transports, forceNew: true, reconnection: false, timeout: 5_000 });
      try {
        await waitConnect(s);
        assert.equal(s.io.engine.transport.name, transports[0]);
        // (objects made inside the VM have that realm's prototypes: compare plain copies)
        const plain = (v) => JSON.parse(JSON.stringify(v));
        // listening before subscribing: the subscribe itself answers with the module's
        // current KPIs (SPEC §1a, `[]` here), so wait for the published list specifically
        const m = `bundle-${transports[0]}-${Date.now()}`;
        const got = new Promise((resolve) => {
          s.on('kpi:update:finance', (list) => {
            if (Array.isArray(list) && list.length === 1 && list[0].id === m) resolve(list);
          });
        });
        assert.deepStrictEqual(plain(await emitAck(s, 'module:subscribe', { moduleKey: 'finance' })), { success: true, room: 'module:finance' });
        const d = await ctx.http.publish({ event: 'kpi:update:finance', data: [{ id: m, value: 1 }], rooms: ['module:finance'] });
        assert.equal(d.recipients, 1);
        assert.deepStrictEqual(plain(await withTimeout(got, 5_000, 'kpi:update:finance via the served bundle')), [{ id: m, value: 1 }]);
      } finally {
        s.disconnect();
      }
    });
  }

  it('GET /health answers the SPEC §1c envelope', { timeout: 10_000 }, async () => {
    const r = await ctx.http.get('/health');
    assert.equal(r.status, 200);
    assert.deepStrictEqual(Object.keys(r.json).sort(), ['data', 'success']);
    assert.equal(r.json.success, true);
    const d = r.json.data;
    assert.equal(d.status, 'healthy');
    assert.equal(d.service, 'switchboard');
    assert.equal(d.websocket, 'enabled');
    assert.ok(isTimestamp(d.timestamp), `timestamp: ${d.timestamp}`);
  });
});
