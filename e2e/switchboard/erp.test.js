'use strict';
// SPEC §1a, the ERP dashboard frontend: connect events, `module:subscribe` emitted straight
// from the `connect` handler without an ack (as the original frontend does), KPI updates
// published by a backend through POST /api/v1/publish reach the module room only.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, isTimestamp, marker, sameJson } = require('../lib/switchboard');

const FINANCE_KPIS = [
  { id: 'revenue', label: 'Revenue', value: 125000, trend: 'up', status: 'success' },
  { id: 'expenses', label: 'Expenses', value: 98000, trend: 'down', status: 'warning', chart: [1, 2, 3] },
  { id: 'margin', label: 'Margin', value: 21.6, trend: 'flat', status: 'info' },
];
const HR_KPIS = [
  { id: 'headcount', label: 'Headcount', value: 212, trend: 'up', status: 'success' },
  { id: 'attrition', label: 'Attrition', value: 3.2, trend: 'down', status: 'info' },
  { id: 'open-roles', label: 'Open roles', value: 14, trend: 'up', status: 'warning' },
];

const isKpi = (i) => i.event.startsWith('kpi:update:');

describe('ERP dashboard (SPEC §1a)', () => {
  const ctx = useSwitchboard();

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('on connect the server emits connection:status then connected', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        const rec = recordAll(s); // registered before connecting: nothing can be missed
        await waitConnect(s);
        await rec.until((xs) => xs.some((i) => i.event === 'connected'), '"connected"');

        const [status, connected] = rec.items;
        assert.equal(status.event, 'connection:status');
        assert.deepStrictEqual(Object.keys(status.args[0]).sort(), ['status', 'timestamp']);
        assert.equal(status.args[0].status, 'connected');
        assert.ok(isTimestamp(status.args[0].timestamp), `timestamp: ${status.args[0].timestamp}`);

        assert.equal(connected.event, 'connected');
        const c = connected.args[0];
        assert.deepStrictEqual(Object.keys(c).sort(), ['clientId', 'socketId', 'timestamp']);
        assert.ok(Number.isInteger(c.clientId) && c.clientId > 0, `clientId: ${c.clientId}`);
        assert.equal(c.socketId, s.id);
        assert.ok(isTimestamp(c.timestamp), `timestamp: ${c.timestamp}`);
        await expectTransport(assert, s, mode);
      });

      it('module:subscribe emitted on connect without an ack: finance KPIs arrive, hr KPIs never do', { timeout: 15_000 }, async () => {
        // The ERP frontend: subscribe from the connect handler, no ack, no waiting.
        const fin = ctx.clients.socket('/', mode.opts);
        const finRec = recordAll(fin);
        fin.on('connect', () => fin.emit('module:subscribe', { moduleKey: 'finance' }));
        // A second frontend on the hr module, so the hr publish demonstrably goes somewhere.
        const hr = ctx.clients.socket('/', mode.opts);
        const hrRec = recordAll(hr);
        hr.on('connect', () => hr.emit('module:subscribe', { moduleKey: 'hr' }));
        await Promise.all([waitConnect(fin), waitConnect(hr)]);

        // The subscribes and the publishes travel on different connections: publish only
        // once the server shows both subscriptions in effect.
        await ctx.http.waitRoom('module:finance', 1);
        await ctx.http.waitRoom('module:hr', 1);

        // hr first, then finance: were hr delivered to the finance socket, it would be
        // queued ahead of finance and be the first kpi:update:* that socket sees.
        const dHr = await ctx.http.publish({ event: 'kpi:update:hr', data: HR_KPIS, rooms: ['module:hr'] });
        assert.deepStrictEqual(dHr.delivered_to_rooms, ['module:hr']);
        assert.equal(dHr.recipients, 1);
        assert.ok(isTimestamp(dHr.timestamp), `timestamp: ${dHr.timestamp}`);
        const dFin = await ctx.http.publish({ event: 'kpi:update:finance', data: FINANCE_KPIS, rooms: ['module:finance'] });
        assert.deepStrictEqual(dFin.delivered_to_rooms, ['module:finance']);
        assert.equal(dFin.recipients, 1);

        await finRec.until((xs) => xs.some(isKpi), 'a kpi:update:* event on the finance socket');
        const firstKpi = finRec.items.find(isKpi);
        assert.equal(firstKpi.event, 'kpi:update:finance', `first KPI event was ${firstKpi.event}`);
        // The published payload arrives (a server-side snapshot on subscribe, SPEC §1a,
        // would also be kpi:update:finance; only hr must never show up before it).
        const ours = await finRec.first('kpi:update:finance', (d) => sameJson(d, FINANCE_KPIS));
        assert.deepStrictEqual(ours.args[0], FINANCE_KPIS);
        const upToOurs = finRec.items.slice(0, finRec.items.indexOf(ours) + 1);
        assert.deepStrictEqual(upToOurs.filter((i) => i.event === 'kpi:update:hr'), [], 'finance socket got hr KPIs');

        const hrGot = await hrRec.first('kpi:update:hr', (d) => sameJson(d, HR_KPIS));
        assert.deepStrictEqual(hrGot.args[0], HR_KPIS);

        // Sync point: a broadcast published after everything else; once both sockets have
        // it, nothing published before can still be on its way.
        const m = marker('sync');
        await ctx.http.publish({ event: 'sync', data: { marker: m } });
        await finRec.first('sync', (d) => d && d.marker === m);
        await hrRec.first('sync', (d) => d && d.marker === m);
        assert.deepStrictEqual(finRec.of('kpi:update:hr'), []);
        assert.deepStrictEqual(hrRec.of('kpi:update:finance'), []);
        assert.equal(finRec.of('kpi:update:finance').filter((i) => sameJson(i.args[0], FINANCE_KPIS)).length, 1);
        // the subscribe without an ack must not have produced an error event either
        assert.deepStrictEqual(finRec.of('error'), []);
        assert.deepStrictEqual(hrRec.of('error'), []);
        await expectTransport(assert, fin, mode);
      });

      it('module:subscribe / module:unsubscribe with acks; after unsubscribe nothing more arrives', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        const rec = recordAll(s);
        await waitConnect(s);

        assert.deepStrictEqual(
          await emitAck(s, 'module:subscribe', { moduleKey: 'finance' }),
          { success: true, room: 'module:finance' },
        );
        // the ack comes after the join: a publish now reaches the socket
        const d1 = await ctx.http.publish({ event: 'kpi:update:finance', data: FINANCE_KPIS, rooms: ['module:finance'] });
        assert.equal(d1.recipients, 1);
        await rec.first('kpi:update:finance', (d) => sameJson(d, FINANCE_KPIS));

        assert.deepStrictEqual(
          await emitAck(s, 'module:unsubscribe', { moduleKey: 'finance' }),
          { success: true, room: 'module:finance' },
        );
        const before = rec.items.length;
        const after = [{ id: 'revenue', label: 'Revenue', value: 1, trend: 'down', status: 'error' }];
        const d2 = await ctx.http.publish({ event: 'kpi:update:finance', data: after, rooms: ['module:finance'] });
        assert.equal(d2.recipients, 0);
        const m = marker('after-unsubscribe');
        await ctx.http.publish({ event: 'sync', data: { marker: m } });
        await rec.first('sync', (d) => d && d.marker === m);
        const since = rec.items.slice(before);
        assert.deepStrictEqual(since.map((i) => i.event), ['sync'], 'events after module:unsubscribe');
        await expectTransport(assert, s, mode);
      });

      it('subscribe then unsubscribe sent back to back (no acks) never ends subscribed', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        s.on('connect', () => {
          s.emit('module:subscribe', { moduleKey: 'crm' });
          s.emit('module:unsubscribe', { moduleKey: 'crm' });
          s.emit('module:subscribe', { moduleKey: 'security' });
        });
        await waitConnect(s);
        // one client's events are handled in order: once `security` shows up, the crm pair
        // was handled too
        const stats = await ctx.http.waitRoom('module:security', 1);
        assert.equal(stats.rooms.find((r) => r.name === 'module:crm'), undefined, `rooms: ${JSON.stringify(stats.rooms)}`);
        assert.equal(await emitAck(s, 'ping'), 'pong');
        const again = await ctx.http.stats();
        assert.equal(again.rooms.find((r) => r.name === 'module:crm'), undefined, `rooms: ${JSON.stringify(again.rooms)}`);
      });
    });
  }
});
