'use strict';
// Helpers for the browser tests of the built-in pages (/demo, /monitor): Debian's Chromium
// driven by playwright-core, a switchboard server with a JWT secret, a bounded HTTP client
// for its API, and waits that always end (every wait has a timeout and says what it
// waited for).

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startSwitchboard, switchboardPath } = require('../lib/server');

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];
const ARTIFACTS = path.resolve(__dirname, '..', 'artifacts');
const JWT_SECRET = 'e2e-pages-secret-0123456789abcdef-0123456789';
const HTTP_TIMEOUT_MS = 5_000;
const WAIT_MS = 10_000;

/**
 * Chromium with a fresh profile. `open(path, opts)` opens a page of `baseUrl` and records
 * its console errors and uncaught exceptions; `takeErrors()` drains those of every page. `close()` ends the browser and removes the profile.
 */
async function launchBrowser(baseUrl) {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-pages-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: { width: 1440, height: 900 },
      timeout: 30_000,
    });
  } catch (err) {
    fs.rmSync(profile, { recursive: true, force: true });
    throw err;
  }
  context.setDefaultTimeout(WAIT_MS);
  const pages = [];
  // (the persistent context's initial blank tab stays open and unwatched)
  return {
    context,
    /** Opens `baseUrl + urlPath` in a new tab and waits for its `load` event. Console errors
     *  matching a RegExp of `allow` are expected ones and not recorded. */
    async open(urlPath, { viewport, allow = [] } = {}) {
      const page = await context.newPage();
      if (viewport) await page.setViewportSize(viewport);
      watch(page, allow);
      pages.push(page);
      await page.goto(baseUrl + urlPath, { waitUntil: 'load', timeout: 15_000 });
      return page;
    },
    /** Console errors and uncaught exceptions of every page since the last call. */
    takeErrors() {
      return pages.flatMap((p) => p.errors.splice(0).map((e) => `${p.openedAt}: ${e}`));
    },
    async close() {
      try {
        await context.close();
      } finally {
        fs.rmSync(profile, { recursive: true, force: true });
      }
    },
  };
}

/** Records `console.error` messages and uncaught exceptions of a page in `page.errors`. */
function watch(page, allow = []) {
  page.errors = [];
  page.openedAt = '(blank)';
  page.on('framenavigated', (f) => {
    if (f === page.mainFrame()) page.openedAt = new URL(f.url()).pathname;
  });
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    if (allow.some((re) => re.test(text))) return;
    // a failed resource names no URL in its text; the location does
    const url = m.location()?.url;
    page.errors.push(`console.error: ${text}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (e) => page.errors.push(`uncaught: ${e.message}`));
}

/** `switchboard serve` with a JWT secret (and `--demo` unless `demo: false`); `extraEnv` is
 *  added to its environment. */
function startServer({ demo = true, extraArgs = [], extraEnv = {} } = {}) {
  return startSwitchboard({ extraArgs: [...(demo ? ['--demo'] : []), '--jwt-secret', JWT_SECRET, ...extraArgs], extraEnv });
}

/** A token for `sub` minted by `switchboard token` with the test secret. */
function mintToken(sub) {
  const r = spawnSync(switchboardPath(), ['token', '--jwt-secret', JWT_SECRET, '--sub', sub], {
    encoding: 'utf8',
    timeout: 10_000,
    env: Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_'))),
  });
  const tok = (r.stdout || '').trim().split(/\s+/).pop();
  if (r.status !== 0 || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(tok || '')) {
    throw new Error(`switchboard token failed (status ${r.status}): ${r.stderr}${r.stdout}`);
  }
  return tok;
}

/** One request to the server's HTTP API; resolves `{ status, json }`. */
async function api(baseUrl, method, urlPath, body, headers = {}) {
  const init = { method, headers: { ...headers }, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const res = await fetch(baseUrl + urlPath, init);
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}

/** Like `api`, but throws unless the status is 2xx; resolves the `data` of the envelope. */
async function apiOk(baseUrl, method, urlPath, body, headers) {
  const r = await api(baseUrl, method, urlPath, body, headers);
  if (r.status < 200 || r.status > 299 || !r.json || r.json.success !== true) {
    throw new Error(`${method} ${urlPath}: ${r.status} ${r.text}`);
  }
  return r.json.data;
}

const sel = (testid) => `[data-testid="${testid}"]`;

/** Text of the element with that test id (null when absent). */
function textOf(page, testid) {
  return page.evaluate((s) => {
    const e = document.querySelector(s);
    return e ? e.textContent : null;
  }, sel(testid));
}

/**
 * Waits until `predicate(text)` holds for the text of the element with that test id
 * (polled in the page on every animation frame). On timeout, the error names the element,
 * what was expected and the last text seen.
 */
async function waitText(page, testid, expected, timeout = WAIT_MS) {
  const check = typeof expected === 'function' ? expected : (t) => t === expected;
  const deadline = Date.now() + timeout;
  let last = null;
  for (;;) {
    last = await textOf(page, testid);
    if (last !== null && check(last)) return last;
    const left = deadline - Date.now();
    if (left <= 0) break;
    // wait for the next DOM change under <body> (or 250 ms), then look again
    await page
      .waitForFunction(
        ([s, before]) => {
          const e = document.querySelector(s);
          return (e ? e.textContent : null) !== before;
        },
        [sel(testid), last],
        { timeout: Math.min(left, 250), polling: 'raf' },
      )
      .catch(() => {});
  }
  const what = typeof expected === 'function' ? `a text accepted by ${expected.toString()}` : JSON.stringify(expected);
  throw new Error(`[data-testid=${testid}]: waited ${timeout} ms for ${what}; last text: ${JSON.stringify(last)}`);
}

/** Waits until `fn(arg)` (run in the page) returns a truthy value; resolves that value. */
async function waitPage(page, fn, arg, what, timeout = WAIT_MS) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout, polling: 'raf' });
    return await handle.jsonValue();
  } catch (err) {
    throw new Error(`waited ${timeout} ms for ${what}: ${err.message.split('\n')[0]}`);
  }
}

/** Polls an async function in Node until it returns a truthy value (bounded). */
async function until(fn, what, timeout = WAIT_MS, every = 100) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`waited ${timeout} ms for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Saves a screenshot under e2e/artifacts/ and returns its path. */
async function screenshot(page, name, { fullPage = true } = {}) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage, animations: 'disabled', timeout: 15_000 });
  return file;
}

const MODULES = ['crm', 'finance', 'hr', 'security', 'elearning', 'rehab', 'reports'];

/**
 * The shared setup of a page test file: a switchboard (`demo`, `extraArgs`, `extraEnv` as in `startServer`) and a
 * browser for the whole `describe`, both stopped after it, and no console error allowed on
 * any page after each test. Returns `{ server, browser }` getters, valid inside the tests.
 */
function usePages({ demo, extraArgs, extraEnv }) {
  const { before, after, afterEach } = require('node:test');
  const assert = require('node:assert/strict');
  let server;
  let browser;
  before(async () => {
    server = await startServer({ demo, extraArgs, extraEnv });
    browser = await launchBrowser(server.url);
  }, { timeout: 60_000 });
  after(async () => {
    if (browser) await browser.close();
    if (server) await server.stop();
  }, { timeout: 30_000 });
  afterEach(() => {
    assert.deepStrictEqual(browser.takeErrors(), [], 'no console errors or uncaught exceptions on any page');
  });
  return {
    get server() { return server; },
    get browser() { return browser; },
  };
}

module.exports = {
  usePages,
  launchBrowser,
  startServer,
  mintToken,
  api,
  apiOk,
  sel,
  textOf,
  waitText,
  waitPage,
  until,
  screenshot,
  MODULES,
  JWT_SECRET,
  ARTIFACTS,
};
