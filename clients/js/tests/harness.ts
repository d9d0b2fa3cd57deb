// Test harness: a real `switchboard serve` per test file (no mock server), a SQLite file
// in a temp dir, a JWT secret, a port the OS picked; HS256 tokens minted here; helpers
// that wait with a bound. The binary comes from $SWITCHBOARD_BIN, else
// <repo>/target/release/switchboard.

import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type ConnectOptions, type SwitchboardClient } from '@switchboard/client';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const SWITCHBOARD_BIN = process.env.SWITCHBOARD_BIN ?? join(REPO, 'target', 'release', 'switchboard');
/** The HS256 secret every test server verifies tokens with (≥ 32 bytes: no warning). */
export const JWT_SECRET = 'sdk-tests-secret-0123456789abcdef0123456789';
const READY_MS = 10_000;
const STOP_MS = 5_000;

/** A running server. */
export interface TestServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  readonly port: number;
  /** Stops the process (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** Kills the process and starts a new one on the same port and database. */
  restart(): Promise<void>;
  /** The server's output so far (for failure messages). */
  log(): string;
  /** An HTTP call to the API from loopback (no key needed); returns the parsed JSON. */
  api<T = any>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

export interface ServerOptions {
  /** Extra `serve` arguments. */
  args?: string[];
  /** Extra environment (`SWITCHBOARD_*`). */
  env?: Record<string, string>;
}

const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

/** Starts `switchboard serve` on 127.0.0.1 (port 0: the printed address is read back). */
export async function startServer(opts: ServerOptions = {}): Promise<TestServer> {
  if (!existsSync(SWITCHBOARD_BIN)) {
    throw new Error(`switchboard binary not found at ${SWITCHBOARD_BIN}: build it (cargo build --release -p switchboard) or set SWITCHBOARD_BIN`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'sb-sdk-'));
  const dbUrl = `sqlite://${join(dir, 'switchboard.db')}`;
  let child: ChildProcess | null = null;
  let output = '';
  let port = 0;

  const spawnOnce = (listenPort: number) =>
    new Promise<number>((resolveReady, reject) => {
      const args = ['serve', '--listen', `127.0.0.1:${listenPort}`, '--database-url', dbUrl, '--jwt-secret', JWT_SECRET, ...(opts.args ?? [])];
      const c = spawn(SWITCHBOARD_BIN, args, {
        env: { ...process.env, SWITCHBOARD_JWT_LEEWAY_SECS: '0', RUST_LOG: process.env.RUST_LOG ?? 'info', ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = c;
      let seen = '';
      const timer = setTimeout(() => fail(`no "listening" line within ${READY_MS} ms`), READY_MS);
      const onData = (chunk: Buffer) => {
        const text = chunk.toString();
        output = (output + text).slice(-64 * 1024);
        seen += text;
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(stripAnsi(seen));
        if (m) {
          clearTimeout(timer);
          c.off('exit', onExit);
          resolveReady(Number(m[1]));
        }
      };
      const onExit = (code: number | null, sig: string | null) => fail(`exited before listening (code ${code}, signal ${sig})`);
      function fail(why: string) {
        clearTimeout(timer);
        c.kill('SIGKILL');
        reject(new Error(`switchboard: ${why}\n--- output ---\n${output}`));
      }
      c.stdout!.on('data', onData);
      c.stderr!.on('data', onData);
      c.once('exit', onExit);
    });

  const kill = async (signal: NodeJS.Signals) => {
    const c = child as ChildProcess | null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill(signal);
    const t = setTimeout(() => c.kill('SIGKILL'), STOP_MS);
    await exited;
    clearTimeout(t);
  };

  port = await spawnOnce(0);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    log: () => output,
    async stop() {
      await kill('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
    async restart() {
      await kill('SIGKILL');
      // The port was ours a moment ago; a few tries cover a slow release.
      let lastErr: unknown;
      for (let i = 0; i < 5; i++) {
        try {
          await spawnOnce(port);
          return;
        } catch (err) {
          lastErr = err;
          await sleep(200);
        }
      }
      throw lastErr;
    },
    async api(method, path, body) {
      const res = await fetch(url + path, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(5_000),
      });
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON: keep the text */
      }
      return { status: res.status, body: parsed };
    },
  };
}

/** An HS256 JWT for `sub` signed with {@link JWT_SECRET}; `expInSecs` may be negative (expired). */
export function mintToken(sub: string, opts: { roles?: string[]; tenant?: string; expInSecs?: number } = {}): string {
  const b64 = (v: object | Buffer) => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v))).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { sub, roles: opts.roles ?? [], exp: now + (opts.expInSecs ?? 3600) };
  if (opts.tenant) claims.tenant = opts.tenant;
  const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${head}.${b64(createHmac('sha256', JWT_SECRET).update(head).digest())}`;
}

/** Fast reconnects for tests (socket.io-client's defaults wait 1–5 s). */
export const FAST_RECONNECT: Partial<ConnectOptions> = {
  reconnectionDelay: 100,
  reconnectionDelayMax: 300,
  randomizationFactor: 0,
  transports: ['websocket'],
};

/** A client on `server` with test defaults; closed by {@link closeAll}. */
const open = new Set<SwitchboardClient>();
export function client(server: { url: string }, opts: Partial<ConnectOptions> = {}): SwitchboardClient {
  const c = connect({ url: server.url, ackTimeoutMs: 5_000, ...FAST_RECONNECT, ...opts });
  open.add(c);
  return c;
}

/** Closes every client made with {@link client}. */
export function closeAll(): void {
  for (const c of open) c.close();
  open.clear();
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `pred` every 20 ms until it returns a truthy value; fails after `ms` with `what`. */
export async function waitFor<T>(pred: () => T | Promise<T>, what: string | (() => string), ms = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await pred();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}${last ? ` (last error: ${String(last)})` : ''}`);
    await sleep(20);
  }
}

/** Resolves with the next `event` of `emitter` (socket or client), failing after `ms`. */
type EventSource = { once(ev: any, fn: any): unknown; off(ev: any, fn: any): unknown };
export function nextEvent<T = unknown>(emitter: EventSource, event: string, ms = 10_000): Promise<T> {
  return new Promise<T>((resolveEv, reject) => {
    const fn = (v: T) => {
      clearTimeout(t);
      resolveEv(v);
    };
    const t = setTimeout(() => {
      emitter.off(event, fn);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    emitter.once(event, fn);
  });
}

/** Resolves once `c` is connected (at once if it is). */
export function connected(c: SwitchboardClient, ms = 10_000): Promise<unknown> {
  return c.connected ? Promise.resolve() : nextEvent(c, 'connect', ms);
}

/** `switchboard_client_events_total{event="NAME"}` from /metrics (0 when absent). */
export async function clientEventCount(server: TestServer, event: string): Promise<number> {
  const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const text = await res.text();
  const line = text.split('\n').find((l) => l.startsWith('switchboard_client_events_total{') && l.includes(`event="${event}"`));
  return line ? Number(line.trim().split(/\s+/).pop()) : 0;
}

/** Members of `room` according to GET /api/v1/stats (0 when the room does not exist). */
export async function roomMembers(server: TestServer, room: string): Promise<number> {
  const { body } = await server.api('GET', '/api/v1/stats');
  const rooms: Array<{ name?: string; room?: string; members?: number; size?: number }> = body.data.rooms;
  const r = rooms.find((x) => (x.name ?? x.room) === room);
  return r ? (r.members ?? r.size ?? 0) : 0;
}
