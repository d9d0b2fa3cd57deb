'use strict';
// Bad input from clients and from backends: rule payloads of the wrong shape and unknown
// events are answered (ack or `error` event) and the socket stays connected; broken HTTP
// requests get `{ success: false, error: { code, message } }` with 400/413/422 and deliver
// nothing.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { MODES, waitConnect, expectTransport } = require('../lib/client');
const { useSwitchboard, recordAll, emitAck, marker } = require('../lib/switchboard');

const MiB = 1024 * 1024;

/** Asserts an error ack `{ success: false, error: "<non-empty string>" }` and returns the message. */
function assertErrorAck(ack, what) {
  assert.ok(ack && typeof ack === 'object', `${what}: ack ${JSON.stringify(ack)}`);
  assert.deepStrictEqual(Object.keys(ack).sort(), ['error', 'success'], `${what}: ack ${JSON.stringify(ack)}`);
  assert.equal(ack.success, false, `${what}: ack ${JSON.stringify(ack)}`);
  assert.equal(typeof ack.error, 'string', `${what}: ack ${JSON.stringify(ack)}`);
  assert.ok(ack.error.length > 0, `${what}: empty error`);
  return ack.error;
}

describe('bad input', () => {
  const ctx = useSwitchboard();

  for (const mode of MODES) {
    describe(mode.name, () => {
      it('bad rule payloads and unknown events: error ack, or `error` event without ack; socket stays usable', { timeout: 15_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        const rec = recordAll(s);
        let disconnected = null;
        s.on('disconnect', (reason) => { disconnected = reason; });
        await waitConnect(s);

        assert.match(assertErrorAck(await emitAck(s, 'module:subscribe', {}), 'module:subscribe {}'), /moduleKey/);
        assertErrorAck(await emitAck(s, 'module:subscribe', 42), 'module:subscribe 42');
        assertErrorAck(await emitAck(s, 'module:subscribe'), 'module:subscribe (no payload)');
        assertErrorAck(await emitAck(s, 'module:subscribe', null), 'module:subscribe null');
        assertErrorAck(await emitAck(s, 'module:subscribe', { moduleKey: '' }), 'module:subscribe { moduleKey: "" }');
        assertErrorAck(await emitAck(s, 'module:subscribe', { moduleKey: { nested: true } }), 'module:subscribe { moduleKey: {} }');
        assertErrorAck(await emitAck(s, 'module:subscribe', 'finance'), 'module:subscribe "finance"');
        assertErrorAck(await emitAck(s, 'joinServiceQueue', {}), 'joinServiceQueue {}');
        assertErrorAck(await emitAck(s, 'join:role', { role: 'staff' }), 'join:role { role }');
        assert.deepStrictEqual(
          await emitAck(s, 'no:such:event', { a: 1 }),
          { success: false, error: 'unknown event: no:such:event' },
        );

        // without an ack callback the error comes as an `error` event
        s.emit('module:subscribe', {});
        s.emit('module:subscribe', 42);
        s.emit('no:such:event', { a: 1 });
        await rec.until((xs) => xs.filter((i) => i.event === 'error').length >= 3, 'three `error` events');
        const errors = rec.of('error').map((i) => i.args[0]);
        for (const e of errors) assert.deepStrictEqual(Object.keys(e).sort(), ['error', 'event', 'success'], JSON.stringify(e));
        assert.deepStrictEqual(errors.map((e) => [e.event, e.success]), [
          ['module:subscribe', false],
          ['module:subscribe', false],
          ['no:such:event', false],
        ]);
        assert.match(errors[0].error, /moduleKey/);
        assert.equal(typeof errors[1].error, 'string');
        assert.equal(errors[2].error, 'unknown event: no:such:event');

        // still connected and answering
        assert.equal(await emitAck(s, 'ping'), 'pong');
        assert.equal(s.connected, true);
        assert.equal(disconnected, null);
        // and none of it joined a room (this socket is the only one connected)
        const stats = await ctx.http.stats();
        assert.deepStrictEqual(stats.rooms, []);
        assert.equal(stats.connections, 1);
        // a good subscribe still works afterwards
        assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: 'finance' }), { success: true, room: 'module:finance' });
        await expectTransport(assert, s, mode);
      });

      it('broken HTTP requests: 400 / 413 / 422 with the error envelope, nothing delivered', { timeout: 20_000 }, async () => {
        const s = ctx.clients.socket('/', mode.opts);
        const rec = recordAll(s);
        await waitConnect(s);
        assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: 'finance' }), { success: true, room: 'module:finance' });
        const seenBefore = rec.items.length;

        const kpis = [{ id: 'revenue', label: 'Revenue', value: 1, trend: 'up', status: 'success' }];
        const good = { event: 'kpi:update:finance', data: kpis, rooms: ['module:finance'] };
        const huge = JSON.stringify({ ...good, data: 'x'.repeat(MiB + 1024) });
        assert.ok(Buffer.byteLength(huge) > MiB);
        const cases = [
          ['/api/v1/publish', 'truncated JSON', JSON.stringify(good).slice(0, -5), 400, 'invalid_json'],
          ['/api/v1/publish', 'not JSON at all', 'event=kpi:update:finance', 400, 'invalid_json'],
          ['/api/v1/publish', 'missing event', { data: kpis, rooms: ['module:finance'] }, 422, null],
          ['/api/v1/publish', 'empty event', { ...good, event: '' }, 422, null],
          ['/api/v1/publish', 'event not a string', { ...good, event: 42 }, 422, null],
          ['/api/v1/publish', 'reserved event', { ...good, event: 'connect' }, 422, null],
          ['/api/v1/publish', 'rooms not an array', { ...good, rooms: 'module:finance' }, 422, null],
          ['/api/v1/publish', 'unknown field `room`', { event: good.event, data: kpis, room: 'module:finance' }, 422, null],
          ['/api/v1/publish', 'batch with one bad item', [good, { data: kpis, rooms: ['module:finance'] }], 422, null],
          ['/api/v1/publish', 'empty batch', [], 422, null],
          ['/api/v1/publish', 'JSON that is not an object', '"kpi:update:finance"', 422, null],
          ['/api/v1/publish', 'body over 1 MiB', huge, 413, 'payload_too_large'],
          ['/api/test/socket-event', 'truncated JSON', '{"event":"kpi:update:finance","room":"module:fin', 400, 'invalid_json'],
          ['/api/test/socket-event', 'missing event', { data: kpis, room: 'module:finance' }, 422, null],
          ['/api/test/socket-event', 'body over 1 MiB', JSON.stringify({ event: good.event, room: 'module:finance', data: 'x'.repeat(MiB + 1024) }), 413, 'payload_too_large'],
        ];
        for (const [path, what, body, status, code] of cases) {
          const r = await ctx.http.post(path, body);
          const label = `POST ${path} (${what}) → HTTP ${r.status} ${r.text.slice(0, 300)}`;
          assert.equal(r.status, status, label);
          assert.ok(r.json, `${label}: not JSON`);
          assert.deepStrictEqual(Object.keys(r.json).sort(), ['error', 'success'], label);
          assert.equal(r.json.success, false, label);
          assert.deepStrictEqual(Object.keys(r.json.error).sort(), ['code', 'message'], label);
          if (code) assert.equal(r.json.error.code, code, label);
          else assert.equal(r.json.error.code, 'validation_failed', label);
          assert.equal(typeof r.json.error.message, 'string', label);
          assert.ok(r.json.error.message.length > 0, label);
        }

        // nothing of the above was delivered: a marker published now is the first event seen
        const m = marker('after-bad-requests');
        const d = await ctx.http.publish({ event: 'kpi:update:finance', data: { marker: m }, rooms: ['module:finance'] });
        assert.equal(d.recipients, 1);
        await rec.first('kpi:update:finance', (x) => x && x.marker === m);
        const since = rec.items.slice(seenBefore);
        assert.deepStrictEqual(since.map((i) => [i.event, i.args[0]]), [['kpi:update:finance', { marker: m }]]);

        // a large body under the limit is fine and arrives whole
        const big = 'y'.repeat(512 * 1024);
        const d2 = await ctx.http.publish({ event: 'kpi:update:finance', data: { big }, rooms: ['module:finance'] });
        assert.equal(d2.recipients, 1);
        const got = await rec.first('kpi:update:finance', (x) => x && typeof x.big === 'string');
        assert.equal(got.args[0].big.length, big.length);
        assert.equal(got.args[0].big, big);

        // the server is fine
        const h = await ctx.http.get('/health');
        assert.equal(h.status, 200);
        assert.equal(s.connected, true);
        await expectTransport(assert, s, mode);
      });
    });
  }

  it('unknown route: 404 with the error envelope', { timeout: 10_000 }, async () => {
    const r = await ctx.http.get('/api/v1/nope');
    assert.equal(r.status, 404);
    assert.deepStrictEqual(r.json, { success: false, error: { code: 'not_found', message: r.json.error.message } });
  });
});
