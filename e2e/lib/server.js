'use strict';
// Spawns one of the `crates/sio` example servers on a free 127.0.0.1 port and stops it.
//
//   const { startServer } = require('../lib/server');
//   const srv = await startServer('conformance', { args: () => ['socketio'], env: (p) => ({ PORT: String(p) }) });
//   ... srv.url ...
//   await srv.stop();   // throws if the server died on its own during the tests

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const EXAMPLES_DIR = path.join(REPO_ROOT, 'target', 'release', 'examples');
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

async function spawnOnce(bin, name, port, opts) {
  const args = opts.args ? opts.args(port) : [];
  const env = { ...process.env, ...(opts.env ? opts.env(port) : {}) };
  const child = spawn(bin, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let log = '';
  const append = (chunk) => {
    log += chunk.toString();
    if (log.length > LOG_LIMIT) log = log.slice(-LOG_LIMIT);
  };
  child.stderr.on('data', append);

  const ready = await new Promise((resolve) => {
    let stdout = '';
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', onError);
      child.stdout.on('data', append); // keep draining so the pipe never fills
      resolve({ ok, why });
    };
    const onData = (chunk) => {
      append(chunk);
      stdout += chunk.toString();
      if (stdout.includes('listening')) finish(true);
    };
    const onExit = (code, sig) => finish(false, `exited before listening (code ${code}, signal ${sig})`);
    const onError = (err) => finish(false, `spawn error: ${err.message}`);
    const timer = setTimeout(() => finish(false, `no "listening" line within ${READY_TIMEOUT_MS} ms`), READY_TIMEOUT_MS);
    child.stdout.on('data', onData);
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

  return {
    server: {
      name,
      port,
      pid: child.pid,
      url: `http://127.0.0.1:${port}`,
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
 * Starts `target/release/examples/<name>` on a free port and resolves once it printed
 * `listening`. `opts.args(port)` / `opts.env(port)` build its argv / extra environment.
 * Retries with another port when the process exits before listening (port race).
 */
async function startServer(name, opts = {}) {
  const bin = binaryPath(name);
  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const r = await spawnOnce(bin, name, port, opts);
    if (r.server) return r.server;
    lastError = r.error;
  }
  throw new Error(`could not start ${name}:\n${lastError}`);
}

/** `conformance socketio`: pingInterval 300 ms, pingTimeout 200 ms, recovery off. */
function startConformance() {
  return startServer('conformance', { args: () => ['socketio'], env: (p) => ({ PORT: String(p) }) });
}

/** `bench-peer`: default config (recovery on, 2 min); join / bcast → msg. */
function startBenchPeer() {
  return startServer('bench-peer', { args: (p) => [String(p)] });
}

module.exports = { startServer, startConformance, startBenchPeer, binaryPath, freePort, REPO_ROOT };
