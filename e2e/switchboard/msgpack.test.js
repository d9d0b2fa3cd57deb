'use strict';
// The msgpack parser (README "Decisions", SPEC §7): switchboard started with
// SWITCHBOARD_PARSER=msgpack, driven by the official socket.io-client with
// `parser: require('socket.io-msgpack-parser')` over WebSocket and long-polling: connect,
// a rule join with its ack and snapshot, a publish fan-out to a room except another, acks,
// binary payloads, connection state recovery, and a JSON-parser client refused cleanly.
// Binary echo both ways runs against the engine's `conformance` example with PARSER=msgpack
// (the product has no event that sends client bytes back).

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const msgpackParser = require('socket.io-msgpack-parser');
const { MODES, waitConnect, once, clientFactory, expectTransport, withTimeout } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, marker } = require('../lib/switchboard');
const { startConformance } = require('../lib/server');

const MSGPACK = { parser: msgpackParser };
const TRANSPORTS = MODES.filter((m) => ['websocket', 'polling', 'polling+upgrade'].includes(m.name));

function bytes(n, seed) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** A received binary value (Buffer, ArrayBuffer or view) as a Buffer. */
function asBuffer(v) {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof ArrayBuffer) return Buffer.from(v);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  throw new Error(`not binary: ${JSON.stringify(v)}`);
}

describe('msgpack parser: switchboard', () => {
  const ctx = useSwitchboard({ extraEnv: { SWITCHBOARD_PARSER: 'msgpack' } });

  for (const mode of TRANSPORTS) {
    describe(mode.name, () => {
      it('connects: lifecycle events, a rule join with its ack and snapshot, ping ack', { timeout: 20_000 }, async () => {
        const s = ctx.clients.socket('/', { ...mode.opts, ...MSGPACK });
        const rec = recordAll(s);
        await waitConnect(s);
        await rec.until((xs) => xs.some((i) => i.event === 'connected'), '"connected"');
        assert.equal(rec.items[0].event, 'connection:status');
        assert.equal(rec.items[0].args[0].status, 'connected');
        assert.equal(rec.of('connected')[0].args[0].socketId, s.id);

        assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: 'finance' }), { success: true, room: 'module:finance' });
        const snap = await rec.first('kpi:update:finance');
        assert.ok(Array.isArray(snap.args[0]), `snapshot: ${JSON.stringify(snap.args)}`);
        // a refused join answers through the ack as well
        const denied = await emitAck(s, 'joinCounter', { counterId: '1' });
        assert.equal(denied.success, false);
        assert.equal(typeof denied.error, 'string');
        // client → server ack round trip, with binary data in the event
        assert.equal(await emitAck(s, 'ping', bytes(64, 1)), 'pong');
        await expectTransport(assert, s, mode);
      });

      it('publish API fan-out reaches the room, except the excepted room, with KPI writes', { timeout: 20_000 }, async () => {
        const a = ctx.clients.socket('/', { ...mode.opts, ...MSGPACK });
        const b = ctx.clients.socket('/', { ...mode.opts, ...MSGPACK });
        const ra = recordAll(a);
        const rb = recordAll(b);
        await Promise.all([waitConnect(a), waitConnect(b)]);
        await emitAck(a, 'module:subscribe', { moduleKey: 'mpfan' });
        await emitAck(b, 'module:subscribe', { moduleKey: 'mpfan' });
        await emitAck(b, 'module:subscribe', { moduleKey: 'mpother' });
        const m1 = marker('one');
        const d = await ctx.http.publish({ event: 'mp:news', data: { m: m1, n: [1, -2, 3.5, null, 'é'] }, rooms: ['module:mpfan'], except: ['module:mpother'] });
        assert.equal(d.recipients, 1);
        const m2 = marker('two');
        await ctx.http.publish({ event: 'mp:news', data: { m: m2 }, rooms: ['module:mpfan'] });
        await ra.until((xs) => xs.filter((i) => i.event === 'mp:news').length === 2, 'two mp:news on a');
        await rb.first('mp:news', (x) => x.m === m2);
        assert.deepStrictEqual(ra.of('mp:news').map((i) => i.args[0]), [{ m: m1, n: [1, -2, 3.5, null, 'é'] }, { m: m2 }]);
        // b (in the excepted room) only got the second
        assert.deepStrictEqual(rb.of('mp:news').map((i) => i.args[0].m), [m2]);

        // a KPI write reaches the module room as kpi:update:{module}
        const kpis = [{ id: 'revenue', label: 'Revenue', value: 1200.5, trend: 'up', status: 'success' }];
        const put = await ctx.http.put('/api/v1/modules/mpfan/kpis', kpis);
        assert.equal(put.status, 200, put.text);
        const upd = await ra.first('kpi:update:mpfan', (x) => Array.isArray(x) && x.some((k) => k.value === 1200.5));
        assert.deepStrictEqual(upd.args[0].find((k) => k.id === 'revenue').label, 'Revenue');
        await expectTransport(assert, a, mode);
      });

      it('notifications reach the user room', { timeout: 20_000 }, async () => {
        // an anonymous socket in the room gets a room-targeted notification live
        const s = ctx.clients.socket('/', { ...mode.opts, ...MSGPACK });
        const rec = recordAll(s);
        await waitConnect(s);
        await emitAck(s, 'joinServiceQueue', { serviceType: 'mpq' });
        const r = await ctx.http.post('/api/v1/notifications', { room: 'service-mpq', title: 'Ticket', message: 'A-12', severity: 'info' });
        assert.ok(r.status === 200 || r.status === 201, r.text);
        const n = await rec.first('notification:new');
        assert.equal(n.args[0].title, 'Ticket');
        assert.equal(n.args[0].unreadCount, null);
      });

      it('connection state recovery: recovered === true, missed events exactly once', { timeout: 20_000 }, async () => {
        const s = ctx.clients.socket('/', { ...mode.opts, ...MSGPACK });
        const rec = recordAll(s);
        await waitConnect(s);
        const room = `module:mprec${mode.name.replace(/\W/g, '')}`;
        await emitAck(s, 'module:subscribe', { moduleKey: room.slice('module:'.length) });
        const tag = marker('rec');
        await ctx.http.publish({ event: 'mp:rec', data: { tag, i: 1 }, rooms: [room] });
        await rec.first('mp:rec', (x) => x.tag === tag && x.i === 1);

        // the transport drops; the server sees the socket leave, two events are missed
        const gone = once(s, 'disconnect', 5_000, 'the disconnect');
        s.io.engine.close();
        await gone;
        await ctx.http.waitRoom(room, 0);
        await ctx.http.publish({ event: 'mp:rec', data: { tag, i: 2 }, rooms: [room] });
        await ctx.http.publish({ event: 'mp:rec', data: { tag, i: 3 }, rooms: [room] });

        s.connect(); // reconnection is off in the factory: reconnect by hand, same pid + offset
        await waitConnect(s, 10_000);
        assert.equal(s.recovered, true, 'recovered');
        await ctx.http.publish({ event: 'mp:rec', data: { tag, i: 4 }, rooms: [room] });
        await rec.first('mp:rec', (x) => x.tag === tag && x.i === 4);
        assert.deepStrictEqual(rec.of('mp:rec').map((i) => i.args[0].i), [1, 2, 3, 4]);
      });
    });
  }

  it('a client with the default JSON parser is refused with a clear connect_error, and counted', { timeout: 20_000 }, async () => {
    const before = (await ctx.http.stats()).counters.parser_mismatch;
    for (const mode of TRANSPORTS.slice(0, 2)) {
      const s = ctx.clients.socket('/', mode.opts);
      const err = await once(s, 'connect_error', 5_000, 'connect_error of a JSON client');
      assert.match(err[0].message, /msgpack/);
      assert.equal(s.connected, false);
    }
    const after = (await ctx.http.stats()).counters.parser_mismatch;
    assert.ok(after >= before + 2, `parser_mismatch ${before} → ${after}`);
    // the server is fine: a msgpack client still connects
    const ok = ctx.clients.socket('/', { transports: ['websocket'], ...MSGPACK });
    await waitConnect(ok);
    assert.equal(await emitAck(ok, 'ping'), 'pong');
  });
});

describe('msgpack parser: a JSON server refuses a msgpack client', () => {
  const ctx = useSwitchboard();

  it('connect_error names the JSON parser', { timeout: 20_000 }, async () => {
    const s = ctx.clients.socket('/', { transports: ['websocket'], ...MSGPACK });
    const err = await once(s, 'connect_error', 5_000, 'connect_error of a msgpack client');
    assert.match(err[0].message, /JSON/);
    assert.ok((await ctx.http.stats()).counters.parser_mismatch >= 1);
  });
});

describe('msgpack parser: binary both ways (conformance example, PARSER=msgpack)', () => {
  let server;
  let clients;
  before(async () => {
    server = await startConformance({ parser: 'msgpack' });
    clients = clientFactory(server.url);
  });
  afterEach(() => clients.closeAll());
  after(async () => {
    if (clients) clients.closeAll();
    if (server) await server.stop();
  });

  for (const mode of TRANSPORTS) {
    it(`${mode.name}: binary event echo and binary ack, nested and large`, { timeout: 20_000 }, async () => {
      const s = await clients.connect('/', { ...mode.opts, ...MSGPACK });
      const big = bytes(200_000, 7);
      const small = bytes(3, 1);
      const back = once(s, 'message-back');
      s.emit('message', small, { nested: { data: big, list: [bytes(1, 9), 'x', 2] } });
      const args = await back;
      assert.ok(asBuffer(args[0]).equals(small));
      assert.ok(asBuffer(args[1].nested.data).equals(big));
      assert.ok(asBuffer(args[1].nested.list[0]).equals(bytes(1, 9)));
      assert.deepStrictEqual(args[1].nested.list.slice(1), ['x', 2]);

      const ack = await withTimeout(
        new Promise((resolve) => s.emit('message-with-ack', 1, '2', bytes(10, 3), (...a) => resolve(a))),
        5_000,
        'binary ack',
      );
      assert.equal(ack[0], 1);
      assert.equal(ack[1], '2');
      assert.ok(asBuffer(ack[2]).equals(bytes(10, 3)));
      await expectTransport(assert, s, mode);
    });
  }
});
