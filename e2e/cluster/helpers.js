'use strict';
// Helpers for the cluster suite: nodes on one Redis stream, a PostgreSQL database per
// file, a TCP forwarder the client reaches nodes through (so a test can kill one), and a
// private redis-server for the outage test.

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { startSwitchboard, freePort } = require('../lib/server');
const { sleep } = require('../lib/switchboard');

const REDIS_URL = process.env.TEST_REDIS_URL || 'redis://127.0.0.1:6379';
const PG_ADMIN = process.env.TEST_POSTGRES_URL || 'postgres://postgres@127.0.0.1:5432/postgres';
// How long to keep listening for duplicates once everything expected arrived (the
// behaviour under test is that nothing more comes).
const QUIET_MS = 300;

const quiet = () => sleep(QUIET_MS);

function psql(sql) {
  execFileSync('psql', [PG_ADMIN, '-v', 'ON_ERROR_STOP=1', '-qtAc', sql], { stdio: 'pipe', timeout: 15_000 });
}

/** A new, empty PostgreSQL database; returns its URL. */
function freshDatabase(name) {
  const db = `sb_${name}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  psql(`DROP DATABASE IF EXISTS ${db}`);
  psql(`CREATE DATABASE ${db}`);
  const u = new URL(PG_ADMIN);
  u.pathname = `/${db}`;
  return u.toString();
}

function dropDatabase(url) {
  const db = new URL(url).pathname.slice(1);
  try {
    psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  } catch (err) {
    console.error(`dropping ${db}: ${err.message}`);
  }
}

/**
 * `n` switchboard nodes of one cluster: key prefix and stream `run`, node ids
 * `run-n0`…, the database `db` (default: each its own in-memory SQLite).
 * Each node: `{ url, port, pid, nodeId, stop(), restart() }`.
 */
async function cluster(n, { run, db, redisUrl = REDIS_URL, extraArgs = [], extraEnv = {} }) {
  const start = async (i) => {
    const nodeId = `${run}-n${i}`;
    const srv = await startSwitchboard({
      databaseUrl: db || 'sqlite::memory:',
      extraArgs: ['--redis-url', redisUrl, ...extraArgs],
      extraEnv: {
        SWITCHBOARD_NODE_ID: nodeId,
        SWITCHBOARD_REDIS_PREFIX: run,
        SWITCHBOARD_REDIS_STREAM: `${run}:stream`,
        SWITCHBOARD_CLUSTER_HEARTBEAT_MS: '300',
        ...extraEnv,
      },
    });
    srv.nodeId = nodeId;
    srv.restart = async () => {
      await srv.stop().catch(() => {});
      return start(i);
    };
    // A node killed by a test is not an error of the suite.
    const stop = srv.stop;
    srv.stop = async () => {
      try {
        process.kill(srv.pid, 0);
      } catch {
        return;
      }
      await stop();
    };
    return srv;
  };
  const nodes = [];
  for (let i = 0; i < n; i++) nodes.push(await start(i));
  return nodes;
}

/** A TCP forwarder on a free port to `127.0.0.1:target`; `target(port)` switches it. */
function forwarder(initial) {
  let target = initial;
  const conns = new Set();
  const srv = net.createServer((c) => {
    const up = net.connect(target, '127.0.0.1');
    conns.add(c);
    c.pipe(up);
    up.pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
      conns.delete(c);
    };
    c.on('error', end);
    up.on('error', end);
    c.on('close', end);
    up.on('close', end);
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        port: srv.address().port,
        target: (p) => {
          target = p;
        },
        close: () => {
          for (const c of conns) c.destroy();
          srv.close();
        },
      });
    });
  });
}

/** A private `redis-server` on a free port (no persistence); `stop()`, `start()` again. */
async function privateRedis() {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-redis-'));
  let child = null;
  const ping = () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.write('PING\r\n'); });
    s.on('data', (d) => { resolve(d.toString().startsWith('+PONG')); s.destroy(); });
    s.on('error', () => resolve(false));
  });
  const r = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
      for (let i = 0; i < 100; i++) {
        if (await ping()) return;
        await sleep(50);
      }
      throw new Error(`redis-server on ${port} did not answer`);
    },
    async stop() {
      if (!child) return;
      const c = child;
      child = null;
      const exited = new Promise((res) => c.once('exit', res));
      c.kill('SIGKILL');
      await exited;
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  await r.start();
  process.on('exit', () => { if (child) child.kill('SIGKILL'); });
  return r;
}

module.exports = { cluster, freshDatabase, dropDatabase, forwarder, privateRedis, quiet, REDIS_URL };
