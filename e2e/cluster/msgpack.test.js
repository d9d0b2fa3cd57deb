'use strict';
// Cluster mode with the msgpack parser (README "Decisions"): the Redis stream keeps the
// redis-streams-adapter format with JSON packets; each node encodes for its msgpack
// clients at delivery time. Two nodes, official socket.io-client with
// socket.io-msgpack-parser: a publish on one node reaches members on both once, and a
// client that dropped recovers on the other node with what it missed (stream offsets).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const msgpackParser = require('socket.io-msgpack-parser');
const { clientFactory, waitConnect, once } = require('../lib/client');
const { api, recordAll, emitAck, marker } = require('../lib/switchboard');
const { cluster, quiet } = require('./helpers');

const OPTS = { transports: ['websocket'], parser: msgpackParser };

describe('cluster: msgpack parser on every node', () => {
  const run = `mp${process.pid}${Date.now() % 100000}`;
  let nodes;
  let clients;

  before(async () => {
    nodes = await cluster(2, { run, extraEnv: { SWITCHBOARD_PARSER: 'msgpack' } });
    clients = nodes.map((n) => clientFactory(n.url));
    for (const n of nodes) {
      await api(n.url).statsUntil((s) => s.cluster.nodes.length === 2, 'two nodes in the registry', 10_000);
    }
  });
  afterEach(() => clients && clients.forEach((c) => c.closeAll()));
  after(async () => {
    if (clients) clients.forEach((c) => c.closeAll());
    for (const n of nodes || []) await n.stop();
  });

  async function member(i, moduleKey) {
    const s = clients[i].socket('/', OPTS);
    const rec = recordAll(s);
    await waitConnect(s);
    assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey }), { success: true, room: `module:${moduleKey}` });
    return { s, rec };
  }

  it('a publish on node A reaches msgpack members on A and B exactly once', { timeout: 20_000 }, async () => {
    const a = await member(0, 'mpc');
    const b = await member(1, 'mpc');
    const m = marker('mpc');
    await api(nodes[0].url).publish({ event: 'mp:c', data: { m, v: [1, 2.5, 'é'] }, rooms: ['module:mpc'] });
    for (const x of [a, b]) await x.rec.first('mp:c', (d) => d.m === m);
    await quiet();
    for (const x of [a, b]) assert.deepStrictEqual(x.rec.of('mp:c').map((i) => i.args[0]), [{ m, v: [1, 2.5, 'é'] }]);
  });

  it('a client that dropped on B recovers on B with what was published on A meanwhile', { timeout: 20_000 }, async () => {
    const b = await member(1, 'mpr');
    const tag = marker('mpr');
    const pub = (i) => api(nodes[0].url).publish({ event: 'mp:r', data: { tag, i }, rooms: ['module:mpr'] });
    await pub(1);
    await b.rec.first('mp:r', (d) => d.i === 1);
    const gone = once(b.s, 'disconnect', 5_000, 'the disconnect');
    b.s.io.engine.close();
    await gone;
    await api(nodes[1].url).waitRoom('module:mpr', 0);
    await pub(2);
    await pub(3);
    b.s.connect();
    await waitConnect(b.s, 10_000);
    assert.equal(b.s.recovered, true, 'recovered');
    await pub(4);
    await b.rec.first('mp:r', (d) => d.i === 4);
    await quiet();
    assert.deepStrictEqual(b.rec.of('mp:r').map((i) => i.args[0].i), [1, 2, 3, 4]);
  });
});
