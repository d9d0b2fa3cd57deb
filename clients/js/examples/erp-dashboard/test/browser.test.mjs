// The example app in Chromium (playwright-core + Debian's /usr/bin/chromium) against
// `switchboard serve --demo`: KPI cards follow a PUT, the bell's badge follows a mark-read
// done in a second tab of the same user, presence shows two users, the summary and the
// alerts banner show live data. Run after `vite build` (it builds nothing itself).
//
//   node examples/erp-dashboard/test/browser.test.mjs
//
// SWITCHBOARD_BIN: the server binary (default <repo>/target/release/switchboard);
// CHROMIUM_PATH: the browser (default /usr/bin/chromium).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const DIST = resolve(here, '..', 'dist');
const REPO = resolve(here, '..', '..', '..', '..', '..');
const BIN = process.env.SWITCHBOARD_BIN ?? join(REPO, 'target', 'release', 'switchboard');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SECRET = 'example-browser-test-secret-0123456789abcdef';
const WAIT_MS = 10_000;

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.map': 'application/json', '.svg': 'image/svg+xml' };

/** A static server for dist/ on a free loopback port. */
function serveDist() {
  const srv = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let file = normalize(join(DIST, path));
    if (!file.startsWith(DIST)) return void res.writeHead(403).end();
    if (!existsSync(file) || statSync(file).isDirectory()) file = join(DIST, 'index.html');
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(readFileSync(file));
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok(srv)));
}

/** `switchboard serve --demo` with the app's origin allowed (cross-origin long-polling needs CORS). */
function startSwitchboard(origin, dir) {
  return new Promise((ok, fail) => {
    const child = spawn(BIN, ['serve', '--demo', '--listen', '127.0.0.1:0', '--database-url', `sqlite://${join(dir, 'db.sqlite')}`, '--jwt-secret', SECRET], {
      env: { ...process.env, SWITCHBOARD_CORS_ORIGINS: origin },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`switchboard did not start within ${WAIT_MS} ms\n${out}`));
    }, WAIT_MS);
    const onData = (b) => {
      out = (out + b).slice(-32_000);
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out.replace(/\x1b\[[0-9;]*m/g, ''));
      if (m) {
        clearTimeout(timer);
        ok({ child, url: m[1], log: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`switchboard exited (${code}) before listening\n${out}`));
    });
  });
}

function token(sub) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, roles: [], exp: Math.floor(Date.now() / 1000) + 3600 })}`;
  return `${head}.${createHmac('sha256', SECRET).update(head).digest('base64url')}`;
}

let web, sb, browser, profile, dir, appBase;
const pageErrors = [];

async function api(method, path, body) {
  const res = await fetch(sb.url + path, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(5_000),
  });
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${await res.clone().text()}`);
  return res.json();
}

async function open(user, extra = '') {
  const page = await browser.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${user}: ${e.message}`));
  page.on('console', (m) => m.type() === 'error' && pageErrors.push(`${user}: console: ${m.text()}`));
  const q = new URLSearchParams({ server: sb.url, token: token(user), modules: 'finance,e2e', library: 'reading-room' });
  await page.goto(`${appBase}/?${q}${extra}`, { waitUntil: 'load', timeout: 15_000 });
  await page.getByTestId('connection').filter({ hasText: 'live' }).waitFor({ timeout: WAIT_MS });
  return page;
}

before(async () => {
  assert.ok(existsSync(join(DIST, 'index.html')), `${DIST}/index.html missing: run vite build first (npm run build:example)`);
  assert.ok(existsSync(BIN), `switchboard binary missing at ${BIN} (cargo build --release -p switchboard, or set SWITCHBOARD_BIN)`);
  assert.ok(existsSync(CHROMIUM), `Chromium missing at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`);
  dir = mkdtempSync(join(tmpdir(), 'sb-example-'));
  web = await serveDist();
  appBase = `http://127.0.0.1:${web.address().port}`;
  sb = await startSwitchboard(appBase, dir);
  profile = mkdtempSync(join(tmpdir(), 'sb-example-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
  browser.setDefaultTimeout(WAIT_MS);
});

after(async () => {
  await browser?.close().catch(() => {});
  sb?.child.kill('SIGTERM');
  await new Promise((r) => web?.close(r) ?? r());
  if (profile) rmSync(profile, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('the example shows live KPIs, the summary and alerts from switchboard serve --demo', async () => {
  await api('PUT', '/api/v1/modules/e2e/kpis', [{ id: 'orders', label: 'Orders', value: 111, status: 'success' }]);
  const page = await open('ana');
  // The demo data set's module has its four KPIs.
  await page.getByTestId('module-finance').locator('li.kpi').nth(3).waitFor();
  // A PUT reaches the card: the snapshot, then the update.
  const orders = page.getByTestId('kpi-e2e-orders');
  await orders.filter({ hasText: /^111$/ }).waitFor();
  await api('PUT', '/api/v1/modules/e2e/kpis', [{ id: 'orders', label: 'Orders', value: 222, status: 'warning' }]);
  await orders.filter({ hasText: /^222$/ }).waitFor();
  // Dashboard summary: a card per demo module (derived from the stored KPIs).
  await page.getByTestId('summary-module:finance').waitFor();
  // Alerts banner: a new alert shows at once, newest first.
  await api('POST', '/api/v1/alerts', { title: 'Browser test alert', message: 'raised by the test', severity: 'error' });
  await page.getByTestId('alert-banner').filter({ hasText: 'Browser test alert' }).waitFor();
  await page.close();
});

test("the bell's badge follows a mark-read done in a second tab of the same user", async () => {
  await api('POST', '/api/v1/notifications', { userId: 'bea', title: 'Invoice approved', message: 'INV-1', severity: 'success' });
  await api('POST', '/api/v1/notifications', { userId: 'bea', title: 'Leave request', message: 'LR-2', severity: 'info' });
  const tab1 = await open('bea');
  const tab2 = await open('bea');
  for (const tab of [tab1, tab2]) await tab.getByTestId('bell-badge').filter({ hasText: /^2$/ }).waitFor();

  await tab2.getByTestId('bell').click();
  await tab2.getByTestId('notification').filter({ hasText: 'Leave request' }).getByTestId('mark-read').click();
  await tab2.getByTestId('bell-badge').filter({ hasText: /^1$/ }).waitFor();
  await tab1.getByTestId('bell-badge').filter({ hasText: /^1$/ }).waitFor();
  // Tab 1's list shows which one was read.
  await tab1.getByTestId('bell').click();
  await tab1.getByTestId('notification').filter({ hasText: 'Leave request' }).and(tab1.locator('.read')).waitFor();
  await tab1.getByTestId('notification').filter({ hasText: 'Invoice approved' }).getByTestId('mark-read').waitFor();

  // A new notification reaches both tabs.
  await api('POST', '/api/v1/notifications', { userId: 'bea', title: 'Third', message: '3', severity: 'info' });
  for (const tab of [tab1, tab2]) await tab.getByTestId('bell-badge').filter({ hasText: /^2$/ }).waitFor();
  await tab1.close();
  await tab2.close();
});

test('presence shows two users, and one when the other leaves', async () => {
  const carl = await open('carl');
  const dora = await open('dora');
  for (const page of [carl, dora]) {
    await page.getByTestId('presence-count').filter({ hasText: /^2$/ }).waitFor();
    const users = await page.getByTestId('presence-users').locator('li').allTextContents();
    assert.deepEqual(users.sort(), ['carl', 'dora']);
  }
  // A second tab of dora changes nothing; closing every dora tab makes her leave.
  const dora2 = await open('dora');
  await dora2.getByTestId('presence-count').filter({ hasText: /^2$/ }).waitFor();
  await dora.close();
  await dora2.close();
  await carl.getByTestId('presence-count').filter({ hasText: /^1$/ }).waitFor();
  assert.deepEqual(await carl.getByTestId('presence-users').locator('li').allTextContents(), ['carl']);
  await carl.close();
});

test('no page error', () => {
  assert.deepEqual(pageErrors, []);
});
