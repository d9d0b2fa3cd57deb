'use strict';
// SPEC §1b, the service-queue system: joins with ack callbacks, staffConnectionUpdate and
// queueUserJoined lifecycle events, and backend events published to several rooms at once
// (each member gets exactly one copy). Staff, counters and user rooms are identity-bound
// (SPEC §3): those clients connect with a JWT; the payload's userRole / userId never count.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, isTimestamp, marker, sameJson, jwtArgs, mintToken } = require('../lib/switchboard');

describe('service queue (SPEC §1b)', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });
  const STAFF = mintToken({ sub: 'staff-1', roles: ['staff'] });
  const STAFF2 = mintToken({ sub: 'staff-2', roles: ['staff'] });
  const ADMIN = mintToken({ sub: 'admin-1', roles: ['admin'] });
  const USER42 = mintToken({ sub: '42', roles: ['customer'] });
  const CUSTOMER = mintToken({ sub: 'cust-7', roles: ['customer'] });

  /**
   * A socket (with `token` as `auth: { token }`, anonymous without) with a recorder
   * attached before connecting; resolves once connected.
   */
  async function open(mode, token) {
    const s = ctx.clients.socket('/', token ? { ...mode.opts, auth: { token } } : mode.opts);
    const rec = recordAll(s);
    await waitConnect(s);
    const connected = await rec.first('connected');
    return { s, rec, clientId: connected.args[0].clientId };
  }

  /** Broadcasts a marker and resolves once every recorder has it (all earlier publishes are in). */
  async function sync(...recs) {
    const m = marker('sync');
    await ctx.http.publish({ event: 'sync', data: { marker: m } });
    for (const rec of recs) await rec.first('sync', (d) => d && d.marker === m);
  }

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('joinDashboard acks and announces staffConnectionUpdate (connected, disconnected)', { timeout: 15_000 }, async () => {
        const staff = await open(mode, STAFF);
        assert.deepStrictEqual(
          await emitAck(staff.s, 'joinDashboard', { userRole: 'staff', userId: 'staff-1' }),
          { success: true, room: 'dashboard' },
        );
        const own = (await staff.rec.first('staffConnectionUpdate')).args[0];
        assert.deepStrictEqual(Object.keys(own).sort(), ['action', 'clientId', 'timestamp', 'totalConnected']);
        assert.equal(own.action, 'connected');
        assert.equal(own.clientId, staff.clientId);
        assert.equal(own.totalConnected, 1);
        assert.ok(isTimestamp(own.timestamp), `timestamp: ${own.timestamp}`);

        const admin = await open(mode, ADMIN);
        assert.deepStrictEqual(
          await emitAck(admin.s, 'joinDashboard', { userRole: 'admin', userId: 'admin-1' }),
          { success: true, room: 'dashboard' },
        );
        const joined = (await staff.rec.first('staffConnectionUpdate', (d) => d.clientId === admin.clientId)).args[0];
        assert.equal(joined.action, 'connected');
        assert.equal(joined.totalConnected, 2);

        admin.s.disconnect();
        const left = (await staff.rec.first('staffConnectionUpdate', (d) => d.action === 'disconnected')).args[0];
        assert.equal(left.clientId, admin.clientId);
        assert.equal(left.totalConnected, 1);
        assert.ok(isTimestamp(left.timestamp), `timestamp: ${left.timestamp}`);
        await expectTransport(assert, staff.s, mode);
      });

      it('joinServiceQueue acks and announces queueUserJoined to the service room', { timeout: 15_000 }, async () => {
        const first = await open(mode);
        assert.deepStrictEqual(
          await emitAck(first.s, 'joinServiceQueue', { serviceType: 'loans' }),
          { success: true, room: 'service-loans' },
        );
        const own = (await first.rec.first('queueUserJoined')).args[0];
        assert.deepStrictEqual(Object.keys(own).sort(), ['clientId', 'serviceType', 'timestamp']);
        assert.equal(own.serviceType, 'loans');
        assert.equal(own.clientId, first.clientId);
        assert.ok(isTimestamp(own.timestamp), `timestamp: ${own.timestamp}`);

        const second = await open(mode);
        assert.deepStrictEqual(
          await emitAck(second.s, 'joinServiceQueue', { serviceType: 'loans' }),
          { success: true, room: 'service-loans' },
        );
        const other = (await first.rec.first('queueUserJoined', (d) => d.clientId === second.clientId)).args[0];
        assert.equal(other.serviceType, 'loans');

        // another service's queue hears nothing of it
        const deposits = await open(mode);
        assert.deepStrictEqual(
          await emitAck(deposits.s, 'joinServiceQueue', { serviceType: 'deposits' }),
          { success: true, room: 'service-deposits' },
        );
        await sync(first.rec, second.rec, deposits.rec);
        assert.deepStrictEqual(deposits.rec.of('queueUserJoined').map((i) => i.args[0].serviceType), ['deposits']);
        assert.deepStrictEqual(first.rec.of('queueUserJoined').map((i) => i.args[0].serviceType), ['loans', 'loans']);
        await expectTransport(assert, first.s, mode);
      });

      it('ticketCreated published to ["service-loans","counter-1"] reaches each member exactly once', { timeout: 15_000 }, async () => {
        const staff = await open(mode, STAFF); // staff dashboard: in neither room
        const customer = await open(mode); // service-loans (anonymous: the queue is public)
        const counter = await open(mode, STAFF2); // counter-1
        const both = await open(mode, STAFF2); // service-loans and counter-1
        const elsewhere = await open(mode, STAFF); // service-deposits, counter-2

        assert.deepStrictEqual(await emitAck(staff.s, 'joinDashboard', { userRole: 'staff', userId: 's1' }), { success: true, room: 'dashboard' });
        assert.deepStrictEqual(await emitAck(customer.s, 'joinServiceQueue', { serviceType: 'loans' }), { success: true, room: 'service-loans' });
        assert.deepStrictEqual(await emitAck(counter.s, 'joinCounter', { counterId: 1 }), { success: true, room: 'counter-1' });
        assert.deepStrictEqual(await emitAck(both.s, 'joinServiceQueue', { serviceType: 'loans' }), { success: true, room: 'service-loans' });
        assert.deepStrictEqual(await emitAck(both.s, 'joinCounter', { counterId: '1' }), { success: true, room: 'counter-1' });
        assert.deepStrictEqual(await emitAck(elsewhere.s, 'joinServiceQueue', { serviceType: 'deposits' }), { success: true, room: 'service-deposits' });
        assert.deepStrictEqual(await emitAck(elsewhere.s, 'joinCounter', { counterId: 2 }), { success: true, room: 'counter-2' });

        const ticket = { id: 'T-1001', number: 'L-017', serviceType: 'loans', counterId: 1, status: 'waiting', createdAt: new Date().toISOString() };
        const d = await ctx.http.publish({ event: 'ticketCreated', data: ticket, rooms: ['service-loans', 'counter-1'] });
        assert.deepStrictEqual(d.delivered_to_rooms, ['service-loans', 'counter-1']);
        assert.equal(d.recipients, 3);

        const all = [staff, customer, counter, both, elsewhere];
        await sync(...all.map((x) => x.rec));
        for (const [name, x, copies] of [['customer', customer, 1], ['counter', counter, 1], ['both', both, 1], ['staff', staff, 0], ['elsewhere', elsewhere, 0]]) {
          const got = x.rec.of('ticketCreated');
          assert.equal(got.length, copies, `${name} got ${got.length} ticketCreated, expected ${copies}`);
          for (const g of got) assert.deepStrictEqual(g.args[0], ticket);
        }

        // a batch: published in order, one delivery report per item
        const serving = { id: 'T-1001', counterId: 1, status: 'serving' };
        const queue = { serviceType: 'loans', waiting: 4 };
        const batch = await ctx.http.publish([
          { event: 'ticketServing', data: serving, rooms: ['counter-1', 'service-loans'] },
          { event: 'queueUpdated', data: queue, rooms: ['service-loans'] },
        ]);
        assert.ok(Array.isArray(batch) && batch.length === 2, `batch response data: ${JSON.stringify(batch)}`);
        assert.deepStrictEqual(batch.map((b) => b.delivered_to_rooms), [['counter-1', 'service-loans'], ['service-loans']]);
        assert.deepStrictEqual(batch.map((b) => b.recipients), [3, 2]);
        await sync(...all.map((x) => x.rec));
        const tail = (x) => x.rec.names().filter((n) => n === 'ticketServing' || n === 'queueUpdated');
        assert.deepStrictEqual(tail(both), ['ticketServing', 'queueUpdated']);
        assert.deepStrictEqual(tail(customer), ['ticketServing', 'queueUpdated']);
        assert.deepStrictEqual(tail(counter), ['ticketServing']);
        assert.deepStrictEqual(tail(staff), []);
        assert.ok(sameJson(both.rec.of('ticketServing')[0].args[0], serving));
        assert.ok(sameJson(both.rec.of('queueUpdated')[0].args[0], queue));

        // leaveRoom: `both` leaves counter-1 and still gets one copy, via service-loans
        assert.deepStrictEqual(await emitAck(both.s, 'leaveRoom', { room: 'counter-1' }), { success: true, room: 'counter-1' });
        const done = { id: 'T-1001', status: 'completed' };
        const d2 = await ctx.http.publish({ event: 'ticketCompleted', data: done, rooms: ['service-loans', 'counter-1'] });
        assert.equal(d2.recipients, 3);
        assert.deepStrictEqual(await emitAck(counter.s, 'leaveRoom', { room: 'counter-1' }), { success: true, room: 'counter-1' });
        const d3 = await ctx.http.publish({ event: 'counterStatusChange', data: { counterId: 1, status: 'closed' }, rooms: ['counter-1'] });
        assert.equal(d3.recipients, 0);
        await sync(...all.map((x) => x.rec));
        assert.equal(both.rec.of('ticketCompleted').length, 1);
        assert.equal(counter.rec.of('ticketCompleted').length, 1);
        assert.equal(customer.rec.of('ticketCompleted').length, 1);
        for (const x of all) assert.deepStrictEqual(x.rec.of('counterStatusChange'), []);
        for (const x of all) assert.deepStrictEqual(x.rec.of('error'), []);
        await expectTransport(assert, both.s, mode);
      });

      it('joinUserRoom acks user-{id}; ping acks "pong"', { timeout: 15_000 }, async () => {
        const u = await open(mode, USER42); // sub "42"
        assert.deepStrictEqual(await emitAck(u.s, 'joinUserRoom', { userId: 42 }), { success: true, room: 'user-42' });
        assert.equal(await emitAck(u.s, 'ping'), 'pong');
        const d = await ctx.http.publish({ event: 'ticketCalled', data: { id: 'T-7' }, rooms: ['user-42'] });
        assert.equal(d.recipients, 1);
        const got = await u.rec.first('ticketCalled');
        assert.deepStrictEqual(got.args[0], { id: 'T-7' });
        await expectTransport(assert, u.s, mode);
      });

      it('staff dashboard, counters and user rooms are checked against the token: denials ack an error, join nothing, stay connected', { timeout: 15_000 }, async () => {
        // a staff member already on the dashboard sees every staffConnectionUpdate
        const staff = await open(mode, STAFF);
        assert.deepStrictEqual(await emitAck(staff.s, 'joinDashboard', { userRole: 'staff', userId: 'staff-1' }), { success: true, room: 'dashboard' });
        await staff.rec.first('staffConnectionUpdate', (d) => d.clientId === staff.clientId);

        const anon = await open(mode);
        const customer = await open(mode, CUSTOMER);
        const admin = await open(mode, ADMIN); // admin, but not staff: no counter
        const user42 = await open(mode, USER42);
        const attempts = [
          // [who, socket, event, payload, expected error (RegExp)]
          ['anonymous', anon, 'joinDashboard', { userRole: 'admin', userId: 'admin-1' }, /^authentication required/],
          ['anonymous', anon, 'joinCounter', { counterId: 1 }, /^authentication required/],
          ['anonymous', anon, 'joinUserRoom', { userId: 42 }, /^authentication required/],
          // client-declared role / id never count
          ['customer claiming admin', customer, 'joinDashboard', { userRole: 'admin', userId: 'admin-1' }, /./],
          ['customer claiming staff', customer, 'joinDashboard', { userRole: 'staff', userId: 'cust-7' }, /./],
          ['customer', customer, 'joinCounter', { counterId: 1 }, /./],
          ['customer cust-7', customer, 'joinUserRoom', { userId: 42 }, /./],
          ['admin (not staff)', admin, 'joinCounter', { counterId: 1 }, /./],
          ['user 42', user42, 'joinUserRoom', { userId: 'cust-7' }, /./],
          ['user 42', user42, 'joinDashboard', { userRole: 'staff', userId: '42' }, /./],
        ];
        for (const [who, x, event, payload, re] of attempts) {
          const ack = await emitAck(x.s, event, payload);
          const label = `${who}: ${event} ${JSON.stringify(payload)} → ${JSON.stringify(ack)}`;
          assert.deepStrictEqual(Object.keys(ack || {}).sort(), ['error', 'success'], label);
          assert.equal(ack.success, false, label);
          assert.equal(typeof ack.error, 'string', label);
          assert.match(ack.error, re, label);
        }
        // without an ack callback, the denial comes as an `error` event
        customer.s.emit('joinDashboard', { userRole: 'admin', userId: 'admin-1' });
        anon.s.emit('joinCounter', { counterId: 1 });
        const [e1] = (await customer.rec.first('error')).args;
        assert.deepStrictEqual([e1.event, e1.success, typeof e1.error], ['joinDashboard', false, 'string'], JSON.stringify(e1));
        const [e2] = (await anon.rec.first('error')).args;
        assert.deepStrictEqual([e2.event, e2.success], ['joinCounter', false], JSON.stringify(e2));
        assert.match(e2.error, /^authentication required/);

        // nobody joined anything: only the staff member is in `dashboard`; no counter or user room
        for (const x of [anon, customer, admin, user42]) assert.equal(await emitAck(x.s, 'ping'), 'pong');
        const stats = await ctx.http.stats();
        assert.deepStrictEqual(stats.rooms, [{ name: 'dashboard', members: 1 }], `rooms: ${JSON.stringify(stats.rooms)}`);
        assert.equal(stats.connections, 5);
        for (const room of ['counter-1', 'user-42', 'user-cust-7']) {
          assert.equal((await ctx.http.publish({ event: 'probe', data: room, rooms: [room] })).recipients, 0, room);
        }
        // and the staff dashboard heard of no one but itself (sync: everyone has a marker)
        await sync(staff.rec, anon.rec, customer.rec, admin.rec, user42.rec);
        assert.deepStrictEqual(staff.rec.of('staffConnectionUpdate').map((i) => i.args[0].clientId), [staff.clientId]);
        for (const x of [anon, customer, admin, user42]) {
          assert.deepStrictEqual(x.rec.of('staffConnectionUpdate'), []);
          assert.equal(x.s.connected, true);
        }
        // the same sockets still join what they may: the customer a queue, user 42 its room
        assert.deepStrictEqual(await emitAck(customer.s, 'joinServiceQueue', { serviceType: 'loans' }), { success: true, room: 'service-loans' });
        assert.deepStrictEqual(await emitAck(user42.s, 'joinUserRoom', { userId: '42' }), { success: true, room: 'user-42' });
        await expectTransport(assert, customer.s, mode);
      });
    });
  }
});
