'use strict';
// SPEC §1a / §2, the live data behind the ERP dashboard, exercised the way its frontend
// does it: subscriptions emitted from the `connect` handler without acks, then data
// changed through the backend HTTP API (PUT KPIs, POST notifications / alerts) and
// watched arriving on the sockets. Notifications belong to the token's user (SPEC §3):
// close the page and open it again (a new client) and the unread ones replay; mark one
// read and the user's other tab hears of it.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, request, isTimestamp, marker, sameJson, jwtArgs, mintToken } = require('../lib/switchboard');

const FINANCE = [
  { id: 'revenue', label: 'Revenue', value: 125000, trend: 'up', status: 'success' },
  { id: 'expenses', label: 'Expenses', value: 98000, trend: 'down', status: 'warning', chart: [3, 1, 2] },
  { id: 'margin', label: 'Margin', value: 21.6, trend: 'flat', status: 'info' },
];
const NOTIFICATION_KEYS = ['id', 'message', 'severity', 'time', 'title', 'unreadCount'];
const ALERT_KEYS = ['id', 'message', 'severity', 'time', 'title'];

/** The ERP frontend: a socket that emits its subscriptions from `connect` (no acks). */
function pageFactory(ctx) {
  return async function page(mode, { token, subscribe = [] } = {}) {
    const s = ctx.clients.socket('/', token ? { ...mode.opts, auth: { token } } : mode.opts);
    const rec = recordAll(s); // before connecting: nothing can be missed
    s.on('connect', () => {
      for (const [event, payload] of subscribe) s.emit(event, payload);
    });
    await waitConnect(s);
    return { s, rec };
  };
}

/** Publishes a marker to `rooms` (every client without) and waits until each recorder has it. */
async function sync(ctx, rooms, ...recs) {
  const m = marker('sync');
  await ctx.http.publish({ event: 'sync', data: { marker: m }, ...(rooms ? { rooms } : {}) });
  for (const rec of recs) await rec.first('sync', (d) => d && d.marker === m);
}

/** HTTP call that must answer 200 `{ success: true, data }`; resolves with `data`. */
async function ok(ctx, method, path, body) {
  const r = await request(ctx.server.url, method, path, body);
  assert.equal(r.status, 200, `${method} ${path} → HTTP ${r.status} ${r.text.slice(0, 300)}`);
  assert.ok(r.json && r.json.success === true, `${method} ${path} → ${r.text.slice(0, 300)}`);
  return r.json.data;
}

/** HTTP call that must fail with `status` and the error envelope; resolves with the message. */
async function fails(ctx, method, path, body, status) {
  const r = await request(ctx.server.url, method, path, body);
  const label = `${method} ${path} ${JSON.stringify(body).slice(0, 120)} → HTTP ${r.status} ${r.text.slice(0, 300)}`;
  assert.equal(r.status, status, label);
  assert.ok(r.json, `${label}: not JSON`);
  assert.equal(r.json.success, false, label);
  assert.deepStrictEqual(Object.keys(r.json.error || {}).sort(), ['code', 'message'], label);
  assert.equal(typeof r.json.error.message, 'string', label);
  return r.json.error.message;
}

describe('live data: KPIs, dashboard, notifications (SPEC §1a, §2)', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });
  const page = pageFactory(ctx);

  MODES.forEach((mode, idx) => {
    describe(mode.name, () => {
      it('module:subscribe right after connect: the current KPIs at once, then every PUT, to the module room only', { timeout: 20_000 }, async () => {
        // the backend seeds finance (an upsert by id: FINANCE first, then any KPI an earlier
        // mode added)
        const seed = FINANCE.map((k) => ({ ...k, value: k.value + idx }));
        const s0 = await ok(ctx, 'PUT', '/api/v1/modules/finance/kpis', seed);
        assert.deepStrictEqual(s0.slice(0, 3), seed);

        const fin = await page(mode, { subscribe: [['module:subscribe', { moduleKey: 'finance' }]] });
        // hr is never written on this server: its snapshot is []
        const hr = await page(mode, { subscribe: [['module:subscribe', { moduleKey: 'hr' }]] });

        // the subscribe answers with the current list, before anything else changes it
        const first = await fin.rec.first('kpi:update:finance');
        assert.deepStrictEqual(first.args[0], s0, 'snapshot on subscribe');
        assert.deepStrictEqual((await hr.rec.first('kpi:update:hr')).args[0], []);
        await ctx.http.waitRoom('module:finance', 1);

        // a new value for one KPI: the room gets the module's full list
        const revenue = { id: 'revenue', label: 'Revenue', value: 130500 + idx, trend: 'up', status: 'success' };
        const s1 = await ok(ctx, 'PUT', '/api/v1/modules/finance/kpis', [revenue]);
        assert.deepStrictEqual(s1, [revenue, ...s0.slice(1)], 'PUT answers the full list, order kept');
        const got = await fin.rec.first('kpi:update:finance', (d) => sameJson(d, s1));
        assert.deepStrictEqual(got.args[0], s1);
        assert.deepStrictEqual(await ok(ctx, 'GET', '/api/v1/modules/finance/kpis'), s1);

        // a new KPI is added at the end
        const cash = { id: 'cash', label: 'Cash', value: '1.2M', status: 'success' };
        const s2 = await ok(ctx, 'PUT', '/api/v1/modules/finance/kpis', [cash]);
        assert.deepStrictEqual(s2.map((k) => k.id), ['revenue', 'expenses', 'margin', 'cash']);
        await fin.rec.first('kpi:update:finance', (d) => sameJson(d, s2));

        // everything the finance page got is a finance list (periodic ticks repeat the current
        // one); the hr page got no finance data
        await sync(ctx, null, fin.rec, hr.rec);
        for (const i of fin.rec.items.filter((x) => x.event.startsWith('kpi:update:'))) {
          assert.equal(i.event, 'kpi:update:finance');
          assert.ok([s0, s1, s2].some((l) => sameJson(i.args[0], l)), `unexpected finance list ${JSON.stringify(i.args[0])}`);
        }
        assert.deepStrictEqual(hr.rec.names().filter((n) => n.startsWith('kpi:update:') && n !== 'kpi:update:hr'), []);
        for (const i of hr.rec.of('kpi:update:hr')) assert.deepStrictEqual(i.args[0], []);
        assert.deepStrictEqual(fin.rec.of('error'), []);
        await expectTransport(assert, fin.s, mode);
      });

      it('module:subscribe with an ack: ack first, then the snapshot; an unknown module answers []', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        const rec = recordAll(s);
        await waitConnect(s);
        const key = `empty-${idx}-${Date.now()}`;
        assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: key }), { success: true, room: `module:${key}` });
        assert.deepStrictEqual((await rec.first(`kpi:update:${key}`)).args[0], []);
        assert.deepStrictEqual(await ok(ctx, 'GET', `/api/v1/modules/${key}/kpis`), []);
      });

      it('dashboard:subscribe answers dashboard:update derived from the stored KPIs', { timeout: 15_000 }, async () => {
        const mod = `rollup${idx}`;
        await ok(ctx, 'PUT', `/api/v1/modules/${mod}/kpis`, [
          { id: 'a', label: 'A', value: 10, status: 'success' },
          { id: 'b', label: 'B', value: 20, status: 'warning' },
        ]);
        const dash = await page(mode, { subscribe: [['dashboard:subscribe', {}]] });
        const snap = (await dash.rec.first('dashboard:update')).args[0];
        assert.deepStrictEqual(Object.keys(snap).sort(), ['summaryCards', 'timestamp', 'topKPIs']);
        assert.ok(isTimestamp(snap.timestamp), `timestamp: ${snap.timestamp}`);
        assert.ok(Array.isArray(snap.summaryCards) && Array.isArray(snap.topKPIs), JSON.stringify(snap));
        const card = (d, id) => d.summaryCards.find((c) => c.id === id);
        // one card per module, with the worst status of its KPIs
        assert.ok(card(snap, `module:${mod}`), `no card for ${mod}: ${JSON.stringify(snap.summaryCards)}`);
        assert.equal(card(snap, `module:${mod}`).status, 'warning', JSON.stringify(card(snap, `module:${mod}`)));
        assert.equal(card(snap, 'module:finance').status, 'warning', JSON.stringify(card(snap, 'module:finance')));
        // and the system cards
        const conns = card(snap, 'system:connections');
        assert.ok(conns && Number.isInteger(conns.value) && conns.value >= 1, JSON.stringify(conns));
        assert.ok(card(snap, 'system:uptime'), JSON.stringify(snap.summaryCards));

        // a KPI turns red and jumps: subscribing again (at once, no waiting for a tick) shows it
        await ok(ctx, 'PUT', `/api/v1/modules/${mod}/kpis`, [{ id: 'a', label: 'A', value: 10_000_000, status: 'error' }]);
        assert.deepStrictEqual(await emitAck(dash.s, 'dashboard:subscribe', {}), { success: true, room: 'kpi-dashboard' });
        await dash.rec.until((xs) => xs.filter((i) => i.event === 'dashboard:update').some((i) => {
          const c = card(i.args[0], `module:${mod}`);
          return c && c.status === 'error';
        }), `a dashboard:update with module:${mod} in error`);
        const after = dash.rec.of('dashboard:update').map((i) => i.args[0]).find((d) => card(d, `module:${mod}`).status === 'error');
        assert.ok(after.topKPIs.some((k) => k.module === mod && k.id === 'a' && k.value === 10_000_000), `topKPIs: ${JSON.stringify(after.topKPIs)}`);
        const stats = await ctx.http.stats();
        assert.equal(stats.rooms.find((r) => r.name === 'dashboard'), undefined, 'dashboard:subscribe joined the staff room');
        await expectTransport(assert, dash.s, mode);
      });

      it('notifications: delivered live, replayed after the page is reopened, read state shared across tabs', { timeout: 30_000 }, async () => {
        const user = `nu-${idx}`;
        const room = `user:${user}`;
        const token = mintToken({ sub: user, roles: ['student'], tenant: 't1' });
        const subs = [['notification:subscribe', {}], ['module:subscribe', { moduleKey: 'finance' }]];
        const note = (n, unreadCount) => ({ ...n, unreadCount });
        const newOf = (tab) => tab.rec.of('notification:new').map((i) => i.args[0]);

        // page 1: the user's unread list starts empty
        const tab1 = await page(mode, { token, subscribe: subs });
        await ctx.http.waitRoom(room, 1);
        const n1 = await ok(ctx, 'POST', '/api/v1/notifications', { userId: user, title: 'Invoice overdue', message: 'INV-17 is 3 days late', severity: 'warning' });
        assert.deepStrictEqual(Object.keys(n1).sort(), ['id', 'message', 'severity', 'time', 'title']);
        assert.ok(isTimestamp(n1.time), `time: ${n1.time}`);
        const live1 = await tab1.rec.first('notification:new', (d) => d.id === n1.id);
        assert.deepStrictEqual(Object.keys(live1.args[0]).sort(), NOTIFICATION_KEYS);
        assert.deepStrictEqual(live1.args[0], note(n1, 1));
        const n2 = await ok(ctx, 'POST', '/api/v1/notifications', { userId: user, title: 'Report ready', message: 'Q3 closing report' });
        assert.equal(n2.severity, 'info', 'default severity');
        assert.deepStrictEqual((await tab1.rec.first('notification:new', (d) => d.id === n2.id)).args[0], note(n2, 2));

        // close the page; one more arrives while it is closed
        tab1.s.disconnect();
        await ctx.http.waitRoom(room, 0);
        const n3 = await ok(ctx, 'POST', '/api/v1/notifications', { userId: user, title: 'Offline one', message: 'sent while the page was closed', severity: 'error' });

        // reopen (a new client): the unread ones replay, oldest first
        const tab1b = await page(mode, { token, subscribe: subs });
        await tab1b.rec.until((xs) => xs.filter((i) => i.event === 'notification:new').length >= 3, 'the replay of 3 unread notifications');
        assert.deepStrictEqual(newOf(tab1b), [note(n1, 3), note(n2, 3), note(n3, 3)]);
        // a second tab of the same user gets the same replay
        const tab2 = await page(mode, { token, subscribe: subs });
        await tab2.rec.until((xs) => xs.filter((i) => i.event === 'notification:new').length >= 3, 'the replay on the second tab');
        assert.deepStrictEqual(newOf(tab2).map((n) => n.id), [n1.id, n2.id, n3.id]);
        await ctx.http.waitRoom(room, 2);

        // mark n1 read in tab 1: ack with the new count; tab 2 (not tab 1) gets notification:read
        assert.deepStrictEqual(await emitAck(tab1b.s, 'notification:mark-read', { notificationId: n1.id }), { success: true, unreadCount: 2 });
        const read = await tab2.rec.first('notification:read');
        assert.deepStrictEqual(read.args[0], { id: n1.id, unreadCount: 2 });
        await sync(ctx, [room], tab1b.rec, tab2.rec);
        assert.deepStrictEqual(tab1b.rec.of('notification:read'), [], 'the tab that marked it read was told too');
        assert.equal(tab2.rec.of('notification:read').length, 1);

        // the API agrees: newest first, with read flags
        const list = await ok(ctx, 'GET', `/api/v1/notifications?userId=${encodeURIComponent(user)}`);
        assert.equal(list.unreadCount, 2);
        assert.deepStrictEqual(list.notifications.map((n) => [n.id, n.read]), [[n3.id, false], [n2.id, false], [n1.id, true]]);
        assert.deepStrictEqual(list.notifications[2], { ...n1, read: true });

        // marking it again is harmless; an unknown id is not found
        assert.deepStrictEqual(await emitAck(tab1b.s, 'notification:mark-read', { notificationId: n1.id }), { success: true, unreadCount: 2 });
        assert.deepStrictEqual(await emitAck(tab1b.s, 'notification:mark-read', { notificationId: 'no-such-notification' }), { success: false, error: 'notification not found' });

        // another user cannot mark this user's notification, and nobody is told anything
        const other = await page(mode, { token: mintToken({ sub: `other-${idx}`, roles: ['student'], tenant: 't1' }), subscribe: [['notification:subscribe', {}]] });
        const stolen = await emitAck(other.s, 'notification:mark-read', { notificationId: n2.id });
        assert.equal(stolen.success, false, `another user marked ${n2.id} read: ${JSON.stringify(stolen)}`);
        assert.equal(typeof stolen.error, 'string');
        assert.equal((await ok(ctx, 'GET', `/api/v1/notifications?userId=${encodeURIComponent(user)}`)).unreadCount, 2);

        // live again, to both open tabs, with the count; the other user gets nothing
        const n4 = await ok(ctx, 'POST', '/api/v1/notifications', { userId: user, title: 'Live one', message: 'both tabs see it' });
        for (const tab of [tab1b, tab2]) assert.deepStrictEqual((await tab.rec.first('notification:new', (d) => d.id === n4.id)).args[0], note(n4, 3));
        await sync(ctx, null, tab1b.rec, tab2.rec, other.rec);
        assert.deepStrictEqual(other.rec.of('notification:new'), []);
        // (marking n1 again may tell tab 2 again; the other user's attempt on n2 told no one)
        assert.ok(tab2.rec.of('notification:read').every((i) => sameJson(i.args[0], { id: n1.id, unreadCount: 2 })), JSON.stringify(tab2.rec.of('notification:read')));
        assert.deepStrictEqual(tab1b.rec.of('notification:read'), []);
        for (const tab of [tab1b, tab2]) assert.equal(newOf(tab).length, 4, `notification:new on a tab: ${JSON.stringify(newOf(tab))}`);

        // reopen once more: only the unread ones replay (read state persisted)
        tab1b.s.disconnect();
        const tab1c = await page(mode, { token, subscribe: subs });
        await tab1c.rec.until((xs) => xs.filter((i) => i.event === 'notification:new').length >= 3, 'the replay of the 3 still unread');
        await sync(ctx, [room], tab1c.rec);
        assert.deepStrictEqual(newOf(tab1c), [note(n2, 3), note(n3, 3), note(n4, 3)]);
        await expectTransport(assert, tab1c.s, mode);
      });

      it('notifications for a role or a room reach the users in it', { timeout: 20_000 }, async () => {
        const role = `auditor${idx}`;
        const auditor = await page(mode, { token: mintToken({ sub: `aud-${idx}`, roles: ['staff', role] }), subscribe: [['notification:subscribe', {}]] });
        const student = await page(mode, {
          token: mintToken({ sub: `stu-${idx}`, roles: ['student'] }),
          subscribe: [['notification:subscribe', {}], ['module:subscribe', { moduleKey: `room${idx}` }]],
        });
        await ctx.http.waitRoom(`user:aud-${idx}`, 1);
        await ctx.http.waitRoom(`module:room${idx}`, 1);
        await ctx.http.waitRoom(`user:stu-${idx}`, 1);

        const byRole = await ok(ctx, 'POST', '/api/v1/notifications', { role, title: 'Audit', message: 'for the auditors' });
        assert.deepStrictEqual((await auditor.rec.first('notification:new', (d) => d.id === byRole.id)).args[0], { ...byRole, unreadCount: 1 });
        const byRoom = await ok(ctx, 'POST', '/api/v1/notifications', { room: `module:room${idx}`, title: 'Module', message: 'for the module watchers' });
        const forStudent = Array.isArray(byRoom) ? byRoom : [byRoom];
        assert.equal(forStudent.length, 1, JSON.stringify(byRoom));
        assert.equal((await student.rec.first('notification:new', (d) => d.title === 'Module')).args[0].unreadCount, 1);

        await sync(ctx, null, auditor.rec, student.rec);
        assert.deepStrictEqual(student.rec.of('notification:new').map((i) => i.args[0].title), ['Module']);
        assert.deepStrictEqual(auditor.rec.of('notification:new').map((i) => i.args[0].title), ['Audit']);
        // a role notification is the role member's to read
        assert.deepStrictEqual(await emitAck(auditor.s, 'notification:mark-read', { notificationId: byRole.id }), { success: true, unreadCount: 0 });
        assert.equal((await emitAck(student.s, 'notification:mark-read', { notificationId: byRole.id })).success, false);
      });

      it('a room or role notification reaches sockets that never sent notification:subscribe, once each', { timeout: 20_000 }, async () => {
        const mod = `reach${idx}`;
        const role = `approver${idx}`;
        // the ERP page as shipped: no token, only module:subscribe
        const anon = await page(mode, { subscribe: [['module:subscribe', { moduleKey: mod }]] });
        // a signed-in page in the module room that never subscribed to notifications
        const member = await page(mode, { token: mintToken({ sub: `mem-${idx}` }), subscribe: [['module:subscribe', { moduleKey: mod }]] });
        // two tabs of a role holder, neither subscribed; the second token names no role
        const holder = await page(mode, { token: mintToken({ sub: `hold-${idx}`, roles: [role] }) });
        const holderTab2 = await page(mode, { token: mintToken({ sub: `hold-${idx}`, roles: [] }) });
        const outsider = await page(mode, { token: mintToken({ sub: `out-${idx}`, roles: ['student'] }), subscribe: [['notification:subscribe', {}]] });
        await ctx.http.waitRoom(`module:${mod}`, 2);
        await ctx.http.waitRoom(`user:out-${idx}`, 1);

        const byRoom = await ok(ctx, 'POST', '/api/v1/notifications', { room: `module:${mod}`, title: 'Stock low', message: 'reorder SKU-9' });
        assert.equal(byRoom.title, 'Stock low', 'one stored row, for the signed-in member');
        const m = (await member.rec.first('notification:new', (d) => d.title === 'Stock low')).args[0];
        assert.deepStrictEqual(m, { ...byRoom, unreadCount: 1 });
        const a = (await anon.rec.first('notification:new', (d) => d.title === 'Stock low')).args[0];
        assert.deepStrictEqual(Object.keys(a).sort(), NOTIFICATION_KEYS);
        assert.equal(a.unreadCount, null, 'an anonymous socket has no inbox');
        assert.ok(isTimestamp(a.time), a.time);

        const byRole = await ok(ctx, 'POST', '/api/v1/notifications', { role, title: 'Approve PO', message: 'PO-7 waits' });
        for (const tab of [holder, holderTab2]) {
          assert.deepStrictEqual((await tab.rec.first('notification:new', (d) => d.id === byRole.id)).args[0], { ...byRole, unreadCount: 1 });
        }
        await sync(ctx, null, anon.rec, member.rec, holder.rec, holderTab2.rec, outsider.rec);
        const titles = (x) => x.rec.of('notification:new').map((i) => i.args[0].title);
        assert.deepStrictEqual(titles(anon), ['Stock low'], 'exactly once');
        assert.deepStrictEqual(titles(member), ['Stock low'], 'exactly once');
        assert.deepStrictEqual(titles(holder), ['Approve PO']);
        assert.deepStrictEqual(titles(holderTab2), ['Approve PO']);
        assert.deepStrictEqual(titles(outsider), [], 'neither in the room nor holding the role');
      });

      it('a KPI without trend or status is stored and sent with trend "flat", status "info"', { timeout: 15_000 }, async () => {
        const mod = `defaults${idx}`;
        const fin = await page(mode, { subscribe: [['module:subscribe', { moduleKey: mod }]] });
        assert.deepStrictEqual((await fin.rec.first(`kpi:update:${mod}`)).args[0], []);
        await ctx.http.waitRoom(`module:${mod}`, 1);
        const stored = await ok(ctx, 'PUT', `/api/v1/modules/${mod}/kpis`, [{ id: 'queue', label: 'Queue length', value: 4 }]);
        const want = [{ id: 'queue', label: 'Queue length', value: 4, trend: 'flat', status: 'info' }];
        assert.deepStrictEqual(stored, want);
        assert.deepStrictEqual((await fin.rec.first(`kpi:update:${mod}`, (d) => d.length === 1)).args[0], want);
        assert.deepStrictEqual(await ok(ctx, 'GET', `/api/v1/modules/${mod}/kpis`), want);
      });

      it('bad KPI / notification bodies: 422 naming the field, nothing stored, nothing delivered', { timeout: 20_000 }, async () => {
        const user = `bad-${idx}`;
        const fin = await page(mode, { token: mintToken({ sub: user }), subscribe: [['module:subscribe', { moduleKey: 'finance' }], ['notification:subscribe', {}]] });
        await fin.rec.first('kpi:update:finance');
        await ctx.http.waitRoom(`user:${user}`, 1);
        const before = await ok(ctx, 'GET', '/api/v1/modules/finance/kpis');
        const POISON = 999_999_999;

        for (const [body, field] of [
          [[{ id: 'revenue', label: 'Revenue', value: POISON }, { id: 'broken', value: 1 }], 'kpis[1].label'],
          [[{ id: 'revenue', label: 'Revenue', value: true }], 'kpis[0].value'],
          [[{ id: 'revenue', label: 'Revenue', value: POISON, status: 'great' }], 'kpis[0].status'],
          [[{ label: 'Revenue', value: POISON }], 'kpis[0].id'],
        ]) {
          const msg = await fails(ctx, 'PUT', '/api/v1/modules/finance/kpis', body, 422);
          assert.ok(msg.startsWith(`${field}:`), `message ${JSON.stringify(msg)} does not name ${field}`);
        }
        await fails(ctx, 'PUT', '/api/v1/modules/finance/kpis', { id: 'revenue', label: 'Revenue', value: POISON }, 422);
        assert.deepStrictEqual(await ok(ctx, 'GET', '/api/v1/modules/finance/kpis'), before, 'a rejected PUT changed the KPIs');

        for (const [body, re] of [
          [{ userId: user, message: 'no title' }, /title/],
          [{ userId: user, title: '', message: 'empty title' }, /title/],
          [{ userId: user, title: 'no message' }, /message/],
          [{ title: 'no target', message: 'm' }, /userId/],
          [{ userId: user, role: 'staff', title: 'two targets', message: 'm' }, /userId/],
          [{ userId: user, title: 'bad severity', message: 'm', severity: 'fatal' }, /severity/],
        ]) {
          assert.match(await fails(ctx, 'POST', '/api/v1/notifications', body, 422), re, JSON.stringify(body));
        }
        assert.match(await fails(ctx, 'POST', '/api/v1/alerts', { message: 'no title' }, 422), /title/);
        assert.deepStrictEqual(await ok(ctx, 'GET', `/api/v1/notifications?userId=${user}`), { notifications: [], unreadCount: 0 });

        await sync(ctx, null, fin.rec);
        assert.deepStrictEqual(fin.rec.of('notification:new'), []);
        assert.deepStrictEqual(fin.rec.of('alert:system'), []);
        for (const i of fin.rec.of('kpi:update:finance')) {
          assert.ok(!JSON.stringify(i.args[0]).includes(String(POISON)), `a rejected KPI was delivered: ${JSON.stringify(i.args[0])}`);
        }
      });
    });
  });
});

describe('live data: system alerts (SPEC §1a)', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });
  const page = pageFactory(ctx);

  it('no alert:system on connect while no alert exists', { timeout: 15_000 }, async () => {
    for (const mode of MODES) {
      const p = await page(mode);
      await p.rec.first('connected');
      await sync(ctx, null, p.rec);
      assert.deepStrictEqual(p.rec.of('alert:system'), [], mode.name);
    }
    assert.deepStrictEqual(await ok(ctx, 'GET', '/api/v1/alerts'), []);
  });

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('POST /api/v1/alerts reaches everyone; a client connecting later gets the list right after connect', { timeout: 15_000 }, async () => {
        const token = mintToken({ sub: 'alice', roles: ['staff'] });
        const anon = await page(mode, { subscribe: [['module:subscribe', { moduleKey: 'finance' }]] });
        const authed = await page(mode, { token });
        await anon.rec.first('connected');
        await authed.rec.first('connected');
        const title = marker('alert');
        const alert = await ok(ctx, 'POST', '/api/v1/alerts', { title, message: 'Database failover in progress', severity: 'error' });
        assert.deepStrictEqual(Object.keys(alert).sort(), ALERT_KEYS);
        assert.ok(isTimestamp(alert.time), `time: ${alert.time}`);
        for (const p of [anon, authed]) {
          const got = (await p.rec.first('alert:system', (list) => list[0] && list[0].title === title)).args[0];
          assert.ok(Array.isArray(got) && got.length >= 1 && got.length <= 10, JSON.stringify(got));
          assert.deepStrictEqual(got[0], alert, 'newest first');
          for (const a of got) assert.deepStrictEqual(Object.keys(a).sort(), ALERT_KEYS);
        }

        // a page opened now gets the list right after connect, before anything else
        const late = await page(mode, { token });
        await late.rec.until((xs) => xs.length >= 3, 'three events after connect');
        assert.deepStrictEqual(late.rec.names().slice(0, 3), ['connection:status', 'connected', 'alert:system']);
        assert.deepStrictEqual(late.rec.items[2].args[0][0], alert);
        await expectTransport(assert, late.s, mode);
      });
    });
  }

  it('alert:system carries the last 10, newest first', { timeout: 20_000 }, async () => {
    const p = await page(MODES[0]);
    await p.rec.first('connected');
    const titles = Array.from({ length: 11 }, (_, i) => marker(`burst-${i}`));
    const ids = [];
    for (const title of titles) ids.push((await ok(ctx, 'POST', '/api/v1/alerts', { title, message: 'burst', severity: 'warning' })).id);
    const last = (await p.rec.first('alert:system', (list) => list[0] && list[0].title === titles[10])).args[0];
    assert.deepStrictEqual(last.map((a) => a.title), titles.slice(1).reverse());
    assert.deepStrictEqual(last.map((a) => a.id), ids.slice(1).reverse());
    // one alert:system per alert raised, in order
    const mine = p.rec.of('alert:system').filter((i) => titles.includes(i.args[0][0].title)).map((i) => i.args[0][0].title);
    assert.deepStrictEqual(mine, titles);
    const late = await page(MODES[1]);
    assert.deepStrictEqual((await late.rec.first('alert:system')).args[0], last);
    const listed = await ok(ctx, 'GET', '/api/v1/alerts');
    assert.deepStrictEqual(listed.slice(0, 10), last);
  });
});
