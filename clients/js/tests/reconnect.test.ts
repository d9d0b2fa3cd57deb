// Reconnects: re-subscription after a server restart (no recovery possible), recovery after
// a dropped transport (nothing re-sent), token refresh after expiry.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Kpi, SwitchboardError } from '@switchboard/client';
import { client, clientEventCount, closeAll, connected, mintToken, nextEvent, roomMembers, startServer, waitFor, type TestServer } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => closeAll());
afterAll(async () => {
  await server?.stop();
});

describe('reconnect', () => {
  it('re-sends every subscription after a reconnect the server did not recover (restart)', async () => {
    await server.api('PUT', '/api/v1/modules/re/kpis', [{ id: 'a', label: 'A', value: 1 }]);
    const c = client(server);
    const kpis: Kpi[][] = [];
    const feed = c.kpis('re', (k) => kpis.push(k));
    await feed.ready;
    await c.subscribe('joinServiceQueue', { serviceType: 're' });
    await waitFor(() => kpis.length >= 1, 'the first snapshot');
    const events: string[] = [];
    c.on('recovered', () => events.push('recovered'));
    const resubscribed = nextEvent<{ count: number; failed: SwitchboardError[] }>(c, 'resubscribed', 15_000);

    await server.restart(); // same port and database; the new process knows no session
    const info = await resubscribed;
    expect(info.count).toBe(2);
    expect(info.failed).toEqual([]);
    expect(c.socket.recovered).toBe(false);
    expect(events).toEqual([]);
    expect(c.rooms().sort()).toEqual(['module:re', 'service-re']);
    expect(await roomMembers(server, 'module:re')).toBe(1);
    expect(await roomMembers(server, 'service-re')).toBe(1);
    // Exactly one join each on the new process.
    expect(await clientEventCount(server, 'module:subscribe')).toBe(1);
    expect(await clientEventCount(server, 'joinServiceQueue')).toBe(1);
    // The re-join brought a fresh snapshot, and updates flow again.
    await waitFor(() => kpis.length >= 2, 'the snapshot after the restart');
    await server.api('PUT', '/api/v1/modules/re/kpis', [{ id: 'a', label: 'A', value: 42 }]);
    await waitFor(() => kpis.some((l) => l[0]?.value === 42), 'an update after the restart');
    feed.close();
  });

  it('surfaces recovered after a dropped transport and sends nothing again', async () => {
    const c = client(server);
    await c.subscribe('module:subscribe', { moduleKey: 'rec' });
    const joins = await clientEventCount(server, 'module:subscribe');
    const recovered = nextEvent(c, 'recovered', 10_000);
    let resubscribed = 0;
    c.on('resubscribed', () => resubscribed++);
    const disconnected = nextEvent(c.socket, 'disconnect');

    c.socket.io.engine.close(); // the transport drops; the socket reconnects by itself
    await disconnected;
    // Published while the client is away: the recovery replays it.
    const missed: Kpi[][] = [];
    c.socket.on('kpi:update:rec', (k) => missed.push(k));
    await server.api('PUT', '/api/v1/modules/rec/kpis', [{ id: 'x', label: 'X', value: 'while away' }]);
    await recovered;

    expect(c.socket.recovered).toBe(true);
    expect(c.rooms()).toEqual(['module:rec']);
    expect(await clientEventCount(server, 'module:subscribe')).toBe(joins);
    expect(resubscribed).toBe(0);
    await waitFor(() => missed.some((l) => l[0]?.value === 'while away'), 'the replayed update');
  });

  it('asks getToken again when the server refuses an expired token, and reconnects', async () => {
    const tokens: string[] = [];
    const getToken = () => {
      // The first token expires in 2 s; the next ones live an hour.
      const t = mintToken('refresh-user', { expInSecs: tokens.length === 0 ? 2 : 3600 });
      tokens.push(t);
      return t;
    };
    const c = client(server, { getToken });
    const errors: string[] = [];
    c.socket.on('connect_error', (e) => errors.push(e.message));
    let refreshed = 0;
    c.on('tokenRefreshed', () => refreshed++);
    await connected(c);
    expect(tokens).toHaveLength(1);
    await c.subscribe('join:user', 'refresh-user');

    // Wait (bounded) until the first token is past its exp (leeway 0 on the test server).
    const exp = JSON.parse(Buffer.from(tokens[0].split('.')[1], 'base64url').toString()).exp as number;
    await waitFor(() => Date.now() / 1000 > exp + 1, 'the first token to expire', 6_000);
    const reconnected = nextEvent<{ recovered: boolean }>(c, 'connect', 10_000);
    c.socket.io.engine.close();
    await reconnected;

    expect(errors).toEqual(['invalid token: expired']);
    expect(tokens).toHaveLength(2);
    expect(refreshed).toBe(1);
    expect(c.connected).toBe(true);
    // The new identity works: a self-only room of that user.
    await waitFor(async () => (await roomMembers(server, 'user:refresh-user')) === 1, 'the user room after the refresh');
    const unsubscribe = await c.subscribe('notification:subscribe', {});
    unsubscribe();
  });

  it('gives up after maxTokenRefreshes refusals in a row', async () => {
    let calls = 0;
    const c = client(server, {
      maxTokenRefreshes: 2,
      getToken: () => {
        calls++;
        return mintToken('always-expired', { expInSecs: -60 });
      },
    });
    const err = await nextEvent<SwitchboardError>(c, 'error', 10_000);
    expect(err.message).toMatch(/^token refused 3 times in a row \(invalid token: expired\)/);
    expect(calls).toBe(3);
    expect(c.connected).toBe(false);
  });
});
