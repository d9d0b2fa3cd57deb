'use strict';
// Interop on one Redis stream: a Node socket.io 4.8 server with the real
// @socket.io/redis-streams-adapter and a switchboard node exchange room broadcasts both
// ways (with `except`); entries in @socket.io/redis-streams-emitter's format (written
// here with the `redis` client, as the emitter is not in the registry we reach) reach
// switchboard clients.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { createClient } = require('redis');
const { startServer } = require('../lib/server');
const { clientFactory, waitConnect } = require('../lib/client');
const { api, recordAll, emitAck } = require('../lib/switchboard');
const { cluster, quiet, REDIS_URL } = require('./helpers');

const WS = { transports: ['websocket'] };

describe('cluster interop with Node socket.io + @socket.io/redis-streams-adapter', () => {
  const run = `i${process.pid}${Date.now() % 100000}`;
  const stream = `${run}:stream`;
  let sb;
  let nodeSrv;
  let sbClients;
  let nodeClients;
  let redis;

  before(async () => {
    [sb] = await cluster(1, { run });
    nodeSrv = await startServer('node-socket.io', {
      bin: process.execPath,
      args: () => [path.join(__dirname, 'node-server.js')],
      env: (port) => ({ PORT: String(port), REDIS_URL, STREAM: stream }),
      ready: /node listening/,
    });
    sbClients = clientFactory(sb.url);
    nodeClients = clientFactory(nodeSrv.url);
    redis = createClient({ url: REDIS_URL });
    await redis.connect();
  });
  afterEach(() => {
    sbClients.closeAll();
    nodeClients.closeAll();
  });
  after(async () => {
    if (redis) await redis.quit();
    if (sb) await sb.stop();
    if (nodeSrv) await nodeSrv.stop();
  });

  async function sbSub(...modules) {
    const s = sbClients.socket('/', WS);
    await waitConnect(s);
    const rec = recordAll(s);
    for (const m of modules) assert.equal((await emitAck(s, 'module:subscribe', { moduleKey: m })).success, true);
    return { s, rec };
  }
  async function nodeSub(...rooms) {
    const s = nodeClients.socket('/', WS);
    await waitConnect(s);
    const rec = recordAll(s);
    for (const r of rooms) assert.equal(await emitAck(s, 'join', r), true);
    return { s, rec };
  }

  it('switchboard → Node: a publish reaches the Node server\'s room members, except honoured', async () => {
    const n1 = await nodeSub(`module:${run}a`);
    const n2 = await nodeSub(`module:${run}a`, 'skip-me');
    const local = await sbSub(`${run}a`);
    await api(sb.url).publish({ rooms: [`module:${run}a`], except: ['skip-me'], event: 'hello', data: { from: 'sb', n: 1 } });
    await n1.rec.until((xs) => xs.some((x) => x.event === 'hello'), 'hello on the Node server');
    await local.rec.until((xs) => xs.some((x) => x.event === 'hello'), 'hello on switchboard');
    await quiet();
    assert.deepStrictEqual(n1.rec.of('hello').map((x) => x.args[0]), [{ from: 'sb', n: 1 }]);
    assert.deepStrictEqual(n2.rec.of('hello'), [], 'except across servers');
    assert.deepStrictEqual(local.rec.of('hello').map((x) => x.args[0]), [{ from: 'sb', n: 1 }]);
  });

  it('Node → switchboard: io.to(room).except(room).emit reaches switchboard clients once', async () => {
    const a = await sbSub(`${run}b`);
    const b = await sbSub(`${run}b`, `${run}skip`);
    const pub = await nodeSub();
    assert.equal(await emitAck(pub.s, 'pub', { rooms: [`module:${run}b`], except: [`module:${run}skip`], event: 'from-node', data: { x: [1, 2] } }), true);
    await a.rec.until((xs) => xs.some((x) => x.event === 'from-node'), 'from-node');
    await quiet();
    assert.equal(a.rec.of('from-node').length, 1);
    assert.deepStrictEqual(a.rec.of('from-node')[0].args[0], { x: [1, 2] });
    assert.match(a.rec.of('from-node')[0].args.at(-1), /^\d+-\d+$/, 'with its stream id as offset');
    assert.deepStrictEqual(b.rec.of('from-node'), []);
  });

  it("an entry in the emitter's format (uid \"emitter\") reaches switchboard clients", async () => {
    const a = await sbSub(`${run}c`);
    const data = { packet: { type: 2, data: ['emitted', { ok: true }, 'two'], nsp: '/' }, opts: { rooms: [`module:${run}c`], flags: {}, except: [] } };
    await redis.sendCommand(['XADD', stream, 'MAXLEN', '~', '10000', '*', 'uid', 'emitter', 'nsp', '/', 'type', '3', 'data', JSON.stringify(data)]);
    await a.rec.until((xs) => xs.some((x) => x.event === 'emitted'), 'emitted');
    assert.deepStrictEqual(a.rec.of('emitted')[0].args.slice(0, 2), [{ ok: true }, 'two']);
    // and a heartbeat-like entry of another type, or another namespace, is skipped
    await redis.sendCommand(['XADD', stream, '*', 'uid', 'x', 'nsp', '/', 'type', '2']);
    await redis.sendCommand(['XADD', stream, '*', 'uid', 'x', 'nsp', '/admin', 'type', '3', 'data', JSON.stringify(data)]);
    const stats = await api(sb.url).statsUntil((s) => s.counters.bus_skipped >= 2, 'two skipped entries');
    assert.ok(stats.counters.bus_skipped >= 2);
    await quiet();
    assert.equal(a.rec.of('emitted').length, 1);
  });
});
