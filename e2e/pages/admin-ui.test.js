'use strict';
// The official Socket.IO Admin UI (@socket.io/admin-ui 0.5.1, its prebuilt `ui/dist`) served
// by switchboard at /admin-ui/ and pointed at switchboard's own `/admin` namespace, in a
// real browser: sign in through the UI's connection modal, see the sockets of two
// socket.io-client clients, follow connects/disconnects live, disconnect one from the UI,
// find the server on the Servers page, and come back after a reload with the stored session
// (the UI keeps the `session` id only if it arrives after the CONNECT packet: it registers
// its listener in the `connect` handler).
//
// The UI's "emit" action is a stub in 0.5.1 (`SocketRooms.vue`: `emit() { // TODO }`), so the
// `emit` admin action is sent by this test over socket.io-client, exactly as the UI would
// send any action: `io(origin + "/admin", { auth: { username, password } })`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const bcrypt = require('bcryptjs');
const { clientFactory, waitConnect, once, record, withTimeout } = require('../lib/client');
const { usePages, waitPage, screenshot } = require('./browser');

const USERNAME = 'admin';
const PASSWORD = 'admin-ui-e2e-password';
const PASSWORD_HASH = bcrypt.hashSync(PASSWORD, 4);

// index.html pulls Roboto and the Material Design icon font from CDNs; the test machine may
// be offline, and a failed load would be a console error. Answer them with empty CSS.
const CDN = /^https:\/\/(fonts\.googleapis\.com|fonts\.gstatic\.com|cdn\.jsdelivr\.net)\//;

/** Socket ids in the first column of the Sockets table (the UI's `#` column). */
const shownSocketIds = (page) =>
  page.$$eval('.v-data-table tbody tr:not(.v-data-table__empty-wrapper)', (rows) =>
    rows.map((tr) => (tr.querySelector('td') ? tr.querySelector('td').textContent.trim() : '')));

/** Trimmed texts of the cells of the table row that contains `text`. */
async function rowCells(page, text) {
  const row = page.locator('.v-data-table tbody tr', { hasText: text });
  await row.waitFor({ state: 'visible' });
  return row.locator('td').evaluateAll((tds) => tds.map((td) => td.textContent.replace(/\s+/g, ' ').trim()));
}

/** Waits until the Sockets table lists exactly `ids` (any order). */
function waitSocketIds(page, ids, what) {
  return waitPage(
    page,
    (want) => {
      const got = [...document.querySelectorAll('.v-data-table tbody tr:not(.v-data-table__empty-wrapper)')]
        .map((tr) => (tr.querySelector('td') ? tr.querySelector('td').textContent.trim() : ''))
        .sort();
      return JSON.stringify(got) === JSON.stringify([...want].sort()) ? got : null;
    },
    ids,
    what,
  );
}

/** Clicks an entry of the navigation drawer (open at 1440 px: `lgAndUp`). */
async function nav(page, title, hash) {
  await page.locator('.v-navigation-drawer').getByRole('link', { name: title, exact: true }).click();
  await waitPage(page, (h) => location.hash.replace(/\/$/, '') === h.replace(/\/$/, ''), hash, `the route ${hash}`);
}

/** The connection status in the app bar ("Status: " and a chip "connected" / "disconnected"). */
function waitStatus(page, connected) {
  return waitPage(
    page,
    (want) => {
      const chip = document.querySelector('header.v-app-bar .v-chip__content');
      return chip && chip.textContent.trim() === want ? want : null;
    },
    connected ? 'connected' : 'disconnected',
    `app bar "Status: ${connected ? 'connected' : 'disconnected'}"`,
  );
}

describe('Socket.IO Admin UI (/admin-ui/) against the /admin namespace', () => {
  const pages = usePages({
    demo: true,
    extraEnv: {
      SWITCHBOARD_ADMIN_USERNAME: USERNAME,
      SWITCHBOARD_ADMIN_PASSWORD_HASH: PASSWORD_HASH,
    },
  });

  it('serves the UI\'s files under /admin-ui/', { timeout: 30_000 }, async () => {
    const base = pages.server.url;
    const index = await fetch(`${base}/admin-ui/`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') || '', /^text\/html/);
    // no other site may frame it (it signs in by itself from its stored session)
    assert.equal(index.headers.get('x-frame-options'), 'DENY');
    assert.match(index.headers.get('content-security-policy') || '', /frame-ancestors 'none'/);
    const html = await index.text();
    assert.match(html, /<title>Socket\.IO Admin UI<\/title>/);
    assert.doesNotMatch(html, /https?:\/\//, 'the index names no third-party URL');
    // every script and stylesheet it names is served (relative to /admin-ui/), with a fitting type
    const assets = [...html.matchAll(/(?:src|href)="([^"]+\.(?:js|css))"/g)].map((m) => m[1]).filter((u) => !/^https?:/.test(u));
    assert.ok(assets.length >= 4, `assets named by index.html: ${assets}`);
    for (const a of assets) {
      const url = new URL(a, `${base}/admin-ui/`).href;
      assert.ok(url.startsWith(`${base}/admin-ui/`), `${a} resolves under /admin-ui/ (${url})`);
      const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
      assert.equal(r.status, 200, url);
      const type = r.headers.get('content-type') || '';
      assert.match(type, a.endsWith('.js') ? /javascript/ : /^text\/css/, `${url}: ${type}`);
      await r.arrayBuffer();
    }
    // without the slash the relative asset paths would resolve under /: a redirect to /admin-ui/
    const bare = await fetch(`${base}/admin-ui`, { redirect: 'manual', signal: AbortSignal.timeout(5_000) });
    assert.ok([301, 302, 307, 308].includes(bare.status), `GET /admin-ui answered ${bare.status}, not a redirect`);
    assert.equal(new URL(bare.headers.get('location'), `${base}/admin-ui`).href, `${base}/admin-ui/`);
    await bare.arrayBuffer();
    const fav = await fetch(`${base}/admin-ui/favicon.png`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(fav.status, 200);
    assert.match(fav.headers.get('content-type') || '', /^image\/png/);
    await fav.arrayBuffer();
  });

  it('signs in through the connection modal, lists the sockets live, disconnects one, shows the server', { timeout: 120_000 }, async () => {
    const base = pages.server.url;
    const clients = clientFactory(base);
    const { context } = pages.browser;
    // the served index loads nothing from a third party (its icon font is served here): any
    // request to the CDNs the upstream index names is recorded and fails the test
    const thirdParty = [];
    await context.route(CDN, (route) => { thirdParty.push(route.request().url()); return route.abort(); });
    try {
      // two "application" clients on the main namespace, as the demo page connects (no token)
      const a = clients.socket('/', { transports: ['websocket'] });
      const b = clients.socket('/', { transports: ['websocket'] });
      await Promise.all([waitConnect(a), waitConnect(b)]);
      const idA = a.id;
      const idB = b.id;

      const page = await pages.browser.open('/admin-ui/');
      assert.equal(await page.title(), 'Socket.IO Admin UI');
      // the Material Design Icons font (the UI's icon-only buttons) is served and loads
      const iconsLoaded = await page.evaluate(async () => {
        await document.fonts.ready;
        await document.fonts.load('24px "Material Design Icons"');
        return document.fonts.check('24px "Material Design Icons"');
      });
      assert.equal(iconsLoaded, true, 'the icon font loaded');

      // no server URL stored yet: the modal opens with an empty URL field (namespace /admin and
      // path /socket.io are the defaults, under "Advanced options")
      const urlField = page.getByLabel('Server URL');
      await urlField.waitFor({ state: 'visible' });
      assert.equal(await urlField.inputValue(), '');
      const connectBtn = page.getByRole('button', { name: 'Connect', exact: true });
      assert.equal(await connectBtn.isDisabled(), true, 'Connect is disabled while the URL is empty');

      // a wrong password: the modal stays and says so
      await urlField.fill(base);
      await page.getByLabel('Username').fill(USERNAME);
      await page.getByLabel('Password').fill('not-the-password');
      await connectBtn.click();
      await page.locator('.v-dialog .red--text', { hasText: 'Invalid credentials' }).waitFor({ state: 'visible' });
      assert.equal(await page.evaluate(() => localStorage.getItem('server_url')), null, 'nothing saved after a refusal');

      // the right password: the modal closes and the app bar says connected
      await page.getByLabel('Password').fill(PASSWORD);
      await connectBtn.click();
      await urlField.waitFor({ state: 'hidden' });
      await waitStatus(page, true);
      const stored = await page.evaluate(() => ({
        server_url: localStorage.getItem('server_url'),
        namespace: localStorage.getItem('namespace'),
        path: localStorage.getItem('path'),
        session_id: localStorage.getItem('session_id'),
      }));
      assert.deepEqual(
        { ...stored, session_id: typeof stored.session_id },
        { server_url: base, namespace: '/admin', path: '/socket.io', session_id: 'string' },
      );
      assert.ok(stored.session_id.length > 0, 'the `session` event gave the UI a session id');

      // Sockets (shown in the drawer only in "development mode": config.supportedFeatures has ALL_EVENTS)
      await nav(page, 'Sockets', '#/sockets');
      await waitSocketIds(page, [idA, idB], `the Sockets table to list ${idA} and ${idB}`);
      // columns: # (id), IP address (handshake.address), Transport, actions
      const cellsA = await rowCells(page, idA);
      assert.equal(cellsA[0], idA);
      assert.match(cellsA[1], /^(::ffff:)?127\.0\.0\.1$/, `address column: ${JSON.stringify(cellsA)}`);
      assert.equal(cellsA[2], 'WebSocket', `transport column: ${JSON.stringify(cellsA)}`);
      await screenshot(page, 'admin-ui-sockets');

      // live: a third client appears (socket_connected) and goes away (socket_disconnected)
      const c = clients.socket('/', { transports: ['websocket'] });
      await waitConnect(c);
      const idC = c.id;
      await waitSocketIds(page, [idA, idB, idC], `${idC} to appear`);
      c.disconnect();
      await waitSocketIds(page, [idA, idB], `${idC} to disappear`);

      // emit (a stub in the UI): the same action over socket.io-client reaches A only
      const admin = clients.socket('/admin', { auth: { username: USERNAME, password: PASSWORD }, transports: ['websocket'] });
      const stats = record(admin, 'server_stats');
      await waitConnect(admin);
      const gotA = once(a, 'hello');
      const bEvents = [];
      b.onAny((ev, ...args) => bEvents.push([ev, ...args]));
      admin.emit('emit', '/', idA, 'hello', { x: 1 });
      assert.deepStrictEqual((await gotA).slice(0, 1), [{ x: 1 }]); // then the recovery offset
      const fence = once(b, 'fence');
      admin.emit('emit', '/', idB, 'fence', 1);
      await fence;
      assert.deepStrictEqual(bEvents.filter(([ev]) => ev === 'hello' || ev === 'fence').map((e) => e.slice(0, 2)), [['fence', 1]], 'B received only the event addressed to it');

      // the row's disconnect button (`_disconnect`, close=false) ends B's socket
      const bGone = once(b, 'disconnect', 10_000);
      await page.locator('.v-data-table tbody tr', { hasText: idB }).locator('button').click();
      assert.equal((await bGone)[0], 'io server disconnect');
      // (the click also opened the row's details) back to the list: B is gone
      await nav(page, 'Sockets', '#/sockets');
      await waitSocketIds(page, [idA], `${idB} to disappear after the UI disconnected it`);

      // A's details page
      await page.locator('.v-data-table tbody tr', { hasText: idA }).locator('td').first().click();
      await waitPage(page, (id) => location.hash.startsWith('#/n/') && location.hash.endsWith(`/sockets/${id}`), idA, 'the socket details route');
      await page.getByText(idA, { exact: true }).first().waitFor({ state: 'visible' });

      // Servers: this server, by the serverId of its server_stats
      const [first] = (await stats.until((xs) => xs.length >= 1, 7_000, 'a server_stats'))[0];
      assert.equal(typeof first.serverId, 'string');
      await nav(page, 'Servers', '#/servers');
      await page.locator('.v-data-table tbody tr', { hasText: first.serverId }).waitFor({ state: 'visible' });
      // columns: ID, Hostname, PID, Uptime, # of clients, Last ping, Status, actions
      const cells = await rowCells(page, first.serverId);
      assert.equal(cells[0], first.serverId, JSON.stringify(cells));
      assert.equal(cells[1], first.hostname, JSON.stringify(cells));
      assert.equal(cells[2], String(first.pid), JSON.stringify(cells));
      assert.equal(cells[6], 'Healthy', JSON.stringify(cells));
      await screenshot(page, 'admin-ui-servers');

      // the dashboard renders (its charts read server_stats.aggregatedEvents)
      await nav(page, 'Dashboard', '#/');
      await page.getByText('Connection and disconnection events').waitFor({ state: 'visible' });

      // a reload signs in again with the stored session id alone: no modal
      await page.reload();
      await waitStatus(page, true);
      assert.equal(await page.getByLabel('Server URL').isVisible(), false, 'no connection modal after a reload');
      await nav(page, 'Sockets', '#/sockets');
      await waitSocketIds(page, [idA], `${idA} listed after the reload`);
      assert.deepStrictEqual(await shownSocketIds(page), [idA]);
      await page.close();
      assert.deepStrictEqual(thirdParty, [], 'the admin page asked a third party for something');
    } finally {
      clients.closeAll();
      await withTimeout(context.unroute(CDN), 5_000, 'unroute').catch(() => {});
    }
  });
});
