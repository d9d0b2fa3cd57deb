'use strict';
// Cluster mode (README "Running a cluster"): three switchboard processes on one Redis
// stream (the system Redis, a key prefix and stream of their own) and one PostgreSQL
// database (created for this file), driven with the official socket.io-client.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const { startSwitchboard } = require('../lib/server');
const { clientFactory, waitConnect, once } = require('../lib/client');
const { api, recordAll, emitAck, jwtArgs, mintToken, sleep } = require('../lib/switchboard');
const { cluster, freshDatabase, dropDatabase, quiet } = require('./helpers');

const WS = { transports: ['websocket'] };

describe('cluster: three nodes, one set of rooms', () => {
  const run = `c${process.pid}${Date.now() % 100000}`;
  let db;
  let nodes;
  let clients;

  before(async () => {
    db = freshDatabase(run);
    nodes = await cluster(3, { run, db, extraArgs: jwtArgs(), extraEnv: { SWITCHBOARD_KPI_INTERVAL_MS: '400' } });
    clients = nodes.map((n) => clientFactory(n.url));
    // every node sees all three in the registry
    for (const n of nodes) {
      await api(n.url).statsUntil((s) => s.cluster.nodes.length === 3, 'three nodes in the registry', 10_000);
    }
  });
  afterEach(() => clients && clients.forEach((c) => c.closeAll()));
  after(async () => {
    if (clients) clients.forEach((c) => c.closeAll());
    for (const n of nodes || []) await n.stop();
    if (db) dropDatabase(db);
  });

  /** A socket on node `i`, subscribed to `moduleKey`, recording everything. */
  async function subscriber(i, moduleKey, opts = {}) {
    const s = clients[i].socket('/', { ...WS, ...opts });
    await waitConnect(s);
    const rec = recordAll(s);
    if (moduleKey) {
      assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey }), { success: true, room: `module:${moduleKey}` });
    }
    return { s, rec };
  }

  it('a publish through A reaches the room on A, B and C exactly once, and no one else', async () => {
    const members = [await subscriber(0, 'm1'), await subscriber(1, 'm1'), await subscriber(2, 'm1')];
    const outsider = await subscriber(1, 'm2');
    const A = api(nodes[0].url);
    for (let n = 1; n <= 5; n++) {
      await A.publish({ rooms: ['module:m1'], event: 'tick', data: { n } });
    }
    for (const m of members) {
      await m.rec.until((xs) => xs.filter((x) => x.event === 'tick').length >= 5, 'five ticks');
    }
    await quiet();
    for (const m of members) {
      const got = m.rec.of('tick').map((x) => x.args[0].n);
      assert.deepStrictEqual(got, [1, 2, 3, 4, 5], 'each once, in order');
      // the last argument is the stream id: the same offset on every node
      assert.match(m.rec.of('tick')[0].args.at(-1), /^\d+-\d+$/);
    }
    assert.deepStrictEqual(members.map((m) => m.rec.of('tick')[4].args.at(-1)), Array(3).fill(members[0].rec.of('tick')[4].args.at(-1)));
    assert.deepStrictEqual(outsider.rec.of('tick'), []);
  });

  it('except and batch publish hold across nodes', async () => {
    const onA = await subscriber(0, 'm3');
    const onB = await subscriber(1, 'm3');
    const onC = await subscriber(2, 'm3');
    await emitAck(onC.s, 'module:subscribe', { moduleKey: 'skip' });
    const B = api(nodes[1].url);
    await B.publish({ rooms: ['module:m3'], event: 'x', data: { k: 1 }, except: ['module:skip'] });
    await B.publish([
      { rooms: ['module:m3'], event: 'y', data: { k: 2 } },
      { rooms: ['module:m3'], event: 'y', data: { k: 3 } },
    ]);
    for (const m of [onA, onB, onC]) await m.rec.until((xs) => xs.filter((x) => x.event === 'y').length >= 2, 'the batch');
    await quiet();
    assert.deepStrictEqual(onA.rec.of('x').map((x) => x.args[0]), [{ k: 1 }]);
    assert.deepStrictEqual(onB.rec.of('x').map((x) => x.args[0]), [{ k: 1 }]);
    assert.deepStrictEqual(onC.rec.of('x'), [], 'except on another node');
    for (const m of [onA, onB, onC]) assert.deepStrictEqual(m.rec.of('y').map((x) => x.args[0].k), [2, 3]);
  });

  it('a KPI PUT on A updates subscribers on B and the snapshot on C', async () => {
    const onB = await subscriber(1, 'fin');
    const r = await api(nodes[0].url).put('/api/v1/modules/fin/kpis', [{ id: 'rev', label: 'Revenue', value: 42 }]);
    assert.equal(r.status, 200, r.text);
    await onB.rec.until((xs) => xs.some((x) => x.event === 'kpi:update:fin' && x.args[0].some((k) => k.value === 42)), 'kpi:update on B');
    // C's cache: a new subscriber's snapshot carries the new value (the cache change
    // reaches C on its own channel; wait for it rather than for time)
    let snap;
    for (let i = 0; i < 50; i++) {
      const c = await subscriber(2, 'fin');
      await c.rec.until((xs) => xs.some((x) => x.event === 'kpi:update:fin'), 'snapshot on C');
      snap = c.rec.of('kpi:update:fin')[0].args[0];
      c.s.close();
      if (snap.some((k) => k.value === 42)) break;
      await sleep(50);
    }
    assert.deepStrictEqual(snap.map((k) => [k.id, k.value]), [['rev', 42]]);
  });

  it('a notification through A reaches the user on B; marking it read on B tells the tab on C', async () => {
    const user = `${run}-u1`;
    const token = mintToken({ sub: user });
    const tabB = await subscriber(1, null, { auth: { token } });
    const tabC = await subscriber(2, null, { auth: { token } });
    for (const t of [tabB, tabC]) assert.equal((await emitAck(t.s, 'notification:subscribe', {})).success, true);
    await api(nodes[1].url).waitRoom(`user:${user}`, 1);
    await api(nodes[2].url).waitRoom(`user:${user}`, 1);
    const r = await api(nodes[0].url).post('/api/v1/notifications', { userId: user, title: 'T', message: 'M' });
    assert.equal(r.status, 200, r.text);
    const id = r.json.data.id;
    for (const t of [tabB, tabC]) await t.rec.until((xs) => xs.some((x) => x.event === 'notification:new' && x.args[0].id === id), 'notification:new');
    assert.deepStrictEqual(await emitAck(tabB.s, 'notification:mark-read', { notificationId: id }), { success: true, unreadCount: 0 });
    await tabC.rec.until((xs) => xs.some((x) => x.event === 'notification:read'), 'notification:read on C');
    assert.deepStrictEqual(tabC.rec.of('notification:read')[0].args[0], { id, unreadCount: 0 });
    await quiet();
    assert.deepStrictEqual(tabB.rec.of('notification:read'), [], 'the tab that marked it read is answered by its ack');
    assert.equal(tabC.rec.of('notification:new').filter((x) => x.args[0].id === id).length, 1, 'once');
  });

  it('stats: one entry per live node with cluster totals; health says ok', async () => {
    await subscriber(0, 'm9');
    await subscriber(2, 'm9');
    const s = await api(nodes[1].url).statsUntil((x) => x.cluster.totals.connections >= 2, 'two connections in the totals', 10_000);
    assert.equal(s.cluster.state, 'ok');
    assert.deepStrictEqual(s.cluster.nodes.map((n) => n.node).sort(), nodes.map((n) => n.nodeId).sort());
    for (const n of s.cluster.nodes) {
      for (const k of ['address', 'connections', 'rooms', 'eventsInPerSec', 'eventsOutPerSec', 'memory', 'cpu', 'startedAt']) assert.ok(k in n, `${k} in ${JSON.stringify(n)}`);
    }
    const h = await api(nodes[1].url).get('/health');
    assert.equal(h.json.data.cluster, 'ok');
    const ss = await api(nodes[1].url).get('/api/test/socket-stats');
    assert.equal(ss.json.data.nodes.length, 3);
  });

  it('periodic KPI ticks are not multiplied by the number of nodes', async () => {
    // kpi_interval_ms = 400 on every node: one subscriber gets one kpi:update per interval
    // from its own node, not three.
    const r = await api(nodes[0].url).put('/api/v1/modules/tk/kpis', [{ id: 'a', label: 'A', value: 1 }]);
    assert.equal(r.status, 200);
    const sub = await subscriber(1, 'tk');
    const start = sub.rec.of('kpi:update:tk').length;
    await sleep(2000); // the window in which ticks are counted
    const ticks = sub.rec.of('kpi:update:tk').length - start;
    assert.ok(ticks >= 3 && ticks <= 6, `${ticks} kpi:update in 2 s at one per 400 ms (three nodes would give ~15)`);
  });
});

describe('cluster: a node that dies', () => {
  const run = `k${process.pid}${Date.now() % 100000}`;
  let nodes;
  let proxy;
  let clients;

  before(async () => {
    nodes = await cluster(2, { run });
    proxy = await require('./helpers').forwarder(nodes[0].port);
    clients = clientFactory(`http://127.0.0.1:${proxy.port}`);
  });
  after(async () => {
    if (clients) clients.closeAll();
    if (proxy) proxy.close();
    for (const n of nodes || []) await n.stop().catch(() => {});
  });

  for (const { name, before: received } of [
    { name: 'a client that had received events', before: true },
    { name: 'a client that had received nothing', before: false },
  ]) {
    it(`kill -9: ${name} recovers on the other node with its id, rooms and every missed event once, in order`, async () => {
      proxy.target(nodes[0].port);
      const s = clients.socket('/', { ...WS, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
      await waitConnect(s);
      const rec = recordAll(s);
      const room = `${run}-${received ? 'r1' : 'r0'}`;
      assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: room }), { success: true, room: `module:${room}` });
      const B = api(nodes[1].url);
      if (received) {
        await B.publish({ rooms: [`module:${room}`], event: 'ev', data: { n: 0 } });
        await rec.until((xs) => xs.some((x) => x.event === 'ev'), 'n=0');
      }
      const id = s.id;
      // The session reaches Redis right after the join; give the write its round trip.
      await sleep(200);
      const back = once(s, 'connect', 10_000, 'the reconnect');
      proxy.target(nodes[1].port);
      process.kill(nodes[0].pid, 'SIGKILL');
      for (let n = 1; n <= 3; n++) await B.publish({ rooms: [`module:${room}`], event: 'ev', data: { n } });
      await back;
      assert.equal(s.recovered, true, 'recovered');
      assert.equal(s.id, id, 'same id');
      await rec.until((xs) => xs.filter((x) => x.event === 'ev').length >= (received ? 4 : 3), 'the missed events');
      await B.publish({ rooms: [`module:${room}`], event: 'ev', data: { n: 4 } }); // rooms kept
      await rec.until((xs) => xs.some((x) => x.event === 'ev' && x.args[0].n === 4), 'n=4 after recovery');
      await quiet();
      assert.deepStrictEqual(rec.of('ev').map((x) => x.args[0].n), received ? [0, 1, 2, 3, 4] : [1, 2, 3, 4]);
      s.close();
      // the next case needs a live first node again
      nodes[0] = await nodes[0].restart();
    });
  }
});

describe('cluster: history trimmed while a client was away', () => {
  const run = `t${process.pid}${Date.now() % 100000}`;
  let nodes;
  let proxy;
  let clients;
  let redis;

  before(async () => {
    nodes = await cluster(2, { run });
    proxy = await require('./helpers').forwarder(nodes[0].port);
    clients = clientFactory(`http://127.0.0.1:${proxy.port}`);
    const { createClient } = require('redis');
    redis = createClient({ url: require('./helpers').REDIS_URL });
    await redis.connect();
  });
  after(async () => {
    if (clients) clients.closeAll();
    if (proxy) proxy.close();
    if (redis) await redis.quit();
    for (const n of nodes || []) await n.stop();
  });

  it('the reconnect is a fresh session (recovered === false), counted — never a partial replay', async () => {
    const s = clients.socket('/', { ...WS, reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 200 });
    await waitConnect(s);
    const rec = recordAll(s);
    assert.equal((await emitAck(s, 'module:subscribe', { moduleKey: 'trim' })).success, true);
    const B = api(nodes[1].url);
    await B.publish({ rooms: ['module:trim'], event: 'ev', data: { n: 0 } });
    await rec.until((xs) => xs.some((x) => x.event === 'ev'), 'n=0');
    const id = s.id;
    await sleep(200); // the session write
    proxy.target(1); // nothing listens on port 1: the reconnects fail until the history is gone
    process.kill(nodes[0].pid, 'SIGKILL');
    for (let n = 1; n <= 3; n++) await B.publish({ rooms: ['module:trim'], event: 'ev', data: { n } });
    await B.statsUntil((x) => x.counters.bus_received >= 4, 'node B read the three entries');
    await redis.sendCommand(['XTRIM', `${run}:stream`, 'MAXLEN', '0']);
    const failuresBefore = (await B.stats()).counters.recovery_failures || 0;
    const back = once(s, 'connect', 10_000, 'the reconnect');
    proxy.target(nodes[1].port);
    await back;
    assert.equal(s.recovered, false, 'not recovered');
    assert.notEqual(s.id, id, 'a new id');
    await quiet();
    assert.deepStrictEqual(rec.of('ev').map((x) => x.args[0].n), [0], 'nothing replayed');
    const after = (await B.stats()).counters;
    assert.ok((after.recovery_failures || 0) > failuresBefore, JSON.stringify(after));
  });
});

describe('cluster: Redis stopped and restarted', () => {
  const run = `o${process.pid}${Date.now() % 100000}`;
  let redis;
  let nodes;
  let clients;

  before(async () => {
    redis = await require('./helpers').privateRedis();
    nodes = await cluster(2, { run, redisUrl: redis.url });
    clients = nodes.map((n) => clientFactory(n.url));
    for (const n of nodes) await api(n.url).statsUntil((s) => s.cluster.state === 'ok' && s.cluster.nodes.length === 2, 'both nodes up', 10_000);
  });
  after(async () => {
    if (clients) clients.forEach((c) => c.closeAll());
    for (const n of nodes || []) await n.stop();
    if (redis) {
      await redis.stop();
      redis.cleanup();
    }
  });

  async function sub(i, m) {
    const s = clients[i].socket('/', WS);
    await waitConnect(s);
    const rec = recordAll(s);
    assert.equal((await emitAck(s, 'module:subscribe', { moduleKey: m })).success, true);
    return { s, rec };
  }

  it('local delivery during the outage (counted, health degraded), cross-node delivery after, no node restarted', async () => {
    const a = await sub(0, 'out');
    const b = await sub(1, 'out');
    const A = api(nodes[0].url);
    await redis.stop();
    await A.statsUntil((s) => s.cluster.state === 'degraded', 'degraded on A', 10_000);
    assert.equal((await A.get('/health')).json.data.cluster, 'degraded');
    await A.publish({ rooms: ['module:out'], event: 'during', data: { n: 1 } });
    await a.rec.until((xs) => xs.some((x) => x.event === 'during'), 'local delivery during the outage');
    await quiet();
    assert.deepStrictEqual(b.rec.of('during'), [], 'not delivered on the other node (decided: local only)');
    const s1 = await A.stats();
    assert.ok(s1.counters.bus_local_only >= 1 && s1.counters.bus_outages >= 1, JSON.stringify(s1.counters));

    await redis.start();
    for (const n of nodes) await api(n.url).statsUntil((s) => s.cluster.state === 'ok', 'ok again', 15_000);
    await A.publish({ rooms: ['module:out'], event: 'after', data: { n: 2 } });
    for (const x of [a, b]) await x.rec.until((xs) => xs.some((e) => e.event === 'after'), 'cross-node delivery after the outage');
    await quiet();
    assert.equal(a.rec.of('after').length, 1);
    assert.equal(b.rec.of('after').length, 1);
    assert.ok(a.s.connected && b.s.connected, 'the clients stayed connected');
  });
});
