'use strict';
// Event echo (text + binary attachments) and acknowledgements against `conformance socketio`.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startConformance } = require('../lib/server');
const { MODES, clientFactory, once, withTimeout, expectTransport, record } = require('../lib/client');

/** Deep equality that compares binary attachments byte for byte (as Buffers). */
function assertSameArgs(actual, expected) {
  assert.equal(actual.length, expected.length, 'argument count');
  const norm = (v) => {
    if (Buffer.isBuffer(v)) return { __bin: v.toString('hex') };
    if (v instanceof ArrayBuffer) return { __bin: Buffer.from(v).toString('hex') };
    if (ArrayBuffer.isView(v)) return { __bin: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex') };
    if (Array.isArray(v)) return v.map(norm);
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, norm(x)]));
    return v;
  };
  assert.deepStrictEqual(norm(actual), norm(expected));
}

function bytes(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe('messages and acks', () => {
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
      // In the upgrading mode each exchange runs twice: right after connect (polling,
      // possibly while the upgrade is in flight) and again after the `upgrade` event.
      async function twice(s, fn) {
        await fn('first');
        await expectTransport(assert, s, mode);
        if (mode.upgrade) await fn('after upgrade');
      }

      it('echoes mixed arguments including a Buffer', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const args = [1, 'two', { three: [3, 'x'] }, Buffer.from([0, 1, 2, 253, 254, 255]), null, true, 4.5];
        await twice(s, async (phase) => {
          const back = once(s, 'message-back', undefined, `message-back (${phase})`);
          s.emit('message', ...args);
          const got = await back;
          assert.ok(Buffer.isBuffer(got[3]), `binary arrives as a Buffer, got ${Object.prototype.toString.call(got[3])}`);
          assertSameArgs(got, args);
        });
      });

      it('echoes several and nested Buffers, an empty one and a 64 KiB one', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const args = [
          bytes(16, 1),
          { nested: { bin: bytes(3, 2), list: [bytes(1, 3), 'text', bytes(5, 4)] } },
          Buffer.alloc(0),
          bytes(64 * 1024, 5),
          'tail',
        ];
        await twice(s, async (phase) => {
          const back = once(s, 'message-back', undefined, `message-back (${phase})`);
          s.emit('message', ...args);
          assertSameArgs(await back, args);
        });
      });

      it('echoes non-ASCII text and separator-like characters intact', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const args = ['héllo wörld ✓ 🎉 日本語', 'record\u001eseparator', 'quote " backslash \\ newline \n', { 'ключ': 'значение' }];
        await twice(s, async (phase) => {
          const back = once(s, 'message-back', undefined, `message-back (${phase})`);
          s.emit('message', ...args);
          assertSameArgs(await back, args);
        });
      });

      it('echoes many messages in order', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const backs = record(s, 'message-back');
        const N = 200;
        for (let i = 0; i < N; i++) s.emit('message', i, i % 10 === 0 ? Buffer.from([i & 0xff]) : `m${i}`);
        const items = await backs.until((xs) => xs.length >= N, 10_000, `${N} message-back`);
        assert.deepStrictEqual(items.map((a) => a[0]), Array.from({ length: N }, (_, i) => i));
        for (let i = 0; i < N; i += 10) assertSameArgs(items[i], [i, Buffer.from([i & 0xff])]);
        await expectTransport(assert, s, mode);
      });

      it('ack callback receives the same arguments', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        await twice(s, async (phase) => {
          const acked = withTimeout(
            new Promise((resolve) => s.emit('message-with-ack', 1, { a: 2 }, (...args) => resolve(args))),
            5_000,
            `ack (${phase})`,
          );
          assert.deepStrictEqual(await acked, [1, { a: 2 }]);
        });
      });

      it('ack carries binary arguments', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const args = ['bin', Buffer.from([9, 8, 7, 0, 255]), { b: Buffer.from('xyz') }];
        await twice(s, async (phase) => {
          const acked = withTimeout(
            new Promise((resolve) => s.emit('message-with-ack', ...args, (...a) => resolve(a))),
            5_000,
            `binary ack (${phase})`,
          );
          assertSameArgs(await acked, args);
        });
      });

      it('timeout(2000).emitWithAck resolves with the acked value', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        await twice(s, async () => {
          // with a timeout flag emitWithAck resolves with the first acked argument
          assert.deepStrictEqual(await s.timeout(2000).emitWithAck('message-with-ack', { x: [1, 2, 3] }), { x: [1, 2, 3] });
          assert.equal(await s.timeout(2000).emitWithAck('message-with-ack', 'plain'), 'plain');
          // and the error-first callback form receives (null, ...args)
          const cbArgs = await withTimeout(
            new Promise((resolve) => s.timeout(2000).emit('message-with-ack', 7, 'eight', (...a) => resolve(a))),
            5_000,
            'timeout() ack callback',
          );
          assert.deepStrictEqual(cbArgs, [null, 7, 'eight']);
        });
      });

      it('100 concurrent acks each resolve with their own arguments', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const N = 100;
        const results = await Promise.all(
          Array.from({ length: N }, (_, i) => s.timeout(5000).emitWithAck('message-with-ack', { i })),
        );
        assert.deepStrictEqual(results, Array.from({ length: N }, (_, i) => ({ i })));
        await expectTransport(assert, s, mode);
      });
    });
  }
});
