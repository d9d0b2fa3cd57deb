'use strict';
// The Admin UI's namespace in a cluster (README "Running a cluster"): two switchboard
// processes on one Redis, an admin connected to node 0 with socket.io-client exactly as the
// UI connects (`/admin`, `auth: { username, password }`). As with socket.io behind its
// adapter, the admin sees every node: each node's server_stats (serverId = its node id),
// every node's sockets in all_sockets, the other node's live events once each; and its
// join / leave / _disconnect reach the other node's sockets.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const bcrypt = require('bcryptjs');
const { clientFactory, waitConnect, once, DEFAULT_TIMEOUT_MS } = require('../lib/client');
const { api, recordAll, emitAck } = require('../lib/switchboard');
const { cluster, quiet } = require('./helpers');

const WS = { transports: ['websocket'] };
const USERNAME = 'admin';
const PASSWORD = 'admin-cluster-e2e-0123';
const ADMIN_ENV = {
  SWITCHBOARD_ADMIN_USERNAME: USERNAME,
  SWITCHBOARD_ADMIN_PASSWORD_HASH: bcrypt.hashSync(PASSWORD, 4),
};
/** server_stats comes every 2 s from each node. */
const STATS_WAIT_MS = 8_000;

/** Resolves with the args of the first `event` recorded whose args satisfy `pred(...args)`. */
async function next(rec, event, pred = () => true, what = `"${event}"`, ms = DEFAULT_TIMEOUT_MS) {
  const hit = (i) => i.event === event && pred(...i.args);
  await rec.until((xs) => xs.some(hit), what, ms);
  return rec.items.find(hit).args;
}

describe('cluster: the Admin UI on one node sees and acts on every node', () => {
  const run = `a${process.pid}${Date.now() % 100000}`;
  let nodes;
  let clients;

  before(async () => {
    nodes = await cluster(2, { run, extraEnv: ADMIN_ENV });
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

  /** An admin socket on node `i`, recording from before it connects. */
  async function admin(i) {
    const s = clients[i].socket('/admin', { ...WS, auth: { username: USERNAME, password: PASSWORD } });
    const rec = recordAll(s);
    await waitConnect(s);
    return { s, rec };
  }

  it('all_sockets lists both nodes\' sockets; server_stats comes from each node; the other node\'s live events come once', { timeout: 40_000 }, async () => {
    const c0 = await clients[0].connect('/', WS);
    const c1 = await clients[1].connect('/', WS);
    const a = await admin(0);

    const [all] = await next(a.rec, 'all_sockets');
    const main = all.filter((x) => x.nsp === '/').map((x) => x.id).sort();
    assert.deepStrictEqual(main, [c0.id, c1.id].sort(), `all_sockets: ${JSON.stringify(all.map((x) => [x.nsp, x.id]))}`);

    // each node is a server of its own, as the UI's "Servers" page lists them
    for (const n of nodes) {
      const [stats] = await next(a.rec, 'server_stats', (s) => s && s.serverId === n.nodeId, `server_stats of ${n.nodeId}`, STATS_WAIT_MS);
      assert.equal(stats.pid, n.pid, JSON.stringify(stats));
      const root = stats.namespaces.find((x) => x.name === '/');
      assert.equal(root && root.socketsCount, 1, `one socket on "/" of ${n.nodeId}: ${JSON.stringify(stats)}`);
    }

    // a client of node 1 connects, sends an event, leaves: the admin on node 0 hears each once
    const c = await clients[1].connect('/', WS);
    const [sock] = await next(a.rec, 'socket_connected', (s) => s && s.id === c.id, `socket_connected for ${c.id}`);
    assert.equal(sock.nsp, '/');
    assert.equal(sock.transport, 'websocket');
    assert.equal(await emitAck(c, 'ping'), 'pong');
    const [, rId, rArgs] = await next(a.rec, 'event_received', (nsp, id) => id === c.id, `event_received from ${c.id}`);
    assert.equal(rId, c.id);
    assert.deepStrictEqual(rArgs, ['ping']);
    const id = c.id;
    c.disconnect();
    const [, , reason] = await next(a.rec, 'socket_disconnected', (nsp, sid) => sid === id, `socket_disconnected for ${id}`);
    assert.equal(reason, 'client namespace disconnect');
    await quiet();
    const count = (ev, pred) => a.rec.of(ev).filter((i) => pred(...i.args)).length;
    assert.equal(count('socket_connected', (s) => s.id === id), 1, 'socket_connected once');
    assert.equal(count('event_received', (nsp, sid) => sid === id), 1, 'event_received once');
    assert.equal(count('socket_disconnected', (nsp, sid) => sid === id), 1, 'socket_disconnected once');
  });

  it('join, emit to the room, leave and _disconnect from node 0 reach a socket of node 1', { timeout: 40_000 }, async () => {
    const c = await clients[1].connect('/', WS);
    const other = await clients[1].connect('/', WS);
    const a = await admin(0);
    const cRec = recordAll(c);
    const otherRec = recordAll(other);
    await next(a.rec, 'all_sockets', (all) => all.some((x) => x.id === c.id), 'all_sockets with the node-1 socket');

    a.s.emit('join', '/', 'room-cx', c.id);
    const joined = await next(a.rec, 'room_joined', (n, r, sid) => r === 'room-cx' && sid === c.id, 'room_joined room-cx');
    assert.deepStrictEqual(joined.slice(0, 3), ['/', 'room-cx', c.id]);
    await api(nodes[1].url).statsUntil((s) => s.rooms.some((r) => r.name === 'room-cx' && r.members === 1), 'room-cx on node 1');

    // the room is a real one on node 1: the admin's emit to it reaches its member only
    a.s.emit('emit', '/', 'room-cx', 'to-room', { n: 7 });
    assert.deepStrictEqual((await cRec.first('to-room')).args.slice(0, 1), [{ n: 7 }]);
    a.s.emit('emit', '/', other.id, 'fence', 1);
    await otherRec.first('fence');
    assert.deepStrictEqual(otherRec.of('to-room'), [], 'a socket outside room-cx got its event');

    a.s.emit('leave', '/', 'room-cx', c.id);
    await next(a.rec, 'room_left', (n, r, sid) => r === 'room-cx' && sid === c.id, 'room_left room-cx');
    await api(nodes[1].url).statsUntil((s) => !s.rooms.some((r) => r.name === 'room-cx'), 'room-cx gone on node 1');

    const gone = once(c, 'disconnect');
    a.s.emit('_disconnect', '/', false, c.id);
    assert.equal((await gone)[0], 'io server disconnect');
    assert.equal(other.connected, true, 'the other socket stays');
    assert.equal(await emitAck(other, 'ping'), 'pong');
  });
});
