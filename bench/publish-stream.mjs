// Streaming publish throughput: POST /api/v1/publish/stream with N newline-delimited
// events over one request, timed from the first byte written to the `done` line.
//
//   node bench/publish-stream.mjs --port 3000 [--lines 500000] [--room module:bench] [--subscribers 0]
//
// Prints one JSON line: { lines, seconds, events_per_s, published, failed, received }.
// `--subscribers N` connects N socket.io clients (the e2e package's socket.io-client) to
// the room first and counts what they receive (a check that the fan-out happened, not a
// measure of it: a Node client cannot read millions of events per second).
import http from 'node:http';
import { createRequire } from 'node:module';

const require = createRequire(new URL('../e2e/package.json', import.meta.url));
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : dflt;
};
const port = Number(arg('port', 3000));
const lines = Number(arg('lines', 500000));
const room = arg('room', 'module:bench');
const subscribers = Number(arg('subscribers', 0));

let received = 0;
const sockets = [];
if (subscribers > 0) {
  const { io } = require('socket.io-client');
  const [, key] = room.split(':');
  for (let i = 0; i < subscribers; i++) {
    const s = io(`http://127.0.0.1:${port}`, { transports: ['websocket'], forceNew: true });
    s.on('row', () => { received += 1; });
    await new Promise((resolve, reject) => {
      s.once('connect', resolve);
      s.once('connect_error', reject);
    });
    await s.emitWithAck('module:subscribe', { moduleKey: key });
    sockets.push(s);
  }
}

// The body, built before the clock starts: ~70 bytes per line.
const parts = [];
for (let i = 0; i < lines; i++) parts.push(`{"event":"row","data":{"id":${i},"v":${i % 97}},"rooms":["${room}"]}\n`);
const body = Buffer.from(parts.join(''));
const CHUNK = 64 * 1024;

const started = process.hrtime.bigint();
const result = await new Promise((resolve, reject) => {
  const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/api/v1/publish/stream',
    headers: { 'content-type': 'application/x-ndjson', 'transfer-encoding': 'chunked' } }, (res) => {
    let tail = '';
    res.setEncoding('utf8');
    res.on('data', (d) => {
      // Only the last line matters; keep the tail of the text seen so far.
      tail = (tail + d).slice(-4096);
    });
    res.on('end', () => {
      const last = tail.trim().split('\n').pop();
      resolve(JSON.parse(last));
    });
    res.on('error', reject);
  });
  req.on('error', reject);
  let off = 0;
  const write = () => {
    while (off < body.length) {
      const ok = req.write(body.subarray(off, off + CHUNK));
      off += CHUNK;
      if (!ok) return req.once('drain', write);
    }
    req.end();
  };
  write();
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
if (subscribers > 0) await new Promise((r) => setTimeout(r, 500));
for (const s of sockets) s.close();
console.log(JSON.stringify({ lines, seconds: +seconds.toFixed(3), events_per_s: Math.round(result.published / seconds),
  published: result.published, failed: result.failed, received }));
