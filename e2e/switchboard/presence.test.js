'use strict';
// Presence (README "Presence") with the official socket.io-client: per user, not per tab;
// a recovered socket is back in its presence rooms; the HTTP listing agrees.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { waitConnect, once } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, jwtArgs, mintToken } = require('../lib/switchboard');

const WS = { transports: ['websocket'] };

describe('presence', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });

  async function open(user, opts = {}) {
    const s = ctx.clients.socket('/', { ...WS, auth: { token: mintToken({ sub: user }) }, ...opts });
    const rec = recordAll(s);
    await waitConnect(s);
    return { s, rec };
  }
  const listing = async (room) => (await ctx.http.get(`/api/v1/rooms/${room}/presence`)).json.data;

  it('a recovered socket is counted in its presence room again; the room sees the drop as a leave and the return as a join', async () => {
    const room = 'library:recover';
    const amy = await open('amy', { reconnection: true, reconnectionDelay: 50, reconnectionDelayMax: 100 });
    const ben = await open('ben');
    assert.deepStrictEqual(await emitAck(amy.s, 'join:library', 'recover'), { success: true, room });
    assert.deepStrictEqual(await emitAck(ben.s, 'join:library', 'recover'), { success: true, room });
    await ben.rec.first('presence:join', (p) => p.user === 'ben');

    const back = once(amy.s, 'connect', 10_000, 'the reconnect');
    amy.s.io.engine.close();
    await back;
    assert.equal(amy.s.recovered, true, 'recovered');
    await ben.rec.first('presence:join', (p) => p.user === 'amy' && ben.rec.indexOf('presence:leave') >= 0);
    const seen = ben.rec.items.filter((x) => x.event.startsWith('presence:')).map((x) => [x.event, x.args[0].user, x.args[0].count]);
    assert.deepStrictEqual(seen, [
      ['presence:join', 'ben', 2],
      ['presence:leave', 'amy', 1],
      ['presence:join', 'amy', 2],
    ]);
    // The recovered socket is a member again: it may ask, and the listing names it.
    assert.deepStrictEqual(await emitAck(amy.s, 'presence:get', { room }),
      { success: true, room, users: ['amy', 'ben'], count: 2, anonymous: 0, truncated: false });
    assert.deepStrictEqual(await listing(room), { room, users: ['amy', 'ben'], count: 2, anonymous: 0, truncated: false });
  });

  it('the staff dashboard room has presence (queue preset); a room without presence is refused', async () => {
    const staff = await open('sta', { auth: { token: mintToken({ sub: 'sta', roles: ['staff'] }) } });
    assert.deepStrictEqual(await emitAck(staff.s, 'joinDashboard', { userRole: 'staff', userId: 'sta' }), { success: true, room: 'dashboard' });
    const join = await staff.rec.first('presence:join');
    assert.deepStrictEqual(join.args[0], { room: 'dashboard', user: 'sta', count: 1 });
    assert.deepStrictEqual(await emitAck(staff.s, 'module:subscribe', { moduleKey: 'crm' }), { success: true, room: 'module:crm' });
    assert.deepStrictEqual(await emitAck(staff.s, 'presence:get', { room: 'module:crm' }), { success: false, error: 'this room has no presence' });
    const r = await ctx.http.get('/api/v1/rooms/module:crm/presence');
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'not_found');
  });
});
