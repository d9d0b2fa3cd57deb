'use strict';
// The README's sticky load-balancer configuration (deploy/nginx/switchboard-cluster.conf),
// run by a real nginx in front of two cluster nodes: long-polling and WebSocket clients
// connect through it and receive a publish made on either node.

const { describe, it, before, after, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { freePort, REPO_ROOT } = require('../lib/server');
const { clientFactory, waitConnect } = require('../lib/client');
const { api, recordAll, emitAck, sleep } = require('../lib/switchboard');
const { cluster, quiet } = require('./helpers');

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p));

describe('cluster behind nginx (sticky by client address)', () => {
  const run = `n${process.pid}${Date.now() % 100000}`;
  let nodes;
  let nginx;
  let dir;
  let url;
  let clients;

  before(async () => {
    assert.ok(NGINX, 'nginx is not installed (.ci/run installs it: apt-get install nginx)');
    nodes = await cluster(2, { run });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sb-nginx-'));
    const port = await freePort();
    const conf = fs.readFileSync(path.join(REPO_ROOT, 'deploy/nginx/switchboard-cluster.conf'), 'utf8')
      .replace('server 127.0.0.1:3001;', `server 127.0.0.1:${nodes[0].port};`)
      .replace('server 127.0.0.1:3002;', `server 127.0.0.1:${nodes[1].port};`)
      .replace('listen 127.0.0.1:8080;', `listen 127.0.0.1:${port};`)
      .replace('worker_processes 1;', `worker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;`)
      .replace('http {', `http {\n    access_log off;\n    client_body_temp_path ${dir};\n    proxy_temp_path ${dir};`);
    fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
    nginx = spawn(NGINX, ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
    for (let i = 0; ; i++) {
      const up = await new Promise((r) => { const s = net.connect(port, '127.0.0.1', () => { s.destroy(); r(true); }); s.on('error', () => r(false)); });
      if (up) break;
      if (i > 100) throw new Error(`nginx did not listen: ${fs.existsSync(`${dir}/error.log`) ? fs.readFileSync(`${dir}/error.log`, 'utf8') : ''}`);
      await sleep(50);
    }
    url = `http://127.0.0.1:${port}`;
    clients = clientFactory(url);
  });
  afterEach(() => clients && clients.closeAll());
  after(async () => {
    if (nginx) nginx.kill('SIGQUIT');
    for (const n of nodes || []) await n.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const mode of [{ name: 'polling', opts: { transports: ['polling'] } }, { name: 'polling+upgrade', opts: {} }]) {
    it(`${mode.name}: connects through nginx and receives publishes made on each node`, async () => {
      const s = clients.socket('/', mode.opts);
      await waitConnect(s);
      const rec = recordAll(s);
      assert.deepStrictEqual(await emitAck(s, 'module:subscribe', { moduleKey: 'lb' }), { success: true, room: 'module:lb' });
      for (const [i, n] of nodes.entries()) await api(n.url).publish({ rooms: ['module:lb'], event: 'via', data: { node: i } });
      await rec.until((xs) => xs.filter((x) => x.event === 'via').length >= 2, 'both publishes');
      await quiet();
      assert.deepStrictEqual(rec.of('via').map((x) => x.args[0].node).sort(), [0, 1], 'each once (the two nodes append independently: no order between them)');
      assert.ok(s.connected, 'the session held across its requests');
    });
  }
});
