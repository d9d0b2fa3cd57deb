'use strict';
// SPEC §1b, the service-queue system: joins with ack callbacks, staffConnectionUpdate and
// queueUserJoined lifecycle events, and backend events published to several rooms at once
// (each member gets exactly one copy).

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, isTimestamp, marker, sameJson } = require('../lib/switchboard');

describe('service queue (SPEC §1b)', () => {
  const ctx = useSwitchboard();

  /** A socket with a recorder attached before connecting; resolves once connected. */
  async function open(mode) {
    const s = ctx.clients.socket('/', mode.opts);
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
        const staff = await open(mode);
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

        const admin = await open(mode);
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
        const staff = await open(mode); // staff dashboard: in neither room
        const customer = await open(mode); // service-loans
        const counter = await open(mode); // counter-1
        const both = await open(mode); // service-loans and counter-1
        const elsewhere = await open(mode); // service-deposits, counter-2

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
        const u = await open(mode);
        assert.deepStrictEqual(await emitAck(u.s, 'joinUserRoom', { userId: 42 }), { success: true, room: 'user-42' });
        assert.equal(await emitAck(u.s, 'ping'), 'pong');
        const d = await ctx.http.publish({ event: 'ticketCalled', data: { id: 'T-7' }, rooms: ['user-42'] });
        assert.equal(d.recipients, 1);
        const got = await u.rec.first('ticketCalled');
        assert.deepStrictEqual(got.args[0], { id: 'T-7' });
        await expectTransport(assert, u.s, mode);
      });
    });
  }
});
