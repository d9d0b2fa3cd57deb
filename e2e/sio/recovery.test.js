'use strict';
// Connection state recovery on `bench-peer` (recovery on, 2 min window): a client whose
// transport drops gets back its id and rooms and exactly the broadcasts it missed.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { setTimeout: delay } = require('node:timers/promises');
const { startBenchPeer } = require('../lib/server');
const { MODES, clientFactory, once, waitConnect, record, expectTransport } = require('../lib/client');

const WS = MODES.find((m) => m.name === 'websocket');
// How long to keep listening for duplicates once everything expected has arrived. Waiting
// for time to pass is the behaviour under test here (nothing more must arrive).
const QUIET_MS = 300;

describe('connection state recovery (bench-peer)', () => {
  let server;
  let clients;

  before(async () => {
    server = await startBenchPeer();
    clients = clientFactory(server.url);
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    if (clients) clients.closeAll();
    if (server) await server.stop();
  });

  /**
   * A joins `room`, gets one broadcast (so it holds an offset), its transport is dropped by
   * `drop(A)`, publisher B broadcasts n=1,2,3 (plus one to another room) while A is away, A
   * reconnects on its own and must be recovered with the same id and get n=1,2,3 once, in order.
   */
  async function dropAndRecover(mode, room, drop) {
    const A = clients.socket('/', { ...mode.opts, reconnection: true, reconnectionDelay: 100 });
    await waitConnect(A);
    assert.strictEqual(A.recovered, false, 'a first connection is not a recovered one');
    await expectTransport(assert, A, mode);

    const msgs = record(A, 'msg');
    A.emit('join', room);
    A.emit('bcast', { room, n: 0 }); // same socket, after the join: A receives it
    await msgs.until((xs) => xs.length >= 1, undefined, 'n=0 before the drop');
    assert.deepStrictEqual(msgs.items[0][0], { room, n: 0 });
    assert.equal(typeof msgs.items[0][1], 'string', 'a broadcast carries its offset as last argument');
    const idBefore = A.id;

    const B = await clients.connect('/', {}, WS);
    const bMsgs = record(B, 'msg');
    B.emit('join', room); // B sees its own broadcasts: proof the server handled them

    const disconnected = once(A, 'disconnect', undefined, 'A disconnect');
    const reconnected = once(A, 'connect', 10_000, 'A reconnect');
    drop(A);
    await disconnected;

    B.emit('bcast', { room, n: 1 });
    B.emit('bcast', { room: `${room}-elsewhere`, n: 99 }); // A is not in that room
    B.emit('bcast', { room, n: 2 });
    B.emit('bcast', { room, n: 3 });
    await bMsgs.until((xs) => xs.length >= 3, undefined, 'B receives its 3 broadcasts');

    await reconnected;
    assert.strictEqual(A.recovered, true, 'A.recovered after the reconnection');
    assert.strictEqual(A.id, idBefore, 'A keeps its id');

    await msgs.until((xs) => xs.length >= 4, undefined, 'A receives the missed n=1,2,3');
    // Still in the room after recovery (rooms restored): a live broadcast reaches A, after
    // everything replayed.
    B.emit('bcast', { room, n: 4 });
    await msgs.until((xs) => xs.some((a) => a[0].n === 4), undefined, 'A receives n=4 live');
    await delay(QUIET_MS);

    assert.deepStrictEqual(
      msgs.items.map((a) => a[0].n),
      [0, 1, 2, 3, 4],
      'A receives each broadcast exactly once, in order, and none to other rooms',
    );
    const offsets = msgs.items.map((a) => a[1]);
    assert.ok(offsets.every((o) => typeof o === 'string'), 'every broadcast carries an offset');
    assert.equal(new Set(offsets).size, offsets.length, 'offsets are distinct');
    await expectTransport(assert, A, mode);
    assert.strictEqual(A.connected, true);
  }

  /**
   * B keeps broadcasting n=1,2,3,… to the room, one at a time (each sent when B sees the
   * previous one), while A's transport is dropped and A reconnects: A must end up with every
   * n exactly once and in order, whether it got it live, replayed, or at the seam between both.
   */
  async function recoverUnderTraffic(mode, room) {
    const A = clients.socket('/', { ...mode.opts, reconnection: true, reconnectionDelay: 100 });
    await waitConnect(A);
    await expectTransport(assert, A, mode);
    const msgs = record(A, 'msg');
    A.emit('join', room);
    A.emit('bcast', { room, n: 0 });
    await msgs.until((xs) => xs.length >= 1, undefined, 'n=0');
    const idBefore = A.id;

    const B = await clients.connect('/', {}, WS);
    const MAX = 20_000; // safety stop for the chain
    let stopAt = MAX;
    let lastSent = 0;
    let resolveDone;
    const done = new Promise((r) => { resolveDone = r; });
    B.on('msg', (obj) => {
      if (obj.room !== room) return;
      if (obj.n >= stopAt || obj.n >= MAX) return resolveDone(obj.n);
      lastSent = obj.n + 1;
      B.emit('bcast', { room, n: lastSent });
    });
    B.emit('join', room);
    lastSent = 1;
    B.emit('bcast', { room, n: 1 });

    await msgs.until((xs) => xs.length >= 20, undefined, 'A receives live traffic');
    const reconnected = once(A, 'connect', 10_000, 'A reconnect');
    A.io.engine.close();
    await reconnected;
    assert.strictEqual(A.recovered, true, 'A.recovered after the reconnection');
    assert.strictEqual(A.id, idBefore, 'A keeps its id');
    stopAt = lastSent + 50; // keep the chain going a bit past the reconnection

    const last = await Promise.race([done, once(B, 'disconnect', 20_000, 'chain end').then(() => -1)]);
    assert.ok(last >= stopAt && last < MAX, `chain ended at ${last}`);
    await msgs.until((xs) => xs.length > 0 && xs[xs.length - 1][0].n >= last, 10_000, `A receives up to n=${last}`);
    await delay(QUIET_MS);
    const ns = msgs.items.map((a) => a[0].n);
    const expected = Array.from({ length: last + 1 }, (_, i) => i);
    if (JSON.stringify(ns) !== JSON.stringify(expected)) {
      const seen = new Map();
      for (const n of ns) seen.set(n, (seen.get(n) || 0) + 1);
      const missing = expected.filter((n) => !seen.has(n));
      const dups = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
      const outOfOrder = ns.findIndex((n, i) => i > 0 && n <= ns[i - 1]);
      assert.fail(
        `A got ${ns.length} msgs for n=0..${last}: missing [${missing.slice(0, 20)}]${missing.length > 20 ? '…' : ''}, ` +
          `duplicated [${dups.slice(0, 20)}], first out-of-order index ${outOfOrder}` +
          (outOfOrder > 0 ? ` (${ns[outOfOrder - 1]} then ${ns[outOfOrder]})` : ''),
      );
    }
  }

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('engine.close(): recovered, same id, missed broadcasts exactly once in order', { timeout: 30_000 }, async () => {
        await dropAndRecover(mode, `rec-${mode.name}-close`, (A) => A.io.engine.close());
      });

      it('drop and recovery under continuous broadcast traffic: no gap, no duplicate', { timeout: 30_000 }, async () => {
        await recoverUnderTraffic(mode, `rec-${mode.name}-traffic`);
      });

      if (mode.final === 'websocket') {
        it('abrupt TCP drop of the WebSocket: recovered the same way', { timeout: 30_000 }, async () => {
          await dropAndRecover(mode, `rec-${mode.name}-tcp`, (A) => {
            const ws = A.io.engine.transport.ws;
            assert.ok(ws && ws._socket, 'ws client exposes its TCP socket');
            ws._socket.destroy();
          });
        });
      }

      it('a brand-new client is not recovered', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        assert.strictEqual(s.recovered, false);
        assert.equal(typeof s.id, 'string');
      });

      it('after an explicit client disconnect() the next connect() is not recovered', { timeout: 15_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const msgs = record(s, 'msg');
        const room = `rec-${mode.name}-explicit`;
        s.emit('join', room);
        s.emit('bcast', { room, n: 0 }); // so that the client holds a pid and an offset
        await msgs.until((xs) => xs.length >= 1);
        const idBefore = s.id;
        s.disconnect();
        s.connect();
        await waitConnect(s);
        assert.strictEqual(s.recovered, false, 'a client-initiated disconnect is not recoverable');
        assert.notEqual(s.id, idBefore, 'a new session id');
      });
    });
  }
});
