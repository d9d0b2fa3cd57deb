'use strict';
// The `/admin` namespace of the official Socket.IO Admin UI (@socket.io/admin-ui 0.5.1,
// protocol of its lib/index.ts), driven with socket.io-client exactly as the UI's code does
// (ui/src/App.vue: `io(serverUrl + "/admin", { auth: { username, password } })`, or
// `auth: { sessionId }` once it has one; actions `emit`, `join`, `leave`, `_disconnect`).
//
// Configuration (environment): SWITCHBOARD_ADMIN_USERNAME + SWITCHBOARD_ADMIN_PASSWORD_HASH
// (bcrypt) turn the namespace on; SWITCHBOARD_ADMIN_READ_ONLY=1 makes it read-only; with a
// JWT secret, a token with the `admin` role signs in too (and reads GET /api/v1/stats).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const os = require('node:os');
const bcrypt = require('bcryptjs');
const { waitConnect, once, withTimeout, clientFactory, DEFAULT_TIMEOUT_MS } = require('../lib/client');
const { startSwitchboard } = require('../lib/server');
const {
  useSwitchboard, recordAll, emitAck, isTimestamp, sleep, jwtArgs, mintToken, signJwt, nowSec,
} = require('../lib/switchboard');

const USERNAME = 'admin';
const PASSWORD = 'admin-e2e-password-0123';
const PASSWORD_HASH = bcrypt.hashSync(PASSWORD, 4);
const ADMIN_ENV = {
  SWITCHBOARD_ADMIN_USERNAME: USERNAME,
  SWITCHBOARD_ADMIN_PASSWORD_HASH: PASSWORD_HASH,
};
const CREDENTIALS = { username: USERNAME, password: PASSWORD };

/** Every feature of a read-write admin namespace in development mode (lib/index.ts). */
const ALL_FEATURES = ['EMIT', 'JOIN', 'LEAVE', 'DISCONNECT', 'MJOIN', 'MLEAVE', 'MDISCONNECT', 'AGGREGATED_EVENTS', 'ALL_EVENTS'];
/** server_stats comes every 2 s: room for a few of them. */
const STATS_WAIT_MS = 8_000;
const WS = { transports: ['websocket'] };

/** An admin socket with a recorder attached before it connects (`session` comes right away). */
function adminSocket(clients, auth, opts = {}) {
  const s = clients.socket('/admin', { ...WS, auth, ...opts });
  return { s, rec: recordAll(s) };
}

/** A connected admin socket (username/password unless `auth` says otherwise). */
async function connectAdmin(clients, auth = CREDENTIALS, opts = {}) {
  const a = adminSocket(clients, auth, opts);
  await waitConnect(a.s);
  return a;
}

/** Resolves with the args of the first `event` recorded whose args satisfy `pred(...args)`. */
async function next(rec, event, pred = () => true, what = `"${event}"`, ms = DEFAULT_TIMEOUT_MS) {
  const hit = (i) => i.event === event && pred(...i.args);
  await rec.until((xs) => xs.some(hit), what, ms);
  return rec.items.find(hit).args;
}

/** Opens a socket that must be refused; resolves with its `connect_error` message. */
async function refusal(clients, nsp, opts, what) {
  const s = clients.socket(nsp, opts);
  const r = await withTimeout(new Promise((resolve) => {
    s.once('connect', () => resolve({ connected: true }));
    s.once('connect_error', (err) => resolve({ message: err && err.message }));
  }), DEFAULT_TIMEOUT_MS, `connect or connect_error (${what})`);
  assert.ok(!r.connected, `${what}: connected to ${nsp} instead of being refused`);
  assert.equal(s.connected, false, what);
  s.disconnect();
  return r.message;
}

const isPlainObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A serialized socket (lib/index.ts `serialize`) of socket.io-client socket `client`. */
function assertSerializedSocket(got, client, { transport, url } = {}) {
  const what = JSON.stringify(got);
  assert.ok(isPlainObject(got), what);
  assert.deepStrictEqual(Object.keys(got).sort(), ['clientId', 'data', 'handshake', 'id', 'nsp', 'rooms', 'transport'], what);
  assert.equal(got.id, client.id, what);
  assert.equal(got.nsp, '/', what);
  assert.equal(got.transport, transport, what);
  // the Engine.IO session id, cut to 12 characters as the official server does
  assert.equal(typeof got.clientId, 'string', what);
  assert.ok(got.clientId.length > 0 && client.io.engine.id.startsWith(got.clientId), `clientId ${got.clientId} is a prefix of the engine id ${client.io.engine.id}`);
  assert.ok(isPlainObject(got.data), `data is an object: ${what}`);
  assert.ok(Array.isArray(got.rooms) && got.rooms.every((r) => typeof r === 'string'), `rooms: ${what}`);
  assert.ok(got.rooms.includes(client.id), `rooms include the socket's own room: ${what}`);

  const h = got.handshake;
  assert.ok(isPlainObject(h), what);
  // no `auth` (it holds tokens and passwords): exactly the fields the official server sends
  assert.deepStrictEqual(Object.keys(h).sort(), ['address', 'headers', 'issued', 'query', 'secure', 'time', 'url', 'xdomain'], what);
  assert.match(h.address, /^(::ffff:)?127\.0\.0\.1$/, what);
  assert.ok(isPlainObject(h.headers), what);
  assert.equal(h.headers.host, new URL(url).host, `headers.host: ${what}`);
  assert.ok(isPlainObject(h.query), what);
  assert.equal(h.query.EIO, '4', `query.EIO: ${what}`);
  assert.equal(h.query.transport, transport === 'polling' ? 'polling' : 'websocket', `query.transport: ${what}`);
  assert.equal(typeof h.issued, 'number', what);
  assert.ok(Math.abs(Date.now() - h.issued) < 60_000, `issued (ms since the epoch) is recent: ${h.issued}`);
  assert.equal(typeof h.time, 'string', what);
  assert.ok(!Number.isNaN(Date.parse(h.time)), `time parses as a date: ${h.time}`);
  assert.equal(typeof h.url, 'string', what);
  assert.ok(h.url.startsWith('/socket.io/'), `url: ${h.url}`);
  assert.equal(h.secure, false, what);
  assert.equal(typeof h.xdomain, 'boolean', what);
}

describe('admin namespace: username and password', () => {
  const ctx = useSwitchboard({ extraEnv: ADMIN_ENV });

  it('wrong, missing or partial credentials are refused with "invalid credentials"', { timeout: 20_000 }, async () => {
    for (const [what, auth] of [
      ['wrong password', { username: USERNAME, password: 'wrong' }],
      ['wrong username', { username: 'root', password: PASSWORD }],
      ['password in another case', { username: USERNAME, password: PASSWORD.toUpperCase() }],
      ['no password', { username: USERNAME }],
      ['empty auth', {}],
      ['no auth at all', undefined],
      ['non-string password', { username: USERNAME, password: 12345 }],
      ['unknown session id', { sessionId: 'deadbeefdeadbeef' }],
      ['the bcrypt hash as the password', { username: USERNAME, password: PASSWORD_HASH }],
    ]) {
      const opts = auth === undefined ? WS : { ...WS, auth };
      assert.equal(await refusal(ctx.clients, '/admin', opts, what), 'invalid credentials', what);
    }
    // the main namespace is untouched
    const s = await ctx.clients.connect('/', WS);
    assert.equal(await emitAck(s, 'ping'), 'pong');
  });

  it('the right credentials: session, config with every feature, all_sockets with the connected sockets', { timeout: 20_000 }, async () => {
    const ws = await ctx.clients.connect('/', WS);
    const polling = await ctx.clients.connect('/', { transports: ['polling'] });
    const { s: admin, rec } = await connectAdmin(ctx.clients);

    const [sessionId] = await next(rec, 'session');
    assert.equal(typeof sessionId, 'string');
    assert.ok(sessionId.length >= 8, `session id ${sessionId}`);

    const [config] = await next(rec, 'config');
    assert.deepStrictEqual(Object.keys(config), ['supportedFeatures']);
    assert.deepStrictEqual([...config.supportedFeatures].sort(), [...ALL_FEATURES].sort());

    const [all] = await next(rec, 'all_sockets');
    assert.ok(Array.isArray(all), JSON.stringify(all));
    const main = all.filter((x) => x.nsp === '/');
    assert.deepStrictEqual(main.map((x) => x.id).sort(), [ws.id, polling.id].sort(), `sockets of "/": ${JSON.stringify(all)}`);
    assertSerializedSocket(main.find((x) => x.id === ws.id), ws, { transport: 'websocket', url: ctx.server.url });
    assertSerializedSocket(main.find((x) => x.id === polling.id), polling, { transport: 'polling', url: ctx.server.url });
    // every entry, whatever its namespace, has the same shape
    for (const x of all) assert.equal(typeof x.id, 'string', JSON.stringify(x));
    assert.equal(admin.connected, true);
  });

  it('server_stats every 2 s: identity, counts, namespaces and aggregated events', { timeout: 30_000 }, async () => {
    const ws = await ctx.clients.connect('/', WS);
    const polling = await ctx.clients.connect('/', { transports: ['polling'] });
    const { rec } = await connectAdmin(ctx.clients);
    // traffic after the admin is there, so that the aggregated events carry it
    const extra = await ctx.clients.connect('/', WS);
    assert.equal(await emitAck(extra, 'ping'), 'pong');
    extra.disconnect();

    // 2 clients on "/", the admin: 3 Engine.IO clients, one of them polling
    const [stats] = await next(
      rec,
      'server_stats',
      (s) => s && Array.isArray(s.namespaces) && s.namespaces.some((n) => n.name === '/' && n.socketsCount === 2) && s.clientsCount === 3,
      'a server_stats with 2 sockets on "/" and 3 clients',
      STATS_WAIT_MS,
    );
    const what = JSON.stringify(stats);
    for (const k of ['serverId', 'hostname', 'pid', 'uptime', 'clientsCount', 'pollingClientsCount', 'namespaces', 'aggregatedEvents']) {
      assert.ok(k in stats, `server_stats has ${k}: ${what}`);
    }
    assert.equal(typeof stats.serverId, 'string');
    // each node reports as its own server: the node id (as GET /api/v1/stats names it)
    assert.equal(stats.serverId, (await ctx.http.stats()).node, what);
    assert.equal(stats.hostname, os.hostname(), what);
    assert.equal(stats.pid, ctx.server.pid, what);
    assert.equal(typeof stats.uptime, 'number');
    assert.ok(stats.uptime >= 0 && stats.uptime < 600, `uptime is in seconds: ${stats.uptime}`);
    assert.equal(stats.pollingClientsCount, 1, what);
    for (const n of stats.namespaces) {
      assert.deepStrictEqual(Object.keys(n).sort(), ['name', 'socketsCount'], what);
      assert.equal(typeof n.name, 'string', what);
      assert.equal(typeof n.socketsCount, 'number', what);
    }
    const adminNsp = stats.namespaces.find((n) => n.name === '/admin');
    assert.ok(adminNsp && adminNsp.socketsCount >= 1, `the admin namespace is listed: ${what}`);

    // every server_stats of this test: same identity, well-formed aggregated events
    await rec.until((xs) => xs.filter((i) => i.event === 'server_stats').length >= 3, 'three server_stats', STATS_WAIT_MS);
    const all = rec.of('server_stats').map((i) => i.args[0]);
    const events = [];
    for (const s of all) {
      assert.equal(s.serverId, stats.serverId);
      assert.equal(s.pid, stats.pid);
      assert.ok(Array.isArray(s.aggregatedEvents), JSON.stringify(s));
      for (const e of s.aggregatedEvents) {
        const ew = JSON.stringify(e);
        assert.equal(typeof e.timestamp, 'number', ew);
        assert.ok(Number.isInteger(e.timestamp) && Math.abs(Date.now() - e.timestamp) < 120_000, `timestamp in ms: ${ew}`);
        assert.equal(typeof e.type, 'string', ew);
        assert.ok(e.subType === undefined || e.subType === null || typeof e.subType === 'string', ew);
        assert.ok(Number.isInteger(e.count) && e.count > 0, ew);
        events.push(e);
      }
    }
    // what the dashboard's charts draw (ConnectionsHistogram, BytesHistogram)
    const types = new Set(events.map((e) => e.type));
    for (const t of ['rawConnection', 'rawDisconnection', 'packetsIn', 'packetsOut', 'bytesIn', 'bytesOut']) {
      assert.ok(types.has(t), `aggregated events include ${t}: ${[...types]}`);
    }
    const disc = events.find((e) => e.type === 'rawDisconnection');
    assert.equal(typeof disc.subType, 'string', `rawDisconnection has the reason as subType: ${JSON.stringify(disc)}`);
    assert.equal(ws.connected && polling.connected, true);
  });

  it('`session` comes after the CONNECT: a listener added in the `connect` handler gets it (as in the UI)', { timeout: 15_000 }, async () => {
    // ui/src/App.vue registers its `session` listener inside `socket.once("connect")`;
    // socket.io-client hands buffered events out *before* `connect`, so a `session` sent
    // ahead of the CONNECT packet would never reach the UI (no session id kept, no re-login).
    const s = ctx.clients.socket('/admin', { ...WS, auth: CREDENTIALS });
    const session = new Promise((resolve) => s.once('connect', () => s.on('session', resolve)));
    const id = await withTimeout(session, DEFAULT_TIMEOUT_MS, '`session` after `connect`');
    assert.equal(typeof id, 'string');
    assert.ok(id.length >= 8, `session id ${id}`);
  });

  it('the session id alone signs in again (what the UI does after a reload)', { timeout: 20_000 }, async () => {
    const first = await connectAdmin(ctx.clients);
    const [sessionId] = await next(first.rec, 'session');
    first.s.disconnect();

    const again = await connectAdmin(ctx.clients, { sessionId });
    const [config] = await next(again.rec, 'config');
    assert.deepStrictEqual([...config.supportedFeatures].sort(), [...ALL_FEATURES].sort());
    await next(again.rec, 'all_sockets');
    // and with the session id, the password is not needed even when a wrong one comes along
    const third = await connectAdmin(ctx.clients, { sessionId, username: 'x', password: 'y' });
    assert.equal(third.s.connected, true);
  });

  it('live events: socket_connected, event_received, event_sent, socket_disconnected', { timeout: 20_000 }, async () => {
    const { rec } = await connectAdmin(ctx.clients);
    await next(rec, 'all_sockets');

    const c = ctx.clients.socket('/', WS);
    await waitConnect(c);
    const [sock, ts] = await next(rec, 'socket_connected', (s) => s && s.id === c.id, `socket_connected for ${c.id}`);
    assertSerializedSocket(sock, c, { transport: 'websocket', url: ctx.server.url });
    assert.ok(isTimestamp(ts), `timestamp ${JSON.stringify(ts)}`);

    // the server's `connected` lifecycle event to the new socket
    const [sNsp, sId, sArgs, sTs] = await next(rec, 'event_sent', (nsp, id, args) => id === c.id && Array.isArray(args) && args[0] === 'connected', 'event_sent "connected"');
    assert.equal(sNsp, '/');
    assert.equal(sId, c.id);
    assert.ok(isTimestamp(sTs), `timestamp ${JSON.stringify(sTs)}`);
    assert.equal(sArgs.length, 2, JSON.stringify(sArgs));

    // a client event with an ack: the args without the ack callback
    assert.equal(await emitAck(c, 'ping'), 'pong');
    const [rNsp, rId, rArgs, rTs] = await next(rec, 'event_received', (nsp, id) => id === c.id, `event_received from ${c.id}`);
    assert.equal(rNsp, '/');
    assert.deepStrictEqual(rArgs, ['ping']);
    assert.ok(isTimestamp(rTs), `timestamp ${JSON.stringify(rTs)}`);
    assert.equal(rId, c.id);

    const id = c.id;
    c.disconnect();
    const [dNsp, dId, reason, dTs] = await next(rec, 'socket_disconnected', (nsp, sid) => sid === id, `socket_disconnected for ${id}`);
    assert.equal(dNsp, '/');
    assert.equal(dId, id);
    assert.equal(reason, 'client namespace disconnect');
    assert.ok(isTimestamp(dTs), `timestamp ${JSON.stringify(dTs)}`);
  });

  it('socket_updated: a polling client that upgrades is shown on WebSocket', { timeout: 20_000 }, async () => {
    const { rec } = await connectAdmin(ctx.clients);
    await next(rec, 'all_sockets');
    const c = ctx.clients.socket('/', { transports: ['polling', 'websocket'] });
    await waitConnect(c);
    const [sock] = await next(rec, 'socket_connected', (s) => s && s.id === c.id, `socket_connected for ${c.id}`);
    assert.equal(sock.transport, 'polling');
    const [upd] = await next(rec, 'socket_updated', (u) => u && u.id === c.id, `socket_updated for ${c.id}`);
    assert.deepStrictEqual(upd, { id: c.id, nsp: '/', transport: 'websocket' });
    assert.equal(c.io.engine.transport.name, 'websocket');
  });

  it('join and leave: room_joined / room_left, and the room really changes', { timeout: 20_000 }, async () => {
    const { s: admin, rec } = await connectAdmin(ctx.clients);
    const c = await ctx.clients.connect('/', WS);
    const other = await ctx.clients.connect('/', WS);
    const cRec = recordAll(c);
    const otherRec = recordAll(other);
    await next(rec, 'all_sockets');

    admin.emit('join', '/', 'room-x', c.id);
    const [nsp, room, id, ts] = await next(rec, 'room_joined', (n, r) => r === 'room-x', 'room_joined room-x');
    assert.deepStrictEqual([nsp, room, id], ['/', 'room-x', c.id]);
    assert.ok(isTimestamp(ts), `timestamp ${JSON.stringify(ts)}`);
    await ctx.http.waitRoom('room-x', 1);

    // the room is a real one: an admin emit to it (filter = room) reaches its member only
    admin.emit('emit', '/', 'room-x', 'to-room', { n: 7 });
    // (a broadcast carries its recovery offset as a last argument, as in socket.io with
    // connection state recovery: the payload is the first argument)
    assert.deepStrictEqual((await cRec.first('to-room')).args.slice(0, 1), [{ n: 7 }]);
    admin.emit('emit', '/', other.id, 'fence', 1);
    await otherRec.first('fence');
    assert.deepStrictEqual(otherRec.of('to-room'), [], 'a socket outside room-x got its event');

    admin.emit('leave', '/', 'room-x', c.id);
    const left = await next(rec, 'room_left', (n, r) => r === 'room-x', 'room_left room-x');
    assert.deepStrictEqual(left.slice(0, 3), ['/', 'room-x', c.id]);
    assert.ok(isTimestamp(left[3]), `timestamp ${JSON.stringify(left[3])}`);
    await ctx.http.waitRoom('room-x', 0);
    assert.equal(c.connected, true);
  });

  it('emit: to one socket (filter = its id) and to the whole namespace (no filter)', { timeout: 20_000 }, async () => {
    const { s: admin } = await connectAdmin(ctx.clients);
    const c = await ctx.clients.connect('/', WS);
    const other = await ctx.clients.connect('/', WS);
    const cRec = recordAll(c);
    const otherRec = recordAll(other);

    admin.emit('emit', '/', c.id, 'hello', { x: 1 });
    assert.deepStrictEqual((await cRec.first('hello')).args.slice(0, 1), [{ x: 1 }]);
    // (no event_sent expected here: an admin emit goes out as a room broadcast, and
    // switchboard lists only events sent to one socket, not broadcasts per member)

    admin.emit('emit', '/', null, 'hello-all', 2);
    assert.deepStrictEqual((await cRec.first('hello-all')).args.slice(0, 1), [2]);
    assert.deepStrictEqual((await otherRec.first('hello-all')).args.slice(0, 1), [2]);
    // `hello` went to c only (hello-all came after it on the same admin socket)
    assert.deepStrictEqual(otherRec.of('hello'), []);
    assert.equal(c.connected && other.connected, true);
  });

  it('_disconnect: close=false ends that socket ("io server disconnect"), close=true its whole connection', { timeout: 20_000 }, async () => {
    const { s: admin, rec } = await connectAdmin(ctx.clients);
    const c = await ctx.clients.connect('/', WS);
    const other = await ctx.clients.connect('/', WS);

    const cId = c.id;
    const gone = once(c, 'disconnect');
    admin.emit('_disconnect', '/', false, cId);
    assert.equal((await gone)[0], 'io server disconnect');
    const [, , reason] = await next(rec, 'socket_disconnected', (nsp, id) => id === cId, `socket_disconnected for ${cId}`);
    assert.equal(typeof reason, 'string');
    assert.ok(reason.length > 0);
    assert.equal(other.connected, true, 'the other socket stays');
    assert.equal(await emitAck(other, 'ping'), 'pong');

    const d = await ctx.clients.connect('/', WS);
    const dGone = once(d, 'disconnect');
    const engineClosed = once(d.io.engine, 'close');
    admin.emit('_disconnect', '/', true, d.id);
    const [dReason] = await dGone;
    assert.ok(['io server disconnect', 'transport close'].includes(dReason), `reason ${dReason}`);
    await engineClosed;
    assert.equal(other.connected, true, 'the other socket stays');
    await ctx.http.statsUntil((s) => s.connections <= 2, 'the closed connection to be gone (other + admin remain)');
  });
});

describe('admin namespace: read-only (SWITCHBOARD_ADMIN_READ_ONLY=1)', () => {
  const ctx = useSwitchboard({ extraEnv: { ...ADMIN_ENV, SWITCHBOARD_ADMIN_READ_ONLY: '1' } });

  it('config lists only AGGREGATED_EVENTS and ALL_EVENTS; emit, join, leave and _disconnect do nothing', { timeout: 20_000 }, async () => {
    const c = await ctx.clients.connect('/', WS);
    const cRec = recordAll(c);
    let cDisconnected = null;
    c.on('disconnect', (r) => { cDisconnected = r; });
    const { s: admin, rec } = await connectAdmin(ctx.clients);

    const [config] = await next(rec, 'config');
    assert.deepStrictEqual(config, { supportedFeatures: ['AGGREGATED_EVENTS', 'ALL_EVENTS'] });
    const [all] = await next(rec, 'all_sockets');
    assert.ok(all.some((x) => x.id === c.id), 'read-only still sees the sockets');

    admin.emit('emit', '/', c.id, 'hello', { x: 1 });
    admin.emit('emit', '/', null, 'hello-all', 1);
    admin.emit('join', '/', 'room-ro', c.id);
    admin.emit('join', '/', 'room-ro-all');
    admin.emit('leave', '/', c.id, c.id);
    admin.emit('_disconnect', '/', false, c.id);
    admin.emit('_disconnect', '/', true, c.id);
    admin.emit('_disconnect', '/', false);
    await sleep(1_000);

    assert.equal(c.connected, true, `disconnected: ${cDisconnected}`);
    assert.equal(cDisconnected, null);
    assert.equal(admin.connected, true, 'the admin socket stays connected');
    assert.deepStrictEqual(cRec.of('hello'), []);
    assert.deepStrictEqual(cRec.of('hello-all'), []);
    const stats = await ctx.http.stats();
    assert.deepStrictEqual(stats.rooms.filter((r) => r.name.startsWith('room-ro')), [], JSON.stringify(stats.rooms));
    assert.deepStrictEqual(rec.of('room_joined').filter((i) => String(i.args[1]).startsWith('room-ro')), []);
    assert.deepStrictEqual(rec.of('socket_disconnected').filter((i) => i.args[1] === c.id), []);

    // the live events still flow (ALL_EVENTS)
    assert.equal(await emitAck(c, 'ping'), 'pong');
    await next(rec, 'event_received', (nsp, id, args) => id === c.id && args[0] === 'ping', 'event_received "ping"');
    await next(rec, 'server_stats', () => true, 'a server_stats', STATS_WAIT_MS);
  });
});

describe('admin namespace: off without SWITCHBOARD_ADMIN_USERNAME / _PASSWORD_HASH', () => {
  const ctx = useSwitchboard({});

  it('connecting to /admin gives connect_error "Invalid namespace"', { timeout: 15_000 }, async () => {
    for (const [what, auth] of [['no auth', undefined], ['credentials', CREDENTIALS]]) {
      const opts = auth ? { ...WS, auth } : WS;
      assert.equal(await refusal(ctx.clients, '/admin', opts, what), 'Invalid namespace', what);
    }
    const s = await ctx.clients.connect('/', WS);
    assert.equal(await emitAck(s, 'ping'), 'pong');
  });

  it('a password hash that is not a bcrypt hash is refused at start-up', { timeout: 20_000 }, async () => {
    let srv;
    try {
      srv = await startSwitchboard({ extraEnv: { SWITCHBOARD_ADMIN_USERNAME: USERNAME, SWITCHBOARD_ADMIN_PASSWORD_HASH: PASSWORD } });
    } catch (err) {
      assert.match(err.message, /exited before listening/, err.message);
      return;
    } finally {
      if (srv) await srv.stop();
    }
    assert.fail('switchboard started with SWITCHBOARD_ADMIN_PASSWORD_HASH set to a plain password');
  });
});

describe('admin with a JWT (roles: ["admin"]) and an API key configured', () => {
  const API_KEY = 'admin-e2e-api-key-0123456789abcdef';
  const FOREIGN_SECRET = 'not-the-server-secret-0123456789abcdef';
  let server;
  let clients;

  /** GET /api/v1/stats with `Authorization: <authorization>` (none when undefined). */
  async function getStats(authorization) {
    const headers = authorization ? { authorization } : {};
    const res = await fetch(`${server.url}/api/v1/stats`, { headers, signal: AbortSignal.timeout(5_000) });
    const text = await res.text();
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    return { status: res.status, json, text };
  }

  before(async () => {
    server = await startSwitchboard({ extraArgs: jwtArgs(), extraEnv: { ...ADMIN_ENV, SWITCHBOARD_API_KEY: API_KEY } });
    clients = clientFactory(server.url);
  });
  afterEach(async () => {
    clients.closeAll();
    // (the stats API wants the key here)
    const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
    for (;;) {
      const r = await getStats(`Bearer ${API_KEY}`);
      if (r.status === 200 && r.json.data.connections === 0) break;
      if (Date.now() > deadline) throw new Error(`sockets left open: ${r.text}`);
      await sleep(20);
    }
  });
  after(async () => {
    if (clients) clients.closeAll();
    if (server) await server.stop();
  });

  it('a token with the admin role signs in to /admin; without the role, forged or expired it is refused', { timeout: 20_000 }, async () => {
    const admin = await connectAdmin(clients, { token: mintToken({ sub: 'ops-1', roles: ['admin'] }) });
    const [config] = await next(admin.rec, 'config');
    assert.deepStrictEqual([...config.supportedFeatures].sort(), [...ALL_FEATURES].sort());
    await next(admin.rec, 'all_sockets');
    await next(admin.rec, 'server_stats', () => true, 'a server_stats', STATS_WAIT_MS);

    // an admin action works with a token sign-in too
    const c = await clients.connect('/', WS);
    const got = once(c, 'hello');
    admin.s.emit('emit', '/', c.id, 'hello', { x: 1 });
    assert.deepStrictEqual((await got).slice(0, 1), [{ x: 1 }]);

    for (const [what, token] of [
      ['no admin role', mintToken({ sub: 'staff-1', roles: ['staff'] })],
      ['no roles at all', mintToken({ sub: 'user-1' })],
      ['forged (another secret)', mintToken({ sub: 'ops-1', roles: ['admin'], secret: FOREIGN_SECRET })],
      ['expired an hour ago', signJwt({ sub: 'ops-1', roles: ['admin'], exp: nowSec() - 3600 })],
      ['not a JWT', 'not.a.jwt'],
    ]) {
      const message = await refusal(clients, '/admin', { ...WS, auth: { token } }, what);
      assert.equal(typeof message, 'string', `${what}: ${message}`);
      assert.ok(message.length > 0, what);
    }
    // in the UI's form: an empty user name and the token as the password
    const viaForm = await connectAdmin(clients, { username: '', password: mintToken({ sub: 'ops-1', roles: ['admin'] }) });
    await next(viaForm.rec, 'config');
    assert.equal(
      await refusal(clients, '/admin', { ...WS, auth: { username: '', password: mintToken({ sub: 'staff-1', roles: ['staff'] }) } }, 'form: token without the role'),
      'invalid credentials',
    );
    assert.equal(await refusal(clients, '/admin', { ...WS, auth: { username: '', password: '' } }, 'form: all empty'), 'invalid credentials');

    // the password still works next to the JWT
    const pw = await connectAdmin(clients);
    assert.equal(pw.s.connected, true);
  });

  it('GET /api/v1/stats accepts an admin JWT as the Bearer, not a JWT without the role', { timeout: 20_000 }, async () => {
    const none = await getStats();
    assert.equal(none.status, 401, none.text);
    const key = await getStats(`Bearer ${API_KEY}`);
    assert.equal(key.status, 200, key.text);

    const admin = await getStats(`Bearer ${mintToken({ sub: 'ops-1', roles: ['admin'] })}`);
    assert.equal(admin.status, 200, admin.text);
    assert.equal(admin.json.success, true, admin.text);
    assert.equal(typeof admin.json.data.connections, 'number', admin.text);

    // a token without the role: 403; a forged or expired one: 401
    for (const [what, token, status] of [
      ['no admin role', mintToken({ sub: 'staff-1', roles: ['staff'] }), 403],
      ['forged admin (another secret)', mintToken({ sub: 'ops-1', roles: ['admin'], secret: FOREIGN_SECRET }), 401],
      ['expired admin', signJwt({ sub: 'ops-1', roles: ['admin'], exp: nowSec() - 3600 }), 401],
    ]) {
      const r = await getStats(`Bearer ${token}`);
      assert.equal(r.status, status, `${what}: HTTP ${r.status} ${r.text}`);
      assert.equal(r.json && r.json.success, false, `${what}: ${r.text}`);
    }
  });
});
