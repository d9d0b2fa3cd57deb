'use strict';
// Spawns one of the `crates/sio` example servers (or the `switchboard` binary) on a free
// 127.0.0.1 port and stops it.
//
//   const { startServer } = require('../lib/server');
//   const srv = await startServer('conformance', { args: () => ['socketio'], env: (p) => ({ PORT: String(p) }) });
//   ... srv.url ...
//   await srv.stop();   // throws if the server died on its own during the tests
//
//   const { startSwitchboard } = require('../lib/server');
//   const sb = await startSwitchboard();          // `switchboard serve --listen 127.0.0.1:0`

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
// Cargo's target directory: $CARGO_TARGET_DIR when set, else <repo>/target.
const TARGET_DIR = process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, 'target');
const EXAMPLES_DIR = path.join(TARGET_DIR, 'release', 'examples');
const SWITCHBOARD_BIN = path.join(TARGET_DIR, 'release', 'switchboard');
const READY_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
const LOG_LIMIT = 64 * 1024;

const running = new Set();
process.on('exit', () => {
  for (const child of running) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
});

/** Absolute path of `target/release/examples/<name>`; throws a clear error when not built. */
function binaryPath(name) {
  const p = path.join(EXAMPLES_DIR, name);
  if (!fs.existsSync(p)) {
    throw new Error(
      `server binary not found: ${p}\n` +
        `build it first:  cd ${REPO_ROOT} && cargo build --release -p sio --examples`,
    );
  }
  return p;
}

/** A port that was free a moment ago: bind port 0, read it, release it. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function waitExit(child, ms) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => { child.off('exit', onExit); resolve(false); }, ms);
    const onExit = () => { clearTimeout(t); resolve(true); };
    child.once('exit', onExit);
  });
}

/** Removes ANSI colour sequences (tracing colours its output even into a pipe). */
function stripAnsi(s) {
  return s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

async function spawnOnce(bin, name, port, opts) {
  const args = opts.args ? opts.args(port) : [];
  const env = { ...process.env, ...(opts.env ? opts.env(port) : {}) };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k]; // `undefined`: unset
  // `opts.ready`: a RegExp matched against the (colour-stripped) output; when it has a
  // capture group, that group is the server's base URL (lets a server bind port 0).
  const readyRe = opts.ready || /listening/;
  const child = spawn(bin, args, { env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let log = '';
  const append = (chunk) => {
    log += chunk.toString();
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
  };

  const ready = await new Promise((resolve) => {
    let seen = '';
    let done = false;
    const finish = (ok, why, url) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.stderr.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      // keep draining so the pipes never fill
      child.stdout.on('data', append);
      child.stderr.on('data', append);
      resolve({ ok, why, url });
    };
    // the readiness line may come on stdout or stderr (tracing writes to stdout)
    const onData = (chunk) => {
      append(chunk);
      seen += chunk.toString();
      const m = readyRe.exec(stripAnsi(seen));
      if (m) finish(true, null, m[1]);
    };
    const onExit = (code, sig) => finish(false, `exited before listening (code ${code}, signal ${sig})`);
    const onError = (err) => finish(false, `spawn error: ${err.message}`);
    const timer = setTimeout(() => finish(false, `no line matching ${readyRe} within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
    child.once('error', onError);
  });

  if (!ready.ok) {
    child.kill('SIGKILL');
    await waitExit(child, STOP_TIMEOUT_MS);
    running.delete(child);
    return { error: `${name} on port ${port}: ${ready.why}\n--- server output ---\n${log}` };
  }

  let stopping = false;
  let diedEarly = null;
  child.once('exit', (code, sig) => {
    running.delete(child);
    if (!stopping) diedEarly = { code, sig };
  });

  const url = ready.url ? ready.url.replace(/\/+$/, '') : `http://127.0.0.1:${port}`;
  return {
    server: {
      name,
      port: Number(new URL(url).port),
      pid: child.pid,
      url,
      log: () => log,
      /** Stops the server. Throws if it had exited by itself before (crash / panic). */
      async stop() {
        if (diedEarly) {
          throw new Error(
            `${name} (port ${port}) died during the tests (code ${diedEarly.code}, signal ${diedEarly.sig})\n` +
              `--- server output ---\n${log}`,
          );
        }
        if (stopping) return;
        stopping = true;
        child.kill('SIGTERM');
        if (!(await waitExit(child, STOP_TIMEOUT_MS))) {
          child.kill('SIGKILL');
          await waitExit(child, STOP_TIMEOUT_MS);
        }
        running.delete(child);
      },
    },
  };
}

/**
 * Starts `target/release/examples/<name>` (or `opts.bin`) on a free port and resolves once
 * it printed `listening` (or a line matching `opts.ready`). `opts.args(port)` /
 * `opts.env(port)` build its argv / extra environment, `opts.cwd` its working directory.
 * Retries with another port when the process exits before listening (port race).
 */
async function startServer(name, opts = {}) {
  const bin = opts.bin || binaryPath(name);
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const r = await spawnOnce(bin, name, port, opts);
    if (r.server) return r.server;
    lastError = r.error;
  }
  throw new Error(`could not start ${name}:\n${lastError}`);
}

/**
 * `conformance socketio`: pingInterval 300 ms, pingTimeout 200 ms, recovery off.
 * `{ parser: 'msgpack' }` serves the socket.io-msgpack-parser wire format.
 */
function startConformance({ parser } = {}) {
  return startServer('conformance', {
    args: () => ['socketio'],
    env: (p) => ({ PORT: String(p), PARSER: parser }),
  });
}

/** `bench-peer`: default config (recovery on, 2 min); join / bcast → msg. */
function startBenchPeer() {
  return startServer('bench-peer', { args: (p) => [String(p)] });
}

/** Absolute path of `target/release/switchboard`; throws a clear error when not built. */
function switchboardPath() {
  if (!fs.existsSync(SWITCHBOARD_BIN)) {
    throw new Error(
      `server binary not found: ${SWITCHBOARD_BIN}\n` +
        `build it first:  cd ${REPO_ROOT} && cargo build --release -p switchboard`,
    );
  }
  return SWITCHBOARD_BIN;
}

/**
 * `switchboard serve` on 127.0.0.1 port 0 (the kernel picks a free port, no race); the
 * URL is read from its `switchboard listening on http://ADDR` log line. In-memory
 * SQLite, run from a fresh temp directory so nothing is written into the repository.
 * `extraArgs` are appended to the command line, `extraEnv` to the environment;
 * `databaseUrl` replaces the in-memory SQLite.
 */
async function startSwitchboard({ extraArgs = [], extraEnv = {}, databaseUrl = 'sqlite::memory:' } = {}) {
  const os = require('node:os');
  const bin = switchboardPath();
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-e2e-'));
  let srv;
  try {
    srv = await startServer('switchboard', {
      bin,
      cwd,
      args: () => ['serve', '--listen', '127.0.0.1:0', '--database-url', databaseUrl, ...extraArgs],
      // no SWITCHBOARD_* from the caller's shell may change what the tests see
      env: () => ({
        ...Object.fromEntries(Object.keys(process.env).filter((k) => k.startsWith('SWITCHBOARD_')).map((k) => [k, undefined])),
        RUST_LOG: 'info',
        NO_COLOR: '1',
        ...extraEnv,
      }),
      ready: /switchboard listening on (http:\/\/[^\s]+)/,
    });
  } catch (err) {
    fs.rmSync(cwd, { recursive: true, force: true });
    throw err;
  }
  const stop = srv.stop.bind(srv);
  srv.stop = async () => {
    try {
      await stop();
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true });
    }
  };
  return srv;
}

module.exports = {
  startServer,
  startConformance,
  startBenchPeer,
  startSwitchboard,
  binaryPath,
  switchboardPath,
  freePort,
  REPO_ROOT,
};
