'use strict';
// SPEC §1c, the study-space booking system: `join:role|library|tenant|user` with a plain
// string payload, and its tooling endpoints POST /api/test/socket-event and
// GET /api/test/socket-stats with their exact envelopes.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, isTimestamp } = require('../lib/switchboard');

describe('study-space booking (SPEC §1c)', () => {
  const ctx = useSwitchboard();

  async function open(mode) {
    const s = ctx.clients.socket('/', mode.opts);
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
        const staff = await open(mode);
        const student = await open(mode);
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
        const a = await open(mode);
        const b = await open(mode);
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
        const s = ctx.clients.socket('/', mode.opts);
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
    });
  }
});
