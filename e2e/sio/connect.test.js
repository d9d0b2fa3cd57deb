'use strict';
// Connection, handshake auth and namespaces against `conformance socketio`.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startConformance } = require('../lib/server');
const { MODES, clientFactory, once, waitConnect, expectTransport } = require('../lib/client');

describe('connect, auth and namespaces', () => {
  let server;
  let clients;

  before(async () => {
    server = await startConformance();
    clients = clientFactory(server.url);
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    if (clients) clients.closeAll();
    if (server) await server.stop();
  });

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('connects to / and the server echoes the handshake auth', { timeout: 15_000 }, async () => {
        const s = clients.socket('/', { ...mode.opts, auth: { token: 'abc' } });
        const auth = once(s, 'auth');
        await waitConnect(s);
        assert.equal(typeof s.id, 'string');
        assert.ok(s.id.length > 0);
        assert.deepStrictEqual(await auth, [{ token: 'abc' }]);
        await expectTransport(assert, s, mode);
      });

      it('connects to the custom namespace /custom', { timeout: 15_000 }, async () => {
        const s = clients.socket('/custom', { ...mode.opts, auth: { token: 'xyz', n: 1, nested: { ok: true } } });
        const auth = once(s, 'auth');
        await waitConnect(s);
        assert.equal(s.nsp, '/custom');
        assert.deepStrictEqual(await auth, [{ token: 'xyz', n: 1, nested: { ok: true } }]);
        await expectTransport(assert, s, mode);
      });

      it('multiplexes / and /custom over one connection, each with its own auth', { timeout: 15_000 }, async () => {
        const root = clients.socket('/', { ...mode.opts, auth: { token: 'root' } });
        const rootAuth = once(root, 'auth');
        await waitConnect(root);
        const custom = clients.multiplex(root, '/custom', { auth: { token: 'custom' } });
        const customAuth = once(custom, 'auth');
        await waitConnect(custom);
        assert.strictEqual(custom.io, root.io, 'both sockets share one Manager');
        assert.deepStrictEqual(await rootAuth, [{ token: 'root' }]);
        assert.deepStrictEqual(await customAuth, [{ token: 'custom' }]);
        assert.notEqual(custom.id, root.id);
        await expectTransport(assert, root, mode);
      });

      it('unknown namespace /nope gives connect_error "Invalid namespace"', { timeout: 15_000 }, async () => {
        const s = clients.socket('/nope', mode.opts);
        const connected = new Promise((_, reject) => s.once('connect', () => reject(new Error('connected to /nope'))));
        const [err] = await Promise.race([once(s, 'connect_error'), connected]);
        assert.ok(err instanceof Error);
        assert.equal(err.message, 'Invalid namespace');
        assert.equal(s.connected, false);
      });

      it('an unknown namespace does not break / on the same connection', { timeout: 15_000 }, async () => {
        const root = clients.socket('/', mode.opts);
        await waitConnect(root);
        const bad = clients.multiplex(root, '/nope');
        const [err] = await once(bad, 'connect_error');
        assert.equal(err.message, 'Invalid namespace');
        // the root socket still works: a round trip through the echo handler
        const back = once(root, 'message-back');
        root.emit('message', 'still here');
        assert.deepStrictEqual(await back, ['still here']);
        assert.equal(root.connected, true);
      });
    });
  }
});
