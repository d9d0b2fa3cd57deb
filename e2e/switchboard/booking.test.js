'use strict';
// SPEC §1c, the study-space booking system: `join:role|library|tenant|user` with a plain
// string payload, and its tooling endpoints POST /api/test/socket-event and
// GET /api/test/socket-stats with their exact envelopes. Every one of these rooms is
// identity-bound (SPEC §3): clients connect with a JWT, and joins outside the token's
// roles / tenant / user id are denied.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, isTimestamp, marker, jwtArgs, mintToken } = require('../lib/switchboard');

describe('study-space booking (SPEC §1c)', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });
  const STAFF = mintToken({ sub: 'staff-1', roles: ['staff'], tenant: 't1' });
  const STUDENT = mintToken({ sub: 'stud-1', roles: ['student'], tenant: 't1' });
  const U1 = mintToken({ sub: 'u1', roles: ['student'], tenant: 't1' });
  const U2 = mintToken({ sub: 'u2', roles: ['student'], tenant: 't2' });
  const NO_TENANT = mintToken({ sub: 'u3', roles: ['student'] });

  /** A socket with `auth: { token }` (anonymous without a token) and a recorder; resolves once connected. */
  async function open(mode, token) {
    const s = ctx.clients.socket('/', token ? { ...mode.opts, auth: { token } } : mode.opts);
    const rec = recordAll(s);
    await waitConnect(s);
    return { s, rec };
  }

  /** POST /api/test/socket-event; checks the exact success envelope, returns it. */
  async function socketEvent(body) {
    const r = await ctx.http.post('/api/test/socket-event', body);
    assert.equal(r.status, 200, `HTTP ${r.status}: ${r.text}`);
    assert.match(r.headers.get('content-type') || '', /^application\/json/);
    assert.deepStrictEqual(Object.keys(r.json).sort(), ['data', 'success']);
    assert.equal(r.json.success, true);
    assert.deepStrictEqual(Object.keys(r.json.data).sort(), ['event', 'message', 'room', 'timestamp']);
    assert.equal(r.json.data.message, 'Event emitted');
    assert.equal(r.json.data.event, body.event);
    assert.ok(isTimestamp(r.json.data.timestamp), `timestamp: ${r.json.data.timestamp}`);
    return r.json;
  }

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('join:role "staff" acks; booking:created sent via /api/test/socket-event to role:staff reaches staff only', { timeout: 15_000 }, async () => {
        const staff = await open(mode, STAFF);
        const student = await open(mode, STUDENT);
        assert.deepStrictEqual(await emitAck(staff.s, 'join:role', 'staff'), { success: true, room: 'role:staff' });
        assert.deepStrictEqual(await emitAck(student.s, 'join:role', 'student'), { success: true, room: 'role:student' });

        const booking = { id: 'b-1', seatId: 'A-12', libraryId: 'lib-1', userId: 'u-9', start: '2026-01-05T09:00:00.000Z', end: '2026-01-05T11:00:00.000Z', status: 'confirmed' };
        const res = await socketEvent({ event: 'booking:created', data: booking, room: 'role:staff' });
        assert.equal(res.data.room, 'role:staff');

        const got = await staff.rec.first('booking:created');
        assert.deepStrictEqual(got.args[0], booking);

        // no room: every client. It is also the sync point: the student, which got it,
        // would have got booking:created before it.
        const seats = { libraryId: 'lib-1', available: 41, total: 60 };
        const res2 = await socketEvent({ event: 'seat:availability', data: seats });
        assert.equal(res2.data.room, null);
        const sGot = await student.rec.first('seat:availability');
        assert.deepStrictEqual(sGot.args[0], seats);
        await staff.rec.first('seat:availability');
        assert.deepStrictEqual(student.rec.of('booking:created'), []);
        assert.equal(staff.rec.of('booking:created').length, 1);
        await expectTransport(assert, staff.s, mode);
      });

      it('join:library / join:tenant / join:user ack their rooms; events reach them; socket-stats counts them', { timeout: 15_000 }, async () => {
        const a = await open(mode, U1);
        const b = await open(mode, U2);
        assert.deepStrictEqual(await emitAck(a.s, 'join:library', 'lib-1'), { success: true, room: 'library:lib-1' });
        assert.deepStrictEqual(await emitAck(a.s, 'join:tenant', 't1'), { success: true, room: 'tenant:t1' });
        assert.deepStrictEqual(await emitAck(a.s, 'join:user', 'u1'), { success: true, room: 'user:u1' });
        assert.deepStrictEqual(await emitAck(b.s, 'join:library', 'lib-2'), { success: true, room: 'library:lib-2' });

        const lib = { id: 'lib-1', name: 'Main library', seats: 60 };
        assert.equal((await socketEvent({ event: 'library:updated', data: lib, room: 'library:lib-1' })).data.room, 'library:lib-1');
        const pricing = { tenantId: 't1', hourly: 2.5, currency: 'EUR' };
        await ctx.http.publish({ event: 'pricing:updated', data: pricing, rooms: ['tenant:t1'] });
        const note = { title: 'Booking reminder', message: 'Your slot starts in 15 minutes' };
        await ctx.http.publish({ event: 'notification', data: note, rooms: ['user:u1'] });
        await ctx.http.publish({ event: 'sync', data: null });

        await a.rec.first('sync');
        await b.rec.first('sync');
        const names = (x) => x.rec.names().filter((n) => ['library:updated', 'pricing:updated', 'notification'].includes(n));
        assert.deepStrictEqual(names(a), ['library:updated', 'pricing:updated', 'notification']);
        assert.deepStrictEqual(names(b), []);
        assert.deepStrictEqual(a.rec.of('library:updated')[0].args[0], lib);
        assert.deepStrictEqual(a.rec.of('pricing:updated')[0].args[0], pricing);
        assert.deepStrictEqual(a.rec.of('notification')[0].args[0], note);

        // GET /api/test/socket-stats: 2 sockets; rooms library:lib-1, tenant:t1, user:u1,
        // library:lib-2 (socket id rooms are not counted)
        const r = await ctx.http.get('/api/test/socket-stats');
        assert.equal(r.status, 200, `HTTP ${r.status}: ${r.text}`);
        assert.deepStrictEqual(Object.keys(r.json).sort(), ['data', 'success']);
        assert.equal(r.json.success, true);
        assert.deepStrictEqual(Object.keys(r.json.data).sort(), ['activeRooms', 'timestamp', 'totalConnections']);
        assert.equal(r.json.data.totalConnections, 2);
        assert.equal(r.json.data.activeRooms, 4);
        assert.ok(isTimestamp(r.json.data.timestamp), `timestamp: ${r.json.data.timestamp}`);
        await expectTransport(assert, a.s, mode);
      });

      it('join:* without an ack callback, frontend style, still joins', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', { ...mode.opts, auth: { token: STAFF } });
        const rec = recordAll(s);
        s.on('connect', () => {
          s.emit('join:role', 'staff');
          s.emit('join:library', 'lib-3');
        });
        await waitConnect(s);
        await ctx.http.waitRoom('library:lib-3', 1);
        assert.deepStrictEqual((await ctx.http.stats()).rooms.find((x) => x.name === 'role:staff'), { name: 'role:staff', members: 1 });
        await socketEvent({ event: 'booking:cancelled', data: { id: 'b-2' }, room: 'role:staff' });
        assert.deepStrictEqual((await rec.first('booking:cancelled')).args[0], { id: 'b-2' });
        assert.deepStrictEqual(rec.of('error'), []);
      });

      it('join:role / join:tenant / join:user / join:library outside the token are denied: error ack or `error` event, no room, still connected', { timeout: 15_000 }, async () => {
        const anon = await open(mode);
        const student = await open(mode, STUDENT); // stud-1, student, tenant t1
        const u2 = await open(mode, U2); // u2, student, tenant t2
        const noTenant = await open(mode, NO_TENANT); // u3, student, no tenant
        const attempts = [
          // [who, socket, event, id, expected error]
          ['anonymous', anon, 'join:role', 'student', /^authentication required/],
          ['anonymous', anon, 'join:library', 'lib-1', /^authentication required/],
          ['anonymous', anon, 'join:tenant', 't1', /^authentication required/],
          ['anonymous', anon, 'join:user', 'u1', /^authentication required/],
          ['student', student, 'join:role', 'staff', /./],
          ['student', student, 'join:role', 'admin', /./],
          ['tenant t1', student, 'join:tenant', 't2', /./],
          ['tenant t2', u2, 'join:tenant', 't1', /./],
          ['no tenant', noTenant, 'join:tenant', 't1', /./],
          ['stud-1', student, 'join:user', 'u1', /./],
          ['u2', u2, 'join:user', 'stud-1', /./],
        ];
        for (const [who, x, event, id, re] of attempts) {
          const ack = await emitAck(x.s, event, id);
          const label = `${who}: ${event} ${JSON.stringify(id)} → ${JSON.stringify(ack)}`;
          assert.deepStrictEqual(Object.keys(ack || {}).sort(), ['error', 'success'], label);
          assert.equal(ack.success, false, label);
          assert.equal(typeof ack.error, 'string', label);
          assert.match(ack.error, re, label);
        }
        // frontend style, no ack callback: an `error` event per denial, in order
        student.s.emit('join:role', 'staff');
        student.s.emit('join:tenant', 't2');
        student.s.emit('join:user', 'u1');
        await student.rec.until((xs) => xs.filter((i) => i.event === 'error').length >= 3, 'three `error` events');
        const errors = student.rec.of('error').map((i) => i.args[0]);
        assert.deepStrictEqual(errors.map((e) => [e.event, e.success, typeof e.error]), [
          ['join:role', false, 'string'],
          ['join:tenant', false, 'string'],
          ['join:user', false, 'string'],
        ]);

        // no room came of it, and the rooms hear nothing
        const stats = await ctx.http.stats();
        assert.deepStrictEqual(stats.rooms, [], `rooms: ${JSON.stringify(stats.rooms)}`);
        for (const room of ['role:staff', 'role:admin', 'role:student', 'tenant:t1', 'tenant:t2', 'user:u1', 'user:stud-1', 'library:lib-1']) {
          await ctx.http.publish({ event: 'probe', data: { room }, rooms: [room] });
        }
        const m = marker('sync');
        await ctx.http.publish({ event: 'sync', data: { marker: m } });
        for (const x of [anon, student, u2, noTenant]) {
          await x.rec.first('sync', (d) => d && d.marker === m);
          assert.deepStrictEqual(x.rec.of('probe'), []);
          assert.equal(x.s.connected, true);
        }
        // the same sockets still join their own rooms (anonymous: nothing identity-bound)
        assert.deepStrictEqual(await emitAck(student.s, 'join:role', 'student'), { success: true, room: 'role:student' });
        assert.deepStrictEqual(await emitAck(student.s, 'join:tenant', 't1'), { success: true, room: 'tenant:t1' });
        assert.deepStrictEqual(await emitAck(student.s, 'join:user', 'stud-1'), { success: true, room: 'user:stud-1' });
        assert.deepStrictEqual(await emitAck(u2.s, 'join:tenant', 't2'), { success: true, room: 'tenant:t2' });
        assert.deepStrictEqual(await emitAck(noTenant.s, 'join:library', 'lib-1'), { success: true, room: 'library:lib-1' });
        await expectTransport(assert, student.s, mode);
      });
    });
  }
});
