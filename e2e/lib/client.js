'use strict';
// socket.io-client helpers: every wait has a timeout, every client is tracked and closed.

const { io } = require('socket.io-client');

const DEFAULT_TIMEOUT_MS = 5_000;

/** The three ways a client can reach the server. */
const MODES = [
  { name: 'websocket', opts: { transports: ['websocket'] }, final: 'websocket' },
  { name: 'polling', opts: { transports: ['polling'] }, final: 'polling' },
  // default client options: long-polling first, then upgrade to WebSocket
  { name: 'polling+upgrade', opts: {}, final: 'websocket', upgrade: true },
];

/** Rejects with `what` when `promise` has not settled within `ms`. */
function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the argument list of the next `event` on `emitter`. */
function once(emitter, event, ms = DEFAULT_TIMEOUT_MS, what = `event "${event}"`) {
  let handler;
  const p = new Promise((resolve) => {
    handler = (...args) => resolve(args);
    emitter.once(event, handler);
  });
  return withTimeout(p, ms, what).catch((err) => {
    emitter.off(event, handler);
    throw err;
  });
}

/** Resolves on `connect`, rejects on `connect_error` (or timeout). */
function waitConnect(socket, ms = DEFAULT_TIMEOUT_MS) {
  if (socket.connected) return Promise.resolve();
  let onConnect;
  let onError;
  const p = new Promise((resolve, reject) => {
    onConnect = () => resolve();
    onError = (err) => reject(new Error(`connect_error on ${socket.nsp}: ${err && err.message}`));
    socket.once('connect', onConnect);
    socket.once('connect_error', onError);
  });
  return withTimeout(p, ms, `connect to ${socket.nsp}`).finally(() => {
    socket.off('connect', onConnect);
    socket.off('connect_error', onError);
  });
}

/** Resolves once the engine of `socket` runs over WebSocket (waits for `upgrade` if needed). */
function waitUpgrade(socket, ms = DEFAULT_TIMEOUT_MS) {
  const engine = socket.io.engine;
  if (engine.transport && engine.transport.name === 'websocket') return Promise.resolve();
  let onUpgrade;
  let onError;
  const p = new Promise((resolve, reject) => {
    onUpgrade = () => resolve();
    onError = (err) => reject(new Error(`upgradeError: ${err && err.message}`));
    engine.once('upgrade', onUpgrade);
    engine.once('upgradeError', onError);
  });
  return withTimeout(p, ms, 'engine upgrade to websocket').finally(() => {
    engine.off('upgrade', onUpgrade);
    engine.off('upgradeError', onError);
  });
}

/**
 * Records every `event` on `socket` (argument lists, in arrival order) and lets a test wait,
 * event-driven, until a predicate over the records holds.
 */
function record(socket, event) {
  const items = [];
  const waiters = new Set();
  socket.on(event, (...args) => {
    items.push(args);
    for (const w of [...waiters]) w.check();
  });
  return {
    items,
    /** Resolves with `items` once `pred(items)` is true. */
    until(pred, ms = DEFAULT_TIMEOUT_MS, what = `"${event}" records`) {
      if (pred(items)) return Promise.resolve(items);
      let w;
      const p = new Promise((resolve) => {
        w = { check: () => { if (pred(items)) { waiters.delete(w); resolve(items); } } };
        waiters.add(w);
      });
      return withTimeout(p, ms, `${what} (have ${items.length})`).finally(() => waiters.delete(w));
    },
  };
}

/**
 * A client factory bound to a server URL that remembers every socket it made so that
 * `closeAll()` (in an `after`/`afterEach` hook) leaves nothing open.
 */
function clientFactory(baseUrl) {
  const sockets = new Set();
  return {
    /** New socket (own Manager, no reconnection unless `opts` says so). */
    socket(nsp = '/', opts = {}) {
      const s = io(baseUrl + nsp, {
        forceNew: true,
        reconnection: false,
        timeout: DEFAULT_TIMEOUT_MS,
        ...opts,
      });
      sockets.add(s);
      return s;
    },
    /** Extra socket for another namespace on an existing socket's Manager (multiplexing). */
    multiplex(existing, nsp, opts = {}) {
      const s = existing.io.socket(nsp, opts);
      s.connect();
      sockets.add(s);
      return s;
    },
    /** New socket, resolved once connected (and upgraded when the mode upgrades). */
    async connect(nsp = '/', opts = {}, mode = null) {
      const s = this.socket(nsp, { ...(mode ? mode.opts : {}), ...opts });
      await waitConnect(s);
      return s;
    },
    closeAll() {
      for (const s of sockets) {
        s.io.reconnection(false);
        s.disconnect();
        s.io.engine && s.io.engine.close();
      }
      sockets.clear();
    },
    get count() {
      return sockets.size;
    },
  };
}

/**
 * Asserts the socket ended up on the mode's transport: for the upgrading mode this waits
 * for the engine's `upgrade` event, then checks the transport is `websocket`.
 */
async function expectTransport(assert, socket, mode) {
  if (mode.upgrade) await waitUpgrade(socket);
  assert.strictEqual(socket.io.engine.transport.name, mode.final);
}

module.exports = {
  MODES,
  DEFAULT_TIMEOUT_MS,
  withTimeout,
  once,
  waitConnect,
  waitUpgrade,
  record,
  clientFactory,
  expectTransport,
};
