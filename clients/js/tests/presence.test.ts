// Presence through the SDK against the server's presence rooms: join / leave per user, not
// per tab; anonymous sockets counted, not listed; members only; the HTTP view agrees.

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceChange, PresenceState } from '@switchboard/client';
import { client, closeAll, connected, mintToken, nextEvent, startServer, waitFor, type TestServer } from './harness';

let server: TestServer;
beforeAll(async () => {
  server = await startServer();
});
afterEach(() => closeAll());
afterAll(async () => {
  await server?.stop();
});

describe('presence', () => {
  it('tells join / leave once per user, counts anonymous sockets, lists identified users', async () => {
    const room = 'service-presence';
    const join = { serviceType: 'presence' } as const;
    const alice1 = client(server, { token: mintToken('alice') });
    const alice2 = client(server, { token: mintToken('alice') });
    const bob = client(server, { token: mintToken('bob') });
    const anon = client(server);

    // What alice's first tab sees, raw and through the helper.
    const raw: Array<[string, PresenceChange]> = [];
    alice1.socket.on('presence:join', (e) => raw.push(['join', e]));
    alice1.socket.on('presence:leave', (e) => raw.push(['leave', e]));
    const states: PresenceState[] = [];
    const feed = alice1.presence(room, (s) => states.push(s));
    const last = () => states[states.length - 1];

    await alice1.subscribe('joinServiceQueue', join);
    await feed.ready;
    await waitFor(() => last()?.loaded && last().users.length === 1, 'the first list');
    expect(last()).toMatchObject({ room, users: ['alice'], count: 1, anonymous: 0, truncated: false, error: null });

    // A second tab of the same user: no presence:join.
    await alice2.subscribe('joinServiceQueue', join);
    await bob.subscribe('joinServiceQueue', join);
    await waitFor(() => last().count === 2, 'bob to be announced');
    expect(last().users.sort()).toEqual(['alice', 'bob']);
    await anon.subscribe('joinServiceQueue', join);

    // The anonymous socket is counted by presence:get (and in the HTTP view), not listed.
    const got = await bob.request<{ success: boolean; users: string[]; count: number; anonymous: number }>('presence:get', { room });
    expect(got).toMatchObject({ success: true, room, count: 2, anonymous: 1, truncated: false });
    expect(got.users.sort()).toEqual(['alice', 'bob']);
    const http = await server.api('GET', `/api/v1/rooms/${encodeURIComponent(room)}/presence`);
    expect(http.status).toBe(200);
    expect(http.body.success).toBe(true);
    expect(http.body.data).toMatchObject({ room, count: 2, anonymous: 1, truncated: false });
    expect([...http.body.data.users].sort()).toEqual(['alice', 'bob']);

    // alice's second tab leaves: alice is still there (no presence:leave); bob leaving is told.
    const bobLeft = nextEvent<PresenceChange>(alice1.socket, 'presence:leave');
    alice2.close();
    await waitFor(async () => (await server.api('GET', `/api/v1/rooms/${encodeURIComponent(room)}/presence`)).body.data.anonymous === 1, 'the HTTP view after the tab closed');
    bob.close();
    expect(await bobLeft).toEqual({ room, user: 'bob', count: 1 });
    await waitFor(() => last().count === 1, 'the helper to apply the leave');
    expect(last().users).toEqual(['alice']);

    // alice once (her first tab's own join), bob once each way; nothing for the second tab.
    expect(raw).toEqual([
      ['join', { room, user: 'alice', count: 1 }],
      ['join', { room, user: 'bob', count: 2 }],
      ['leave', { room, user: 'bob', count: 1 }],
    ]);
    feed.close();
  });

  it('answers presence:get to members only', async () => {
    const member = client(server, { token: mintToken('carol') });
    const outsider = client(server, { token: mintToken('dave') });
    await member.subscribe('join:library', 'members-only');
    await connected(outsider);
    const refused = await outsider.request<{ success: boolean; error?: string }>('presence:get', { room: 'library:members-only' });
    expect(refused.success).toBe(false);
    expect(refused.error).toEqual(expect.any(String));

    // The helper reports the refusal, then loads the list once the room is joined.
    const states: PresenceState[] = [];
    const feed = outsider.presence('library:members-only', (s) => states.push(s));
    await waitFor(() => states.some((s) => s.error !== null), 'the refusal in the helper');
    await outsider.subscribe('join:library', 'members-only');
    await feed.ready;
    await waitFor(() => states[states.length - 1].loaded, 'the list after joining');
    expect(states[states.length - 1]).toMatchObject({ users: expect.arrayContaining(['carol', 'dave']), count: 2, error: null });
    feed.close();
  });
});
