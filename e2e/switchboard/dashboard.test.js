'use strict';
// SPEC §1a/§1b: the ERP `dashboard:subscribe` joins `kpi-dashboard`, which is not the
// queue system's staff room `dashboard`; events published to one never reach the other.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, marker, jwtArgs, mintToken } = require('../lib/switchboard');

/** A `dashboard:update` payload of SPEC §1a, tagged with `marker` so a test knows its own. */
function dashboardUpdate(m) {
  return {
    summaryCards: [{ system: 'finance', status: 'success', kpis: 3 }],
    topKPIs: [{ id: 'revenue', label: 'Revenue', value: 125000, trend: 'up', status: 'success' }],
    timestamp: new Date().toISOString(),
    marker: m,
  };
}

const tagged = (i) => i.event === 'dashboard:update' && i.args[0] && typeof i.args[0].marker === 'string';

describe('KPI dashboard vs staff dashboard rooms', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });
  const STAFF = mintToken({ sub: 'staff-1', roles: ['staff'] });

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('dashboard:subscribe acks { success: true, room: "kpi-dashboard" }', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        await waitConnect(s);
        assert.deepStrictEqual(await emitAck(s, 'dashboard:subscribe', {}), { success: true, room: 'kpi-dashboard' });
        const stats = await ctx.http.stats();
        assert.deepStrictEqual(stats.rooms.find((r) => r.name === 'kpi-dashboard'), { name: 'kpi-dashboard', members: 1 });
        assert.equal(stats.rooms.find((r) => r.name === 'dashboard'), undefined, 'joined the staff room too');
        await expectTransport(assert, s, mode);
      });

      it('dashboard:update published to kpi-dashboard arrives; one published to the staff room does not', { timeout: 15_000 }, async () => {
        // ERP frontend style: subscribe from the connect handler, no ack
        const kpi = ctx.clients.socket('/', mode.opts);
        const kpiRec = recordAll(kpi);
        kpi.on('connect', () => kpi.emit('dashboard:subscribe', {}));
        // a staff dashboard (queue system) in the `dashboard` room: staff only, by token
        const staff = ctx.clients.socket('/', { ...mode.opts, auth: { token: STAFF } });
        const staffRec = recordAll(staff);
        await Promise.all([waitConnect(kpi), waitConnect(staff)]);
        assert.deepStrictEqual(
          await emitAck(staff, 'joinDashboard', { userRole: 'staff', userId: 'staff-1' }),
          { success: true, room: 'dashboard' },
        );
        await ctx.http.waitRoom('kpi-dashboard', 1);

        // staff room first: were it delivered to the KPI socket, it would come first
        const mStaff = marker('staff');
        const mKpi = marker('kpi');
        const dStaff = await ctx.http.publish({ event: 'dashboard:update', data: dashboardUpdate(mStaff), rooms: ['dashboard'] });
        assert.deepStrictEqual(dStaff.delivered_to_rooms, ['dashboard']);
        assert.equal(dStaff.recipients, 1);
        const dKpi = await ctx.http.publish({ event: 'dashboard:update', data: dashboardUpdate(mKpi), rooms: ['kpi-dashboard'] });
        assert.deepStrictEqual(dKpi.delivered_to_rooms, ['kpi-dashboard']);
        assert.equal(dKpi.recipients, 1);

        // (a server-side snapshot on subscribe, SPEC §1a, carries no marker and is ignored)
        await kpiRec.until((xs) => xs.some(tagged), 'a tagged dashboard:update on the KPI socket');
        const first = kpiRec.items.find(tagged);
        assert.equal(first.args[0].marker, mKpi, 'the first tagged dashboard:update on the KPI socket is not the kpi-dashboard one');
        assert.deepStrictEqual(Object.keys(first.args[0]).sort(), ['marker', 'summaryCards', 'timestamp', 'topKPIs']);

        const staffGot = await staffRec.first('dashboard:update', (d) => d && d.marker === mStaff);
        assert.equal(staffGot.args[0].marker, mStaff);

        const m = marker('sync');
        await ctx.http.publish({ event: 'sync', data: { marker: m } });
        await kpiRec.first('sync', (d) => d && d.marker === m);
        await staffRec.first('sync', (d) => d && d.marker === m);
        assert.deepStrictEqual(kpiRec.items.filter(tagged).map((i) => i.args[0].marker), [mKpi]);
        assert.deepStrictEqual(staffRec.items.filter(tagged).map((i) => i.args[0].marker), [mStaff]);
        assert.deepStrictEqual(kpiRec.of('error'), []);
        await expectTransport(assert, kpi, mode);
      });
    });
  }
});
