'use strict';
// Helpers for the switchboard suite: its HTTP API (every request bounded by a timeout),
// waits on GET /api/v1/stats, and a recorder of every event a socket receives.

const { isDeepStrictEqual } = require('node:util');
const { DEFAULT_TIMEOUT_MS, withTimeout } = require('./client');

const HTTP_TIMEOUT_MS = 5_000;
const POLL_EVERY_MS = 20;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * One HTTP request. `body`: an object/array (sent as JSON) or a string/Buffer (sent as is,
 * still labelled `application/json`). Resolves with `{ status, headers, text, json }`
 * (`json` is `undefined` when the body is not JSON).
 */
async function request(baseUrl, method, path, body) {
  const init = { method, headers: {}, signal: AbortSignal.timeout(HTTP_TIMEOUT_MS) };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(baseUrl + path, init);
  } catch (err) {
    throw new Error(`${method} ${path} failed: ${err.message}${err.cause ? ` (${err.cause.message || err.cause.code})` : ''}`);
  }
  const text = await withTimeout(res.text(), HTTP_TIMEOUT_MS, `${method} ${path} response body`);
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A small client for one server's HTTP API. */
function api(baseUrl) {
  return {
    get: (path) => request(baseUrl, 'GET', path),
    put: (path, body) => request(baseUrl, 'PUT', path, body),
    post: (path, body) => request(baseUrl, 'POST', path, body),
    /** POST /api/v1/publish and insist on HTTP 200 `{ success: true }`; resolves with `data`. */
    async publish(body) {
      const r = await request(baseUrl, 'POST', '/api/v1/publish', body);
      if (r.status !== 200 || !r.json || r.json.success !== true) {
        throw new Error(`publish ${JSON.stringify(body).slice(0, 200)} answered HTTP ${r.status}: ${r.text.slice(0, 500)}`);
      }
      return r.json.data;
    },
    /** GET /api/v1/stats → `data`. */
    async stats() {
      const r = await request(baseUrl, 'GET', '/api/v1/stats');
      if (r.status !== 200 || !r.json || r.json.success !== true) {
        throw new Error(`GET /api/v1/stats answered HTTP ${r.status}: ${r.text.slice(0, 500)}`);
      }
      return r.json.data;
    },
    /**
     * Polls GET /api/v1/stats until `pred(stats)` holds; resolves with those stats.
     * Bounded by `ms`; the error names `what` and the last stats seen.
     */
    async statsUntil(pred, what, ms = DEFAULT_TIMEOUT_MS) {
      const deadline = Date.now() + ms;
      let last;
      for (;;) {
        last = await this.stats();
        if (pred(last)) return last;
        if (Date.now() >= deadline) {
          throw new Error(`timed out after ${ms} ms waiting for ${what}; last stats: ${JSON.stringify(last)}`);
        }
        await sleep(POLL_EVERY_MS);
      }
    },
    /** Resolves once room `name` has exactly `members` sockets (0: the room is gone). */
    waitRoom(name, members, ms = DEFAULT_TIMEOUT_MS) {
      return this.statsUntil(
        (s) => roomMembers(s, name) === members,
        `room "${name}" to have ${members} member(s)`,
        ms,
      );
    },
    /** Resolves once the server counts no connected socket (between tests). */
    waitIdle(ms = DEFAULT_TIMEOUT_MS) {
      return this.statsUntil((s) => s.connections === 0, 'no connected sockets', ms);
    },
  };
}

/** Members of `name` in a stats object (0 when absent). */
function roomMembers(stats, name) {
  const r = stats.rooms.find((x) => x.name === name);
  return r ? r.members : 0;
}

/**
 * Records every event `socket` receives (via `onAny`, so in arrival order and across
 * event names) as `{ event, args }`; `until(pred)` waits event-driven for a condition.
 */
function recordAll(socket) {
  const items = [];
  const waiters = new Set();
  socket.onAny((event, ...args) => {
    items.push({ event, args });
    for (const w of [...waiters]) w.check();
  });
  return {
    items,
    /** Names of the recorded events, in order. */
    names: () => items.map((i) => i.event),
    /** Records of `event`. */
    of: (event) => items.filter((i) => i.event === event),
    /** Resolves with `items` once `pred(items)` is true. */
    until(pred, what, ms = DEFAULT_TIMEOUT_MS) {
      if (pred(items)) return Promise.resolve(items);
      let w;
      let timer;
      return new Promise((resolve, reject) => {
        w = { check: () => { if (pred(items)) resolve(items); } };
        waiters.add(w);
        // the message lists what had arrived when the time ran out
        timer = setTimeout(() => reject(new Error(
          `timed out after ${ms} ms: ${what} (received so far: ${JSON.stringify(items.map((i) => [i.event, ...i.args]))})`,
        )), ms);
      }).finally(() => {
        clearTimeout(timer);
        waiters.delete(w);
      });
    },
    /** Resolves with the first record of `event` whose first argument satisfies `match`. */
    async first(event, match = () => true, ms = DEFAULT_TIMEOUT_MS) {
      const hit = (i) => i.event === event && match(i.args[0]);
      await this.until((xs) => xs.some(hit), `an "${event}" event`, ms);
      return items.find(hit);
    },
    /** Index of the first record of `event` whose first argument satisfies `match`, or -1. */
    indexOf(event, match = () => true) {
      return items.findIndex((i) => i.event === event && match(i.args[0]));
    },
  };
}

/** `socket.timeout(ms).emitWithAck(...)`, with an error that names the event. */
async function emitAck(socket, event, ...args) {
  try {
    return await socket.timeout(DEFAULT_TIMEOUT_MS).emitWithAck(event, ...args);
  } catch (err) {
    throw new Error(`no ack for "${event}" ${JSON.stringify(args)} within ${DEFAULT_TIMEOUT_MS} ms: ${err.message}`);
  }
}

/** Deep equality of JSON values (object key order does not matter). */
function sameJson(a, b) {
  return isDeepStrictEqual(a, b);
}

/** ISO-8601 / RFC 3339 timestamp with a parsable date. */
function isTimestamp(v) {
  return typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(v) && !Number.isNaN(Date.parse(v));
}

/** A unique marker so a test can recognise its own events. */
let seq = 0;
function marker(label) {
  seq += 1;
  return `${label}-${process.pid}-${seq}-${Math.random().toString(36).slice(2, 8)}`;
}

// --- identity (SPEC §3) ------------------------------------------------------------------

/** The HS256 secret the suite starts servers with (`jwtArgs()`) and signs tokens with. */
const JWT_SECRET = 'switchboard-e2e-secret-0123456789abcdef';

/** `serve` arguments for JWT identity: `--jwt-secret`, and `--auth MODE` when given. */
function jwtArgs(mode) {
  return ['--jwt-secret', JWT_SECRET, ...(mode ? ['--auth', mode] : [])];
}

const minted = new Map();
/**
 * A token minted by the binary itself: `switchboard token --jwt-secret S --sub SUB
 * [--role R]... [--tenant T] [--ttl TTL]`. Cached per argument list (default ttl 1h,
 * far longer than a test run).
 */
function mintToken({ sub, roles = [], tenant, ttl = '1h', secret = JWT_SECRET }) {
  const { execFileSync } = require('node:child_process');
  const os = require('node:os');
  const { switchboardPath } = require('./server');
  const args = ['token', '--jwt-secret', secret, '--sub', sub, ...roles.flatMap((r) => ['--role', r])];
  if (tenant !== undefined) args.push('--tenant', tenant);
  args.push('--ttl', ttl);
  const key = JSON.stringify(args);
  if (!minted.has(key)) {
    // no SWITCHBOARD_* from the caller's shell (a config file, another secret) may leak in
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
    const out = execFileSync(switchboardPath(), args, { env, cwd: os.tmpdir(), encoding: 'utf8', timeout: 10_000 });
    const token = out.trim();
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
      throw new Error(`switchboard ${args.join(' ')} printed no JWT: ${JSON.stringify(out)}`);
    }
    minted.set(key, token);
  }
  return minted.get(key);
}

const b64url = (v) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/**
 * A hand-made JWT (for the tokens the binary will not mint: expired, other algorithms,
 * forged). `alg` HS256 / HS384 / HS512 signs with `secret`; `none` leaves the signature empty.
 */
function signJwt(claims, { secret = JWT_SECRET, alg = 'HS256', header = {} } = {}) {
  const crypto = require('node:crypto');
  const head = b64url({ typ: 'JWT', alg, ...header });
  const body = b64url(claims);
  if (alg === 'none') return `${head}.${body}.`;
  const hash = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[alg];
  if (!hash) throw new Error(`signJwt: unsupported alg ${alg}`);
  const sig = crypto.createHmac(hash, secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** Unix seconds now. */
const nowSec = () => Math.floor(Date.now() / 1000);

module.exports = {
  api,
  request,
  roomMembers,
  recordAll,
  emitAck,
  isTimestamp,
  marker,
  sleep,
  sameJson,
  JWT_SECRET,
  jwtArgs,
  mintToken,
  signJwt,
  nowSec,
};

/**
 * Registers node:test hooks for one switchboard server per file (or `describe`): started
 * `before`, every client closed `afterEach` (then waits until the server counts no socket,
 * so no test sees a previous test's room members), stopped `after`. Returns a context
 * whose `server`, `clients` and `http` are set once `before` ran.
 */
function useSwitchboard(opts = {}) {
  const { before, after, afterEach } = require('node:test');
  const { startSwitchboard } = require('./server');
  const { clientFactory } = require('./client');
  const ctx = { server: null, clients: null, http: null };
  before(async () => {
    ctx.server = await startSwitchboard(opts);
    ctx.clients = clientFactory(ctx.server.url);
    ctx.http = api(ctx.server.url);
  });
  afterEach(async () => {
    if (!ctx.clients) return;
    ctx.clients.closeAll();
    await ctx.http.waitIdle();
  });
  after(async () => {
    if (ctx.clients) ctx.clients.closeAll();
    if (ctx.server) await ctx.server.stop();
  });
  return ctx;
}

module.exports.useSwitchboard = useSwitchboard;
