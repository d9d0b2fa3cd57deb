// @switchboard/client against a real server: subscribe / ack / leave, reference counting,
// the snapshot-then-updates helpers (KPIs, dashboard, notifications, alerts).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SwitchboardError, type Kpi, type NotificationsState, type DashboardUpdate, type Alert } from '@switchboard/client';
import { client, clientEventCount, closeAll, connected, mintToken, roomMembers, startServer, waitFor, nextEvent, type TestServer } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => closeAll());
afterAll(async () => {
  await server?.stop();
});

/** Collects every value a callback gets. */
function recorder<T>() {
  const seen: T[] = [];
  return { seen, cb: (v: T) => void seen.push(v) };
}

describe('subscribe', () => {
  it('resolves after the ack, joins the room, and unsubscribe sends the preset leave event', async () => {
    const c = client(server);
    const subs0 = await clientEventCount(server, 'module:subscribe');
    const unsubs0 = await clientEventCount(server, 'module:unsubscribe');
    const unsubscribe = await c.subscribe('module:subscribe', { moduleKey: 'sub-a' });
    expect(typeof unsubscribe).toBe('function');
    expect(c.rooms()).toEqual(['module:sub-a']);
    expect(await roomMembers(server, 'module:sub-a')).toBe(1);
    expect(await clientEventCount(server, 'module:subscribe')).toBe(subs0 + 1);

    unsubscribe();
    await waitFor(async () => (await roomMembers(server, 'module:sub-a')) === 0, 'module:sub-a to be empty');
    expect(await clientEventCount(server, 'module:unsubscribe')).toBe(unsubs0 + 1);
    expect(c.subscriptionCount).toBe(0);
  });

  it('rejects with the server error when the ack says { success: false }', async () => {
    const c = client(server); // anonymous: join:library needs a token
    const err = await c.subscribe('join:library', 'lib-1').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SwitchboardError);
    const e = err as SwitchboardError;
    expect(e.event).toBe('join:library');
    expect(e.error.length).toBeGreaterThan(0);
    expect(e.message).toContain(e.error);
    // The same error the raw socket gets: the SDK passes it through unchanged.
    const raw = await c.request<{ success: boolean; error: string }>('join:library', 'lib-1');
    expect(raw).toEqual({ success: false, error: e.error });
    expect(c.subscriptionCount).toBe(0);
  });

  it('rejects an unknown event with the server message', async () => {
    const c = client(server);
    await expect(c.subscribe('warehouse:subscribe', { id: 1 })).rejects.toMatchObject({ error: 'unknown event: warehouse:subscribe' });
  });

  it('shares one wire subscription between subscribers of the same (event, payload)', async () => {
    const c = client(server);
    const subs0 = await clientEventCount(server, 'module:subscribe');
    const unsubs0 = await clientEventCount(server, 'module:unsubscribe');
    const [u1, u2] = await Promise.all([
      c.subscribe('module:subscribe', { moduleKey: 'shared' }),
      c.subscribe('module:subscribe', { moduleKey: 'shared' }),
    ]);
    expect(c.subscriptionCount).toBe(1);
    expect(await clientEventCount(server, 'module:subscribe')).toBe(subs0 + 1);

    u1();
    u1(); // idempotent: does not release the other holder's share
    await new Promise((r) => setTimeout(r, 50));
    expect(await roomMembers(server, 'module:shared')).toBe(1);
    expect(await clientEventCount(server, 'module:unsubscribe')).toBe(unsubs0);

    u2();
    await waitFor(async () => (await roomMembers(server, 'module:shared')) === 0, 'module:shared to be empty');
    expect(await clientEventCount(server, 'module:unsubscribe')).toBe(unsubs0 + 1);
  });

  it('leaves a queue room with leaveRoom { room } (the preset has no dedicated leave)', async () => {
    const c = client(server);
    const leaves0 = await clientEventCount(server, 'leaveRoom');
    const unsubscribe = await c.subscribe('joinServiceQueue', { serviceType: 'loans-a' });
    expect(await roomMembers(server, 'service-loans-a')).toBe(1);
    unsubscribe();
    await waitFor(async () => (await roomMembers(server, 'service-loans-a')) === 0, 'service-loans-a to be empty');
    expect(await clientEventCount(server, 'leaveRoom')).toBe(leaves0 + 1);
  });

  it('a subscription released while its join is in flight still leaves the room', async () => {
    const c = client(server);
    await connected(c);
    const leaves0 = await clientEventCount(server, 'leaveRoom');
    const handle = c.acquire('joinServiceQueue', { serviceType: 'in-flight' });
    handle.release();
    await expect(handle.ready).resolves.toBe('service-in-flight');
    await waitFor(async () => (await clientEventCount(server, 'leaveRoom')) === leaves0 + 1, 'the leave');
    expect(await roomMembers(server, 'service-in-flight')).toBe(0);
    expect(c.subscriptionCount).toBe(0);
  });

  it('sends a subscription made before the connection exists once connected', async () => {
    const c = client(server, { autoConnect: false });
    const pending = c.subscribe('module:subscribe', { moduleKey: 'early' });
    expect(c.connected).toBe(false);
    c.open();
    await pending;
    expect(await roomMembers(server, 'module:early')).toBe(1);
  });
});

describe('kpis', () => {
  it('gives the snapshot, then every update', async () => {
    const put1 = await server.api('PUT', '/api/v1/modules/snap/kpis', [
      { id: 'revenue', label: 'Revenue', value: 100, trend: 'up', status: 'success' },
      { id: 'orders', label: 'Orders', value: 7 },
    ]);
    expect(put1.status).toBe(200);
    const c = client(server);
    const rec = recorder<Kpi[]>();
    const feed = c.kpis('snap', rec.cb);
    await feed.ready;
    await waitFor(() => rec.seen.length >= 1, 'the KPI snapshot');
    expect(rec.seen[0]).toEqual([
      { id: 'revenue', label: 'Revenue', value: 100, trend: 'up', status: 'success' },
      { id: 'orders', label: 'Orders', value: 7, trend: 'flat', status: 'info' },
    ]);

    await server.api('PUT', '/api/v1/modules/snap/kpis', [{ id: 'revenue', label: 'Revenue', value: 250, trend: 'up', status: 'success' }]);
    await waitFor(() => rec.seen.some((list) => list.find((k) => k.id === 'revenue')?.value === 250), 'the KPI update');

    // A second consumer on the same client shares the join and still gets the last list.
    const subs = await clientEventCount(server, 'module:subscribe');
    const rec2 = recorder<Kpi[]>();
    const feed2 = c.kpis('snap', rec2.cb);
    await waitFor(() => rec2.seen.length >= 1, 'the cached KPIs for a second consumer');
    expect(rec2.seen[0].find((k) => k.id === 'revenue')?.value).toBe(250);
    expect(await clientEventCount(server, 'module:subscribe')).toBe(subs);
    expect(c.subscriptionCount).toBe(1);
    feed.close();
    feed2.close();
  });
});

describe('dashboard', () => {
  it('gives the summary on subscribe, with a card per module', async () => {
    await server.api('PUT', '/api/v1/modules/dash/kpis', [{ id: 'k', label: 'K', value: 1, status: 'warning' }]);
    const c = client(server);
    const rec = recorder<DashboardUpdate>();
    const feed = c.dashboard(rec.cb);
    await feed.ready;
    await waitFor(() => rec.seen.length >= 1, 'dashboard:update');
    const u = rec.seen[0];
    expect(Object.keys(u).sort()).toEqual(['summaryCards', 'timestamp', 'topKPIs']);
    expect(u.summaryCards).toContainEqual(expect.objectContaining({ id: 'module:dash', module: 'dash', status: 'warning', kpiCount: 1 }));
    expect(Array.isArray(u.topKPIs)).toBe(true);
    feed.close();
  });
});

describe('notifications', () => {
  it('replays unread, adds new ones, and markRead follows the other tab', async () => {
    const user = 'notif-user';
    const sent = await server.api('POST', '/api/v1/notifications', { userId: user, title: 'First', message: 'one', severity: 'info' });
    expect(sent.status).toBeLessThan(300);
    const token = mintToken(user);
    const tab1 = client(server, { token });
    const tab2 = client(server, { token });
    const states1: NotificationsState[] = [];
    const states2: NotificationsState[] = [];
    const f1 = tab1.notifications((s) => states1.push(s));
    const f2 = tab2.notifications((s) => states2.push(s));
    await Promise.all([f1.ready, f2.ready]);
    const last1 = () => states1[states1.length - 1];
    const last2 = () => states2[states2.length - 1];
    await waitFor(() => last1()?.notifications.length === 1 && last2()?.notifications.length === 1, 'the replayed notification in both tabs');
    expect(last1().unreadCount).toBe(1);
    expect(last1().notifications[0]).toMatchObject({ title: 'First', message: 'one', severity: 'info', read: false });

    await server.api('POST', '/api/v1/notifications', { userId: user, title: 'Second', message: 'two', severity: 'warning' });
    await waitFor(() => last1().notifications.length === 2 && last2().notifications.length === 2, 'the live notification in both tabs');
    expect(last1().unreadCount).toBe(2);
    expect(last1().notifications[0].title).toBe('Second'); // newest first

    const id = last1().notifications[1].id;
    const unread = await f1.markRead(id);
    expect(unread).toBe(1);
    expect(last1().unreadCount).toBe(1);
    expect(last1().notifications.find((n) => n.id === id)?.read).toBe(true);
    // The other tab hears notification:read from the server.
    await waitFor(() => last2().unreadCount === 1, 'notification:read in the other tab');
    expect(last2().notifications.find((n) => n.id === id)?.read).toBe(true);

    await expect(f1.markRead('no-such-id')).rejects.toMatchObject({ error: 'notification not found', event: 'notification:mark-read' });
    f1.close();
    f2.close();
  });

  it('refuses notifications to an anonymous socket', async () => {
    const c = client(server);
    const feed = c.notifications(() => {});
    await expect(feed.ready).rejects.toBeInstanceOf(SwitchboardError);
    feed.close();
  });
});

describe('alerts', () => {
  it('keeps the list sent on connect and follows new alerts, newest first', async () => {
    await server.api('POST', '/api/v1/alerts', { title: 'Disk', message: '91% full', severity: 'warning' });
    const c = client(server);
    await nextEvent(c.socket, 'alert:system');
    // Registered after the connect's alert:system arrived: still gets it.
    const rec = recorder<Alert[]>();
    const feed = c.alerts(rec.cb);
    await waitFor(() => rec.seen.length >= 1, 'the alerts sent on connect');
    expect(rec.seen[0][0]).toMatchObject({ title: 'Disk', message: '91% full', severity: 'warning' });

    await server.api('POST', '/api/v1/alerts', { title: 'CPU', message: 'hot', severity: 'error' });
    await waitFor(() => rec.seen.length >= 2, 'the new alert');
    expect(rec.seen[1].map((a) => a.title).slice(0, 2)).toEqual(['CPU', 'Disk']);
    feed.close();
  });
});
