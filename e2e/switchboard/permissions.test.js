'use strict';
// SPEC §3, identity and permissions: a JWT (HS256) presented as `auth: { token }`, an
// `Authorization: Bearer` header or `?token=`; an invalid token is refused in every mode
// (`connect_error` "invalid token: …", never downgraded to anonymous), a missing one only in
// `--auth required` ("authentication required …"). Identity-bound rules of all three presets
// answer a denied join with `{ success: false, error }` and join nothing; client-declared ids
// and roles (`auth.userId`, `joinDashboard { userRole }`) never count.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, withTimeout, DEFAULT_TIMEOUT_MS } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, marker, jwtArgs, mintToken, signJwt, nowSec } = require('../lib/switchboard');

/** How a client hands its token over (SPEC §3). */
const CHANNELS = [
  { name: 'auth.token', opts: (token) => ({ auth: { token } }) },
  { name: 'Authorization header', opts: (token) => ({ extraHeaders: { Authorization: `Bearer ${token}` } }) },
  { name: '?token= query', opts: (token) => ({ query: { token } }) },
];

/** Tokens the server must refuse, with the `connect_error` message each must get. */
function badTokens() {
  const valid = mintToken({ sub: 'stud-1', roles: ['student'], tenant: 't1' });
  const [head, , sig] = valid.split('.');
  const exp = nowSec() + 3600;
  const promoted = Buffer.from(JSON.stringify({ sub: 'stud-1', roles: ['student', 'admin', 'staff'], tenant: 't1', exp })).toString('base64url');
  return [
    // [what, token, expected message: exact string or RegExp]
    ['forged (signed with another secret)', mintToken({ sub: 'stud-1', roles: ['admin'], secret: 'not-the-server-secret-0123456789abcdef' }), 'invalid token: bad signature'],
    ['tampered (roles raised, signature kept)', `${head}.${promoted}.${sig}`, 'invalid token: bad signature'],
    ['expired an hour ago', signJwt({ sub: 'stud-1', roles: ['student'], exp: nowSec() - 3600 }), 'invalid token: expired'],
    ['malformed (not a JWT)', 'not-a-jwt', /^invalid token: /],
    ['malformed (three garbage parts)', 'not.a.jwt', /^invalid token: /],
    ['wrong algorithm (HS384, right secret)', signJwt({ sub: 'stud-1', roles: ['admin'], exp }, { alg: 'HS384' }), /^invalid token: /],
    ['alg "none", no signature', signJwt({ sub: 'stud-1', roles: ['admin'], exp }, { alg: 'none' }), /^invalid token: /],
    ['no sub claim', signJwt({ roles: ['admin'], exp }), /^invalid token: /],
    ['no exp claim', signJwt({ sub: 'stud-1', roles: ['admin'] }), /^invalid token: /],
  ];
}

/**
 * Opens a socket that must be refused; resolves with the `connect_error` message.
 * Fails when the socket connects instead.
 */
async function refusal(clients, opts, what) {
  const s = clients.socket('/', opts);
  const outcome = new Promise((resolve) => {
    s.once('connect', () => resolve({ connected: true }));
    s.once('connect_error', (err) => resolve({ message: err && err.message }));
  });
  const r = await withTimeout(outcome, DEFAULT_TIMEOUT_MS, `connect or connect_error (${what})`);
  assert.ok(!r.connected, `${what}: connected (socket ${s.id}) instead of being refused`);
  assert.equal(s.connected, false, what);
  return r.message;
}

function assertMessage(message, expected, what) {
  assert.equal(typeof message, 'string', `${what}: connect_error message ${JSON.stringify(message)}`);
  if (expected instanceof RegExp) assert.match(message, expected, what);
  else assert.equal(message, expected, what);
}

describe('identity: --auth optional (the default)', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('a valid token works through each of auth.token, Authorization header and ?token=', { timeout: 15_000 }, async () => {
        for (const ch of CHANNELS) {
          const sub = `alice-${ch.name.replace(/\W+/g, '-')}`;
          const token = mintToken({ sub, roles: ['staff'], tenant: 't1' });
          const s = ctx.clients.socket('/', { ...mode.opts, ...ch.opts(token) });
          await waitConnect(s);
          // the identity is the token's: its own user room, its role, its tenant
          assert.deepStrictEqual(await emitAck(s, 'join:user', sub), { success: true, room: `user:${sub}` }, ch.name);
          assert.deepStrictEqual(await emitAck(s, 'join:role', 'staff'), { success: true, room: 'role:staff' }, ch.name);
          assert.deepStrictEqual(await emitAck(s, 'join:tenant', 't1'), { success: true, room: 'tenant:t1' }, ch.name);
          assert.deepStrictEqual(await emitAck(s, 'joinDashboard', { userRole: 'staff', userId: sub }), { success: true, room: 'dashboard' }, ch.name);
          assert.equal((await emitAck(s, 'join:user', 'bob')).success, false, `${ch.name}: joined another user's room`);
          s.disconnect();
          await ctx.http.waitIdle();
        }
      });

      it('invalid tokens are refused (never downgraded to anonymous), through every channel', { timeout: 20_000 }, async () => {
        for (const [what, token, expected] of badTokens()) {
          for (const ch of CHANNELS) {
            const label = `${what} via ${ch.name}`;
            assertMessage(await refusal(ctx.clients, { ...mode.opts, ...ch.opts(token) }, label), expected, label);
          }
        }
        // none of them got in
        assert.equal((await ctx.http.stats()).connections, 0);
      });

      it('no token: anonymous, public rules only; auth.userId is not an identity', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', { ...mode.opts, auth: { userId: 'alice', roles: ['admin'], tenant: 't1' } });
        const rec = recordAll(s);
        await waitConnect(s);
        assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: 'finance' }), { success: true, room: 'module:finance' });
        assert.deepStrictEqual(await emitAck(s, 'dashboard:subscribe', {}), { success: true, room: 'kpi-dashboard' });
        assert.deepStrictEqual(await emitAck(s, 'joinServiceQueue', { serviceType: 'loans' }), { success: true, room: 'service-loans' });
        for (const [event, payload] of [
          ['join:user', 'alice'],
          ['joinUserRoom', { userId: 'alice' }],
          ['join:role', 'admin'],
          ['join:tenant', 't1'],
          ['join:library', 'lib-1'],
          ['joinDashboard', { userRole: 'admin', userId: 'alice' }],
          ['joinCounter', { counterId: 1 }],
          ['notification:subscribe', {}],
          ['notification:mark-read', { notificationId: 'n-1' }],
        ]) {
          const ack = await emitAck(s, event, payload);
          assert.deepStrictEqual(ack, { success: false, error: 'authentication required' }, `${event} ${JSON.stringify(payload)}`);
        }
        const stats = await ctx.http.stats();
        assert.deepStrictEqual(
          stats.rooms.map((r) => r.name).sort(),
          ['kpi-dashboard', 'module:finance', 'service-loans'],
          `rooms: ${JSON.stringify(stats.rooms)}`,
        );
        assert.equal(s.connected, true);
        assert.deepStrictEqual(rec.of('error'), []);
      });
    });
  }
  // A token that is present but not a string, or sent with the `bearer` scheme spelled in
  // lower case (auth schemes are case-insensitive, RFC 7235 §2.1), must be checked, never
  // ignored (a forged token must not be downgraded to an anonymous connection).
  it('a non-string auth.token is refused, not ignored', {
    timeout: 15_000,
  }, async () => {
    for (const token of [12345, { jwt: 'x' }, ['a.b.c']]) {
      const what = `auth.token = ${JSON.stringify(token)}`;
      assertMessage(await refusal(ctx.clients, { transports: ['websocket'], auth: { token } }, what), /^invalid token: /, what);
    }
  });

  it('the Bearer scheme is case-insensitive: a forged `bearer` token is refused, a valid one identifies', {
    timeout: 15_000,
  }, async () => {
    const forged = mintToken({ sub: 'stud-1', roles: ['admin'], secret: 'not-the-server-secret-0123456789abcdef' });
    assertMessage(
      await refusal(ctx.clients, { transports: ['websocket'], extraHeaders: { authorization: `bearer ${forged}` } }, 'forged, lower-case bearer'),
      'invalid token: bad signature',
      'forged, lower-case bearer',
    );
    const s = await ctx.clients.connect('/', { transports: ['websocket'], extraHeaders: { authorization: `bearer ${mintToken({ sub: 'stud-1' })}` } });
    assert.deepStrictEqual(await emitAck(s, 'join:user', 'stud-1'), { success: true, room: 'user:stud-1' });
  });
});

describe('identity: --auth required', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs('required') });

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('no token (or only client-declared ids) is refused with "authentication required"', { timeout: 15_000 }, async () => {
        for (const [what, opts] of [
          ['no auth at all', {}],
          ['auth without token', { auth: { userId: 'alice', role: 'admin' } }],
          ['an Authorization header that is not Bearer', { extraHeaders: { Authorization: 'Basic YWxpY2U6c2VjcmV0' } }],
        ]) {
          assertMessage(await refusal(ctx.clients, { ...mode.opts, ...opts }, what), /^authentication required/, what);
        }
        assert.equal((await ctx.http.stats()).connections, 0);
      });

      it('invalid tokens are refused with "invalid token: …"', { timeout: 20_000 }, async () => {
        for (const [what, token, expected] of badTokens()) {
          const label = `${what} via auth.token`;
          assertMessage(await refusal(ctx.clients, { ...mode.opts, auth: { token } }, label), expected, label);
        }
        const [what, token, expected] = badTokens()[0];
        for (const ch of CHANNELS.slice(1)) {
          const label = `${what} via ${ch.name}`;
          assertMessage(await refusal(ctx.clients, { ...mode.opts, ...ch.opts(token) }, label), expected, label);
        }
        assert.equal((await ctx.http.stats()).connections, 0);
      });

      it('a valid token connects through every channel; public and own rules work, others are denied', { timeout: 15_000 }, async () => {
        const token = mintToken({ sub: 'stud-9', roles: ['student'], tenant: 't1' });
        for (const ch of CHANNELS) {
          const s = ctx.clients.socket('/', { ...mode.opts, ...ch.opts(token) });
          const rec = recordAll(s);
          await waitConnect(s);
          await rec.first('connected');
          assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: 'crm' }), { success: true, room: 'module:crm' }, ch.name);
          assert.deepStrictEqual(await emitAck(s, 'join:user', 'stud-9'), { success: true, room: 'user:stud-9' }, ch.name);
          assert.deepStrictEqual(await emitAck(s, 'notification:subscribe', {}), { success: true, room: 'user:stud-9' }, ch.name);
          // a student declaring itself admin is still a student
          const ack = await emitAck(s, 'joinDashboard', { userRole: 'admin', userId: 'admin-1' });
          assert.equal(ack.success, false, `${ch.name}: student joined the staff dashboard: ${JSON.stringify(ack)}`);
          assert.equal((await emitAck(s, 'join:role', 'staff')).success, false, ch.name);
          assert.equal((await emitAck(s, 'join:tenant', 't2')).success, false, ch.name);
          const stats = await ctx.http.stats();
          assert.deepStrictEqual(stats.rooms.map((r) => r.name).sort(), ['module:crm', 'user:stud-9'], `${ch.name}: rooms ${JSON.stringify(stats.rooms)}`);
          s.disconnect();
          await ctx.http.waitIdle();
        }
      });
    });
  }
});

describe('identity-bound rules of every preset deny what the token does not allow', () => {
  const ctx = useSwitchboard({ extraArgs: jwtArgs() });
  const tokens = {
    student: mintToken({ sub: 'stud-1', roles: ['student'], tenant: 't1' }),
    staff: mintToken({ sub: 'staff-1', roles: ['staff'], tenant: 't1' }),
    admin: mintToken({ sub: 'admin-1', roles: ['admin'], tenant: 't2' }),
  };

  // [rule, payload, who may (token names; 'anon' = no token)] for every identity-bound rule
  const RULES = [
    ['joinDashboard', { userRole: 'admin', userId: 'admin-1' }, 'dashboard', ['staff', 'admin']],
    ['joinCounter', { counterId: 3 }, 'counter-3', ['staff']],
    ['joinUserRoom', { userId: 'stud-1' }, 'user-stud-1', ['student']],
    ['join:user', 'staff-1', 'user:staff-1', ['staff']],
    ['join:role', 'admin', 'role:admin', ['admin']],
    ['join:role', 'student', 'role:student', ['student']],
    ['join:tenant', 't1', 'tenant:t1', ['student', 'staff']],
    ['join:tenant', 't2', 'tenant:t2', ['admin']],
    ['join:library', 'lib-1', 'library:lib-1', ['student', 'staff', 'admin']],
  ];

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('each rule: allowed callers join, every other caller gets { success: false } and no membership', { timeout: 20_000 }, async () => {
        const who = { anon: await ctx.clients.connect('/', mode.opts) };
        for (const [name, token] of Object.entries(tokens)) who[name] = await ctx.clients.connect('/', { ...mode.opts, auth: { token } });
        const recs = Object.fromEntries(Object.entries(who).map(([n, s]) => [n, recordAll(s)]));

        for (const [event, payload, room, allowed] of RULES) {
          for (const [name, s] of Object.entries(who)) {
            const ack = await emitAck(s, event, payload);
            const label = `${name}: ${event} ${JSON.stringify(payload)} → ${JSON.stringify(ack)}`;
            if (allowed.includes(name)) {
              assert.deepStrictEqual(ack, { success: true, room }, label);
            } else {
              assert.deepStrictEqual(Object.keys(ack || {}).sort(), ['error', 'success'], label);
              assert.equal(ack.success, false, label);
              assert.ok(typeof ack.error === 'string' && ack.error.length > 0, label);
              if (name === 'anon') assert.equal(ack.error, 'authentication required', label);
            }
          }
          // exactly the allowed callers are members
          const stats = await ctx.http.stats();
          const r = stats.rooms.find((x) => x.name === room);
          assert.equal(r ? r.members : 0, allowed.length, `${room}: rooms ${JSON.stringify(stats.rooms)}`);
        }

        // notification:subscribe joins the caller's own user room, never anyone else's
        assert.deepStrictEqual(await emitAck(who.student, 'notification:subscribe', { userId: 'staff-1' }), { success: true, room: 'user:stud-1' });
        assert.deepStrictEqual(await emitAck(who.anon, 'notification:subscribe', { userId: 'stud-1' }), { success: false, error: 'authentication required' });

        // a publish to each room reaches exactly its allowed members (sync marker last)
        for (const [, , room] of RULES) await ctx.http.publish({ event: 'probe', data: { room }, rooms: [room] });
        const m = marker('sync');
        await ctx.http.publish({ event: 'sync', data: { marker: m } });
        for (const [name, rec] of Object.entries(recs)) {
          await rec.first('sync', (d) => d && d.marker === m);
          const expected = RULES.filter(([, , , allowed]) => allowed.includes(name)).map(([, , room]) => room);
          assert.deepStrictEqual(rec.of('probe').map((i) => i.args[0].room), [...new Set(expected)], `${name} got probes`);
          assert.equal(who[name].connected, true, `${name} was disconnected`);
        }
      });
    });
  }
});
