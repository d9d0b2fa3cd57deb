// Recovery time after kill -9 in a cluster (bench/cluster.sh step 3). Two nodes on the given
// Redis; a socket.io-client reaches node 1 through a TCP forwarder, subscribes, receives one
// event; node 1 is killed (the forwarder now points at node 2) while node 2 publishes 20
// events; measured: from the client's reconnect attempt (disconnect seen) to the last
// missed event received. REPS repetitions; prints one JSON line.
//   node bench/cluster-recovery.mjs target/release/switchboard redis://127.0.0.1:6391
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createRequire } from 'node:module';
const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const { io } = require('socket.io-client');

const [bin, redis] = process.argv.slice(2);
const REPS = Number(process.env.REPS || 5);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function node(port, id) {
  const child = spawn(bin, ['serve', '--listen', `127.0.0.1:${port}`, '--database-url', 'sqlite::memory:', '--redis-url', redis, '--node-id', id],
    { stdio: 'ignore', env: { ...process.env, RUST_LOG: 'warn', SWITCHBOARD_REDIS_STREAM: 'recovery-bench', SWITCHBOARD_REDIS_PREFIX: 'recovery-bench' } });
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return child; } catch {}
    await sleep(100);
  }
  throw new Error(`node ${id} did not start`);
}

function forwarder(getTarget) {
  const srv = net.createServer((c) => {
    const up = net.connect(getTarget(), '127.0.0.1');
    c.pipe(up); up.pipe(c);
    const end = () => { c.destroy(); up.destroy(); };
    for (const s of [c, up]) { s.on('error', end); s.on('close', end); }
  });
  return new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv)));
}

const publish = (port, body) => fetch(`http://127.0.0.1:${port}/api/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const out = [];
const recovered = [];
for (let rep = 0; rep < REPS; rep++) {
  const [pa, pb] = [3311 + rep * 2, 3312 + rep * 2];
  const a = await node(pa, `rb-a${rep}`);
  const b = await node(pb, `rb-b${rep}`);
  let target = pa;
  const fw = await forwarder(() => target);
  const s = io(`http://127.0.0.1:${fw.address().port}`, { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 100 });
  const got = [];
  let lastAt = 0;
  s.on('ev', (d) => { got.push(d.n); lastAt = performance.now(); });
  await new Promise((r) => s.once('connect', r));
  await new Promise((r) => s.emit('module:subscribe', { moduleKey: 'rb' }, r));
  await publish(pb, { rooms: ['module:rb'], event: 'ev', data: { n: 0 } });
  while (!got.length) await sleep(5);
  await sleep(200); // the session write
  let dropAt = 0;
  s.once('disconnect', () => { dropAt = performance.now(); });
  target = pb;
  a.kill('SIGKILL');
  for (let n = 1; n <= 20; n++) await publish(pb, { rooms: ['module:rb'], event: 'ev', data: { n } });
  const deadline = Date.now() + 10_000;
  while (got.at(-1) !== 20 && Date.now() < deadline) await sleep(2);
  const ok = JSON.stringify(got) === JSON.stringify([...Array(21).keys()]);
  out.push(Math.round((lastAt - dropAt) * 10) / 10);
  recovered.push(ok && s.recovered);
  s.close(); fw.close(); b.kill('SIGKILL');
  await sleep(300);
}
console.log(JSON.stringify({ scenario: 'recovery', ms: out, exact_and_recovered: recovered }));
process.exit(0);
