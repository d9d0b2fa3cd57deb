'use strict';
// Presence in a cluster (README "Presence"): three switchboard processes on one Redis,
// users with sockets on different nodes, driven with the official socket.io-client. A
// user is in a room while any of their sockets on any node is; a node killed with -9
// takes its users out within three heartbeats (300 ms here).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { clientFactory, waitConnect } = require('../lib/client');
const { api, recordAll, emitAck, jwtArgs, mintToken } = require('../lib/switchboard');
const { cluster, quiet } = require('./helpers');

const WS = { transports: ['websocket'] };
const ROOM = 'service-loans';

describe('cluster: presence over three nodes', () => {
  const run = `p${process.pid}${Date.now() % 100000}`;
  let nodes;
  let clients;

  before(async () => {
    nodes = await cluster(3, { run, extraArgs: jwtArgs() });
    clients = nodes.map((n) => clientFactory(n.url));
    for (const n of nodes) {
      await api(n.url).statsUntil((s) => s.cluster.nodes.length === 3, 'three nodes in the registry', 10_000);
    }
  });
  afterEach(() => clients && clients.forEach((c) => c.closeAll()));
  after(async () => {
    if (clients) clients.forEach((c) => c.closeAll());
    for (const n of nodes || []) await n.stop();
  });

  /** A socket of `user` (anonymous when null) on node `i`, in ROOM, recording. */
  async function member(i, user) {
    const auth = user ? { token: mintToken({ sub: user }) } : undefined;
    const s = clients[i].socket('/', { ...WS, auth });
    await waitConnect(s);
    const rec = recordAll(s);
    assert.deepStrictEqual(await emitAck(s, 'joinServiceQueue', { serviceType: 'loans' }), { success: true, room: ROOM }, `${user} joins on node ${i}`);
    return { s, rec };
  }

  const presence = (rec) => rec.items.filter((x) => x.event.startsWith('presence:')).map((x) => [x.event, x.args[0]]);

  it('a user is one user over all nodes: one join, one leave, everyone hears each once; listings agree on every node', async () => {
    const watcher = await member(2, 'watcher');
    await watcher.rec.first('presence:join', (p) => p.user === 'watcher');

    const alice0 = await member(0, 'alice');
    await watcher.rec.first('presence:join', (p) => p.user === 'alice');
    const alice1 = await member(1, 'alice'); // second tab, another node: nothing new
    const bob = await member(1, 'bob');
    await watcher.rec.first('presence:join', (p) => p.user === 'bob');
    await member(0, null); // anonymous: counted, not listed, no event

    for (const [i, n] of nodes.entries()) {
      const r = await api(n.url).get(`/api/v1/rooms/${ROOM}/presence`);
      assert.equal(r.status, 200, r.text);
      assert.deepStrictEqual(r.json.data, { room: ROOM, users: ['alice', 'bob', 'watcher'], count: 3, anonymous: 1, truncated: false }, `node ${i}`);
    }
    assert.deepStrictEqual(await emitAck(bob.s, 'presence:get', { room: ROOM }),
      { success: true, room: ROOM, users: ['alice', 'bob', 'watcher'], count: 3, anonymous: 1, truncated: false });

    // alice closes the tab on node 0: she still has one on node 1.
    alice0.s.close();
    await api(nodes[0].url).statsUntil((s) => !s.rooms.some((r) => r.name === ROOM && r.members > 1), 'alice gone from node 0');
    // then leaves with the other: one presence:leave, heard on every node.
    assert.deepStrictEqual(await emitAck(alice1.s, 'leaveRoom', { room: ROOM }), { success: true, room: ROOM });
    await watcher.rec.first('presence:leave', (p) => p.user === 'alice');
    await bob.rec.first('presence:leave', (p) => p.user === 'alice');
    await quiet();
    assert.deepStrictEqual(presence(watcher.rec), [
      ['presence:join', { room: ROOM, user: 'watcher', count: 1 }],
      ['presence:join', { room: ROOM, user: 'alice', count: 2 }],
      ['presence:join', { room: ROOM, user: 'bob', count: 3 }],
      ['presence:leave', { room: ROOM, user: 'alice', count: 2 }],
    ]);
    assert.deepStrictEqual(presence(bob.rec), [
      ['presence:join', { room: ROOM, user: 'bob', count: 3 }],
      ['presence:leave', { room: ROOM, user: 'alice', count: 2 }],
    ]);
  });

  it('kill -9: the dead node\'s users leave (once, told by a live node); a user with a socket elsewhere stays', async () => {
    const room = 'library:annex';
    const join = async (i, user) => {
      const s = clients[i].socket('/', { ...WS, auth: { token: mintToken({ sub: user }) }, reconnection: false });
      await waitConnect(s);
      const rec = recordAll(s);
      assert.deepStrictEqual(await emitAck(s, 'join:library', 'annex'), { success: true, room });
      return { s, rec };
    };
    const watcher = await join(2, 'w2');
    await join(0, 'carol'); // only on the node that dies
    await join(0, 'dave'); // on the node that dies and on node 1
    await join(1, 'dave');
    await watcher.rec.until((xs) => presence({ items: xs }).length === 3, 'w2, carol and dave joined');

    process.kill(nodes[0].pid, 'SIGKILL');
    const left = await watcher.rec.first('presence:leave', (p) => p.user === 'carol', 10_000);
    assert.deepStrictEqual(left.args[0], { room, user: 'carol', count: 2 });
    await quiet();
    assert.deepStrictEqual(presence(watcher.rec).map(([e, p]) => [e, p.user]), [
      ['presence:join', 'w2'], ['presence:join', 'carol'], ['presence:join', 'dave'], ['presence:leave', 'carol'],
    ]);
    const r = await api(nodes[1].url).get(`/api/v1/rooms/${room}/presence`);
    assert.deepStrictEqual(r.json.data, { room, users: ['dave', 'w2'], count: 2, anonymous: 0, truncated: false });

    // A node restarted under the same id starts clean and joins in again.
    nodes[0] = await nodes[0].restart();
    clients[0] = clientFactory(nodes[0].url);
    await join(0, 'erin');
    const erin = await watcher.rec.first('presence:join', (p) => p.user === 'erin');
    assert.deepStrictEqual(erin.args[0], { room, user: 'erin', count: 3 });
  });
});
