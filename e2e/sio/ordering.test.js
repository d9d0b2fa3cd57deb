'use strict';
// Packets of one client are handled in the order sent (bench-peer: join / bcast → msg).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startBenchPeer } = require('../lib/server');
const { MODES, clientFactory, record, expectTransport } = require('../lib/client');

const ROOMS = 500;

describe('per-client packet order (bench-peer)', () => {
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

  for (const mode of MODES) {
    describe(mode.name, () => {
      // room names are unique per mode: all modes share one server process
      const room = (i) => `${mode.name}-r${i}`;

      it(`${ROOMS} joins then a bcast to the last room: the sender receives it`, { timeout: 30_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const msgs = record(s, 'msg');
        for (let i = 0; i < ROOMS; i++) s.emit('join', room(i));
        s.emit('bcast', { room: room(ROOMS - 1), n: 1 });

        const items = await msgs.until((xs) => xs.length >= 1, 10_000, `msg to ${room(ROOMS - 1)}`);
        assert.deepStrictEqual(items[0][0], { room: room(ROOMS - 1), n: 1 });
        await expectTransport(assert, s, mode);
      });

      it(`${ROOMS} joins then ${ROOMS} bcasts (one per room): all received, in send order`, { timeout: 30_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const msgs = record(s, 'msg');
        // odd rooms first, so each join is followed later by an unrelated one before its bcast
        const order = [];
        for (let i = 1; i < ROOMS; i += 2) order.push(i);
        for (let i = 0; i < ROOMS; i += 2) order.push(i);
        for (const i of order) s.emit('join', `${room(i)}-b`);
        for (let i = 0; i < ROOMS; i++) s.emit('bcast', { room: `${room(i)}-b`, n: i });

        const items = await msgs.until((xs) => xs.length >= ROOMS, 15_000, `${ROOMS} msgs`);
        assert.deepStrictEqual(items.map((a) => a[0].n), Array.from({ length: ROOMS }, (_, i) => i));
        await expectTransport(assert, s, mode);
      });

      it('join and bcast interleaved: each bcast sees every join sent before it', { timeout: 30_000 }, async () => {
        const s = await clients.connect('/', {}, mode);
        const msgs = record(s, 'msg');
        const K = 200;
        for (let i = 0; i < K; i++) {
          s.emit('join', `${room(i)}-c`);
          s.emit('bcast', { room: `${room(i)}-c`, n: i });
        }
        const items = await msgs.until((xs) => xs.length >= K, 15_000, `${K} msgs`);
        assert.deepStrictEqual(items.map((a) => a[0].n), Array.from({ length: K }, (_, i) => i));
        await expectTransport(assert, s, mode);
      });
    });
  }
});
