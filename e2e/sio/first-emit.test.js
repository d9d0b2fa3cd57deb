'use strict';
// "The first emit is never lost": 200 clients of `bench-peer` each emit `join` inside their
// `connect` handler, i.e. right after the server's CONNECT reply, then one publisher
// broadcasts to the room and every client must get it.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { startBenchPeer } = require('../lib/server');
const { MODES, clientFactory, withTimeout, waitConnect, record, expectTransport } = require('../lib/client');

const N = 200;

describe('first emit after connect is never lost (bench-peer)', () => {
  for (const mode of MODES) {
    describe(mode.name, () => {
      let server;
      let clients;

      before(async () => {
        server = await startBenchPeer(); // fresh server: room 'r' holds only this test's sockets
        clients = clientFactory(server.url);
      });
      afterEach(() => clients.closeAll());
      after(async () => {
        if (clients) clients.closeAll();
        if (server) await server.stop();
      });

      it(`${N} clients emit join('r') in their connect handler; all receive the broadcast`, { timeout: 60_000 }, async () => {
        const sockets = [];
        const recorders = [];
        const connects = [];
        for (let i = 0; i < N; i++) {
          const s = clients.socket('/', mode.opts);
          // the emit under test: the very first packet after the CONNECT reply
          s.on('connect', () => s.emit('join', 'r'));
          recorders.push(record(s, 'msg'));
          connects.push(waitConnect(s, 20_000));
          sockets.push(s);
        }
        await Promise.all(connects);

        // Barrier (no sleep): each client joins a private room and broadcasts to it. The server
        // handles one client's packets in order (see ordering.test.js), so when that private
        // message comes back the earlier join('r') has been handled too — or was lost.
        await withTimeout(
          Promise.all(
            sockets.map((s, i) => {
              s.emit('join', `self-${i}`);
              s.emit('bcast', { room: `self-${i}`, sync: i });
              return recorders[i].until((xs) => xs.some((a) => a[0].sync === i), 20_000, `sync echo of client ${i}`);
            }),
          ),
          25_000,
          'barrier: every client got its private sync message',
        );

        const publisher = await clients.connect('/', {}, mode);
        publisher.emit('bcast', { room: 'r', n: 1 });

        const got = await Promise.allSettled(
          recorders.map((r, i) => r.until((xs) => xs.some((a) => a[0].room === 'r'), 10_000, `client ${i} msg for room r`)),
        );
        const missing = got.map((g, i) => (g.status === 'rejected' ? i : -1)).filter((i) => i >= 0);
        assert.deepStrictEqual(missing, [], `${missing.length}/${N} clients never received the broadcast to 'r' (their first emit, join('r'), was lost)`);

        for (const [i, r] of recorders.entries()) {
          const forR = r.items.filter((a) => a[0].room === 'r');
          assert.equal(forR.length, 1, `client ${i} got the broadcast once`);
          assert.deepStrictEqual(forR[0][0], { room: 'r', n: 1 });
          assert.equal(typeof forR[0][1], 'string', 'recovery is on: a broadcast carries its offset as last argument');
        }
        for (const s of sockets.slice(0, 5)) await expectTransport(assert, s, mode);
      });
    });
  }
});
