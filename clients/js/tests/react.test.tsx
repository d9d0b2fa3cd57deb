// @vitest-environment jsdom
// @switchboard/react against a real server: every hook's return shape, snapshot-then-update,
// mark-read across two providers (two tabs), StrictMode subscribing once on the wire,
// shared subscriptions, room errors, unmount leaving.

import { StrictMode, useState, type ReactNode } from 'react';
import { act, cleanup, render, renderHook } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { SwitchboardClient } from '@switchboard/client';
import {
  SwitchboardProvider,
  usePresence,
  useRealTimeKPIs,
  useRealTimeNotifications,
  useRealtimeDashboard,
  useRoom,
  useSocket,
  useSocketEmit,
  useSocketEvent,
  useSwitchboard,
  useSystemAlerts,
} from '@switchboard/react';
import { FAST_RECONNECT, clientEventCount, mintToken, roomMembers, startServer, waitFor, type TestServer } from './harness';

// Socket events update state outside act(); let React schedule them as in a browser.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(async () => {
  cleanup();
  // Providers close their socket on the next macrotask after unmount.
  await waitFor(async () => (await server.api('GET', '/api/v1/stats')).body.data.connections === 0, 'every socket of the test to close');
});
afterAll(async () => {
  await server?.stop();
});

function Provider({ token, children }: { token?: string; children?: ReactNode }) {
  return (
    <SwitchboardProvider url={server.url} token={token} options={FAST_RECONNECT}>
      {children}
    </SwitchboardProvider>
  );
}
const wrapperFor = (token?: string) =>
  function Wrapper({ children }: { children: ReactNode }) {
    return <Provider token={token}>{children}</Provider>;
  };

describe('hooks', () => {
  it('return the documented shapes with live data', async () => {
    const user = 'shape-user';
    await server.api('PUT', '/api/v1/modules/shape/kpis', [{ id: 'r', label: 'Revenue', value: 5, status: 'success' }]);
    await server.api('POST', '/api/v1/notifications', { userId: user, title: 'Hello', message: 'world', severity: 'info' });
    await server.api('POST', '/api/v1/alerts', { title: 'Shape alert', message: 'm', severity: 'info' });
    const seen: unknown[] = [];
    const { result } = renderHook(
      () => {
        useSocketEvent('connected', (p) => seen.push(p));
        return {
          socket: useSocket(),
          emit: useSocketEmit(),
          kpis: useRealTimeKPIs('shape'),
          notifications: useRealTimeNotifications(),
          dashboard: useRealtimeDashboard(),
          alerts: useSystemAlerts(),
          room: useRoom('join:library', 'shape-lib'),
          presence: usePresence('library:shape-lib'),
        };
      },
      { wrapper: wrapperFor(mintToken(user)) },
    );
    await waitFor(
      () => {
        const r = result.current;
        return (
          r.socket.connected &&
          r.kpis.kpis.length === 1 &&
          r.notifications.notifications.length === 1 &&
          r.dashboard.summaryCards.length > 0 &&
          r.alerts.alerts.length > 0 &&
          r.room.joined &&
          r.presence.count === 1
        );
      },
      'every hook to have live data',
    );
    const r = result.current;
    expect(Object.keys(r.socket).sort()).toEqual(['connected', 'socket']);
    expect(r.socket.socket.id).toEqual(expect.any(String));
    expect(Object.keys(r.emit)).toEqual(['emit']);
    expect(typeof r.emit.emit).toBe('function');
    expect(Object.keys(r.kpis).sort()).toEqual(['kpis', 'lastUpdate']);
    expect(r.kpis.kpis).toEqual([{ id: 'r', label: 'Revenue', value: 5, trend: 'flat', status: 'success' }]);
    expect(r.kpis.lastUpdate).toBeInstanceOf(Date);
    expect(Object.keys(r.notifications).sort()).toEqual(['markRead', 'notifications', 'unreadCount']);
    expect(r.notifications.unreadCount).toBe(1);
    expect(r.notifications.notifications[0]).toMatchObject({ title: 'Hello', message: 'world', read: false });
    expect(typeof r.notifications.markRead).toBe('function');
    expect(Object.keys(r.dashboard).sort()).toEqual(['lastUpdate', 'summaryCards', 'topKPIs']);
    expect(r.dashboard.summaryCards).toContainEqual(expect.objectContaining({ id: 'module:shape', status: 'success' }));
    expect(Array.isArray(r.dashboard.topKPIs)).toBe(true);
    expect(r.dashboard.lastUpdate).toBeInstanceOf(Date);
    expect(Object.keys(r.alerts)).toEqual(['alerts']);
    expect(r.alerts.alerts[0]).toMatchObject({ title: 'Shape alert' });
    expect(r.room).toEqual({ joined: true, error: null });
    expect(r.presence).toEqual({ users: [user], count: 1, anonymous: 0 });
    // useSocketEvent got the connect payload.
    expect(seen).toEqual([expect.objectContaining({ socketId: r.socket.socket.id })]);
    // useSocketEmit emits with an ack.
    const pong = await new Promise((resolve) => r.emit.emit('ping', resolve));
    expect(pong).toBe('pong');
  });

  it('useSocketEvent follows published events with the latest callback', async () => {
    const calls: string[] = [];
    const { rerender, result } = renderHook(
      ({ tag }: { tag: string }) => {
        useSocketEvent('ticketCreated', (p: { n: number }) => calls.push(`${tag}:${p.n}`));
        return useSocket();
      },
      { wrapper: wrapperFor(), initialProps: { tag: 'a' } },
    );
    await waitFor(() => result.current.connected, 'the socket to connect');
    await server.api('POST', '/api/v1/publish', { event: 'ticketCreated', data: { n: 1 } });
    await waitFor(() => calls.length === 1, 'the first event');
    rerender({ tag: 'b' });
    await server.api('POST', '/api/v1/publish', { event: 'ticketCreated', data: { n: 2 } });
    await waitFor(() => calls.length === 2, 'the second event');
    expect(calls).toEqual(['a:1', 'b:2']);
  });

  it('useRealTimeKPIs: the snapshot, then every update', async () => {
    await server.api('PUT', '/api/v1/modules/live/kpis', [{ id: 'v', label: 'V', value: 1 }]);
    const { result } = renderHook(() => useRealTimeKPIs('live'), { wrapper: wrapperFor() });
    await waitFor(() => result.current.kpis[0]?.value === 1, 'the snapshot');
    const first = result.current.lastUpdate!;
    await server.api('PUT', '/api/v1/modules/live/kpis', [{ id: 'v', label: 'V', value: 2 }]);
    await waitFor(() => result.current.kpis[0]?.value === 2, 'the update');
    expect(result.current.lastUpdate!.getTime()).toBeGreaterThanOrEqual(first.getTime());
    expect(result.current.lastUpdate).not.toBe(first);
  });

  it('useRealTimeNotifications: mark-read in one provider reaches the other (two tabs)', async () => {
    const user = 'two-tabs';
    const token = mintToken(user);
    await server.api('POST', '/api/v1/notifications', { userId: user, title: 'A', message: 'a', severity: 'info' });
    await server.api('POST', '/api/v1/notifications', { userId: user, title: 'B', message: 'b', severity: 'info' });
    const tab1 = renderHook(() => useRealTimeNotifications(), { wrapper: wrapperFor(token) });
    const tab2 = renderHook(() => useRealTimeNotifications(), { wrapper: wrapperFor(token) });
    await waitFor(() => tab1.result.current.unreadCount === 2 && tab2.result.current.notifications.length === 2, 'both tabs to have both notifications');
    const id = tab1.result.current.notifications.find((n) => n.title === 'A')!.id;

    const unread = await tab1.result.current.markRead(id);
    expect(unread).toBe(1);
    await waitFor(() => tab1.result.current.unreadCount === 1, 'tab 1 to count the read mark');
    await waitFor(() => tab2.result.current.unreadCount === 1, 'tab 2 to hear notification:read');
    expect(tab2.result.current.notifications.find((n) => n.id === id)?.read).toBe(true);
    expect(tab2.result.current.notifications.find((n) => n.title === 'B')?.read).toBe(false);

    // A new notification reaches both tabs, with the server's count.
    await server.api('POST', '/api/v1/notifications', { userId: user, title: 'C', message: 'c', severity: 'info' });
    await waitFor(() => tab1.result.current.unreadCount === 2 && tab2.result.current.unreadCount === 2, 'the new notification in both tabs');
    expect(tab2.result.current.notifications[0].title).toBe('C');
  });

  it('useRoom reports the server refusal', async () => {
    // Anonymous: join:library needs a token.
    const { result } = renderHook(() => useRoom('join:library', 'closed'), { wrapper: wrapperFor() });
    await waitFor(() => result.current.error !== null, 'the refusal');
    expect(result.current.joined).toBe(false);
    expect(result.current.error!.event).toBe('join:library');
    expect(result.current.error!.error).toEqual(expect.any(String));
  });
});

describe('subscriptions live as long as the component', () => {
  function Kpis({ moduleKey }: { moduleKey: string }) {
    const { kpis } = useRealTimeKPIs(moduleKey);
    return <span data-testid={`kpis-${moduleKey}`}>{kpis.map((k) => `${k.id}=${String(k.value)}`).join(',')}</span>;
  }

  it('StrictMode mounts subscribe once on the wire, two components share it, unmount leaves once', async () => {
    await server.api('PUT', '/api/v1/modules/strict/kpis', [{ id: 's', label: 'S', value: 9 }]);
    const subs0 = await clientEventCount(server, 'module:subscribe');
    const unsubs0 = await clientEventCount(server, 'module:unsubscribe');
    const kpisCalls = vi.spyOn(SwitchboardClient.prototype, 'kpis');
    const view = render(
      <StrictMode>
        <Provider>
          <Kpis moduleKey="strict" />
          <div>
            <Kpis moduleKey="strict" />
          </div>
        </Provider>
      </StrictMode>,
    );
    await waitFor(() => view.getAllByTestId('kpis-strict').every((el) => el.textContent === 's=9'), 'both components to show the snapshot');
    expect(await clientEventCount(server, 'module:subscribe')).toBe(subs0 + 1);
    expect(await clientEventCount(server, 'module:unsubscribe')).toBe(unsubs0);
    expect(await roomMembers(server, 'module:strict')).toBe(1);
    // StrictMode did run each component's effect twice (mount, unmount, mount): 2 × 2 calls.
    expect(kpisCalls.mock.calls.filter(([m]) => m === 'strict')).toHaveLength(4);
    kpisCalls.mockRestore();
    // One socket for the provider, StrictMode or not.
    expect((await server.api('GET', '/api/v1/stats')).body.data.connections).toBe(1);

    view.unmount();
    await waitFor(async () => (await server.api('GET', '/api/v1/stats')).body.data.connections === 0, 'the provider to close its socket');
    expect(await clientEventCount(server, 'module:subscribe')).toBe(subs0 + 1);
  });

  it('unmounting the last component leaves the room (the socket stays)', async () => {
    const subs0 = await clientEventCount(server, 'module:subscribe');
    const unsubs0 = await clientEventCount(server, 'module:unsubscribe');
    let setShown!: (n: number) => void;
    function Toggle() {
      const [shown, set] = useState(2);
      setShown = set;
      return (
        <>
          {shown >= 1 && <Kpis moduleKey="toggle" />}
          {shown >= 2 && <Kpis moduleKey="toggle" />}
        </>
      );
    }
    render(
      <Provider>
        <Toggle />
      </Provider>,
    );
    await waitFor(async () => (await roomMembers(server, 'module:toggle')) === 1, 'the join');
    act(() => setShown(1));
    await new Promise((r) => setTimeout(r, 50));
    expect(await roomMembers(server, 'module:toggle')).toBe(1);
    expect(await clientEventCount(server, 'module:unsubscribe')).toBe(unsubs0);
    act(() => setShown(0));
    await waitFor(async () => (await roomMembers(server, 'module:toggle')) === 0, 'the leave');
    expect(await clientEventCount(server, 'module:unsubscribe')).toBe(unsubs0 + 1);
    expect(await clientEventCount(server, 'module:subscribe')).toBe(subs0 + 1);
    expect((await server.api('GET', '/api/v1/stats')).body.data.connections).toBe(1);
  });

  it('useSwitchboard outside a provider throws a clear error', () => {
    expect(() => renderHook(() => useSwitchboard())).toThrow(/inside <SwitchboardProvider>/);
  });
});
