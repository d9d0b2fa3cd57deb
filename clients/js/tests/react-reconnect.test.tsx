// @vitest-environment jsdom
// Hooks across a server restart (a reconnect the server cannot recover): useRoom's `joined`
// drops and comes back, usePresence asks again, useRealTimeKPIs gets a fresh snapshot.

import type { ReactNode } from 'react';
import { cleanup, renderHook } from '@testing-library/react';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SwitchboardProvider, usePresence, useRealTimeKPIs, useRoom, useSocket } from '@switchboard/react';
import { FAST_RECONNECT, client, closeAll, mintToken, roomMembers, startServer, waitFor, type TestServer } from './harness';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  cleanup();
  closeAll();
  await server?.stop();
});

it('useRoom, usePresence and useRealTimeKPIs come back after a restart', async () => {
  await server.api('PUT', '/api/v1/modules/rr/kpis', [{ id: 'k', label: 'K', value: 'before' }]);
  const bob = client(server, { token: mintToken('bob') });
  await bob.subscribe('join:library', 'rr');

  const joinedHistory: boolean[] = [];
  const presenceHistory: string[] = [];
  const wrapper = ({ children }: { children: ReactNode }) => (
    <SwitchboardProvider url={server.url} token={mintToken('alice')} options={FAST_RECONNECT}>
      {children}
    </SwitchboardProvider>
  );
  const { result } = renderHook(
    () => {
      const room = useRoom('join:library', 'rr');
      if (joinedHistory[joinedHistory.length - 1] !== room.joined) joinedHistory.push(room.joined);
      const presence = usePresence('library:rr');
      const p = JSON.stringify(presence);
      if (presenceHistory[presenceHistory.length - 1] !== p) presenceHistory.push(p);
      return { room, presence, kpis: useRealTimeKPIs('rr'), socket: useSocket() };
    },
    { wrapper },
  );
  await waitFor(() => result.current.presence.count === 2 && result.current.kpis.kpis[0]?.value === 'before', 'presence and KPIs before the restart');
  expect(result.current.presence.users.sort()).toEqual(['alice', 'bob']);
  expect(joinedHistory).toEqual([false, true]);

  await server.restart();
  await server.api('PUT', '/api/v1/modules/rr/kpis', [{ id: 'k', label: 'K', value: 'after' }]);
  await waitFor(() => result.current.socket.connected && result.current.room.joined, 'alice to be back in the room', 15_000);
  // The room was re-joined (not recovered): joined went false, then true again.
  expect(joinedHistory).toEqual([false, true, false, true]);
  expect(result.current.socket.socket.recovered).toBe(false);
  await waitFor(() => result.current.kpis.kpis[0]?.value === 'after', 'the snapshot after the restart');
  await waitFor(async () => (await roomMembers(server, 'library:rr')) === 2, 'both users back in library:rr', 15_000);
  await waitFor(() => result.current.presence.count === 2, () => `presence asked again (states: ${presenceHistory.join(' → ')})`);
  expect(result.current.presence.users.sort()).toEqual(['alice', 'bob']);
});
