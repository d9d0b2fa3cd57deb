'use strict';
// The built-in monitor page (/monitor) in a real browser: it polls GET /api/v1/stats every
// 2 s and shows connections, rooms, event rates and recent notable events; with an API
// key configured it asks for the key (or takes ?key=) and sends it as a Bearer token.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const { io } = require('socket.io-client');
const { usePages, apiOk, api, sel, textOf, waitText, waitPage, screenshot } = require('./browser');

const POLL_WAIT_MS = 10_000; // a few 2 s polls

/** The connection count the monitor shows. */
const shownConnections = (page) => textOf(page, 'monitor-connections').then(Number);

describe('monitor page (/monitor)', () => {
  const pages = usePages({ demo: true });

  it('connections rise when a demo page opens and fall when it closes; rooms are listed', { timeout: 60_000 }, async () => {
    const monitor = await pages.browser.open('/monitor');
    await waitText(monitor, 'monitor-status', 'Live');
    const base = Number(await waitText(monitor, 'monitor-connections', (t) => /^\d+$/.test(t)));
    const stats = await apiOk(pages.server.url, 'GET', '/api/v1/stats');
    assert.equal(base, stats.connections, 'the monitor shows the server\'s count (the monitor itself holds no socket)');
    assert.match(await textOf(monitor, 'monitor-node-name'), new RegExp(`node ${stats.node.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));

    const demo = await pages.browser.open('/demo');
    await waitText(demo, 'conn-status', 'Live');
    await waitText(monitor, 'monitor-connections', String(base + 1), POLL_WAIT_MS);
    // the demo page's rooms: the dashboard and one per module
    await monitor.locator(sel('monitor-room-kpi-dashboard')).waitFor({ timeout: POLL_WAIT_MS });
    await monitor.locator(sel('monitor-room-module:finance')).waitFor({ timeout: POLL_WAIT_MS });
    assert.equal(await textOf(monitor, 'monitor-room-members-kpi-dashboard'), '1');
    const rooms = await monitor.$$eval(`${sel('monitor-rooms')} tbody tr td.name`, (xs) => xs.map((x) => x.textContent));
    for (const m of ['crm', 'finance', 'hr', 'security', 'elearning', 'rehab', 'reports']) {
      assert.ok(rooms.includes(`module:${m}`), `rooms table lists module:${m}: ${rooms}`);
    }

    const second = await pages.browser.open('/demo');
    await waitText(second, 'conn-status', 'Live');
    await waitText(monitor, 'monitor-connections', String(base + 2), POLL_WAIT_MS);
    await waitText(monitor, 'monitor-room-members-kpi-dashboard', '2', POLL_WAIT_MS);

    await second.close();
    await waitText(monitor, 'monitor-connections', String(base + 1), POLL_WAIT_MS);
    await demo.close();
    await waitText(monitor, 'monitor-connections', String(base), POLL_WAIT_MS);
    await monitor.locator(sel('monitor-room-kpi-dashboard')).waitFor({ state: 'detached', timeout: POLL_WAIT_MS });
    assert.equal(await shownConnections(monitor), base);
    await monitor.close();
  });

  it('draws events in/out per second from counter deltas and lists denied joins and refused tokens', { timeout: 60_000 }, async () => {
    const monitor = await pages.browser.open('/monitor');
    const demo = await pages.browser.open('/demo'); // traffic: KPI updates go out every 2 s
    await waitText(demo, 'conn-status', 'Live');

    // a guest asks for the staff dashboard (denied) and a client brings a bad token (refused)
    const guest = io(pages.server.url, { transports: ['websocket'], reconnection: false });
    const bad = io(pages.server.url, { transports: ['websocket'], reconnection: false, auth: { token: 'bad.token.value' } });
    const denial = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('no answer to joinDashboard in 5 s')), 5_000);
      guest.on('connect', () => guest.emit('joinDashboard', {}, (ack) => { clearTimeout(t); resolve(ack); }));
    });
    const refusal = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('bad token not refused in 5 s')), 5_000);
      bad.on('connect_error', (e) => { clearTimeout(t); resolve(e); });
    });
    try {
      const ack = await denial;
      assert.equal(ack && ack.success, false, `joinDashboard as a guest is denied: ${JSON.stringify(ack)}`);
      const err = await refusal;
      assert.match(err.message, /invalid token/);
    } finally {
      guest.close();
      bad.close();
    }
    await monitor.locator(`${sel('monitor-recent')} li[data-kind="denied_join"]`).first().waitFor({ timeout: POLL_WAIT_MS });
    await monitor.locator(`${sel('monitor-recent')} li[data-kind="auth_failure"]`).first().waitFor({ timeout: POLL_WAIT_MS });
    const recent = await textOf(monitor, 'monitor-recent');
    assert.match(recent, /Denied join/);
    assert.match(recent, /joinDashboard/);
    assert.match(recent, /Refused token/);
    assert.match(recent, /invalid token/);
    const denied = await apiOk(pages.server.url, 'GET', '/api/v1/stats').then((s) => s.counters.denied_joins);
    await waitText(monitor, 'monitor-counter-denied_joins', (t) => t.includes(String(denied)), POLL_WAIT_MS);

    // the chart: a few samples, two lines, and a non-zero outgoing rate at some point
    await waitPage(monitor, (s) => Number(document.querySelector(s)?.dataset.samples) >= 3, sel('monitor-chart'), '3 samples in the chart', 15_000);
    assert.equal(await monitor.locator(`${sel('monitor-chart')} polyline`).count(), 2, 'in and out lines');
    const pts = await monitor.locator(`${sel('monitor-chart')} polyline.line-out`).getAttribute('points');
    assert.ok(pts.split(' ').length >= 3, `out line points: ${pts}`);
    await waitText(monitor, 'monitor-rate-out', (t) => Number(t.replace(/,/g, '')) > 0, POLL_WAIT_MS);
    await screenshot(monitor, 'monitor-1440');

    await monitor.setViewportSize({ width: 375, height: 812 });
    const w = await monitor.evaluate(() => [document.documentElement.scrollWidth, window.innerWidth]);
    assert.ok(w[0] <= w[1], `no horizontal scroll at 375 px (${w})`);
    await screenshot(monitor, 'monitor-375');
    await demo.close();
    await monitor.close();
  });
});

describe('monitor page with an API key configured', () => {
  const KEY = 'monitor-e2e-key-0123456789';
  const pages = usePages({ demo: false, extraArgs: ['--api-key', KEY] });

  // Chromium reports every 401 answer as a console error; those are the expected ones here.
  const allow = [/Failed to load resource: the server responded with a status of 401/];

  it('asks for the key on 401, then shows the figures; the key is kept for the tab', { timeout: 60_000 }, async () => {
    assert.equal((await api(pages.server.url, 'GET', '/api/v1/stats')).status, 401, 'the API wants the key');
    const page = await pages.browser.open('/monitor', { allow });
    await page.locator(sel('monitor-keybox')).waitFor({ state: 'visible' });
    assert.equal(await textOf(page, 'monitor-status'), 'Key required');
    assert.equal(await textOf(page, 'monitor-connections'), '—');

    await page.locator(sel('monitor-key-input')).fill('wrong-key');
    await page.locator(sel('monitor-key-submit')).click();
    await waitText(page, 'monitor-key-error', (t) => /not accepted/.test(t));
    await screenshot(page, 'monitor-key');

    await page.locator(sel('monitor-key-input')).fill(KEY);
    await page.locator(sel('monitor-key-submit')).click();
    await page.locator(sel('monitor-keybox')).waitFor({ state: 'hidden' });
    await waitText(page, 'monitor-status', 'Live');
    await waitText(page, 'monitor-connections', '0');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.apiKey')), KEY);

    // a reload keeps the key (sessionStorage): no prompt
    await page.reload();
    await waitText(page, 'monitor-status', 'Live');
    assert.equal(await page.locator(sel('monitor-keybox')).isHidden(), true);
    await page.close();
  });

  it('takes ?key= from the URL and removes it from the address bar', { timeout: 30_000 }, async () => {
    // a new tab has its own (empty) sessionStorage
    const page = await pages.browser.open(`/monitor?key=${encodeURIComponent(KEY)}`);
    await waitText(page, 'monitor-status', 'Live');
    assert.equal(await page.locator(sel('monitor-keybox')).isHidden(), true);
    assert.equal(new URL(page.url()).search, '', 'the key is not left in the URL');
    await page.close();
  });
});
