import type { Socket } from 'socket.io-client';
import { JOIN_RULES, type JoinRuleInfo, type RoomAck } from './generated.js';

/** An error the server answered (`{ success: false, error }`) or a client-side failure. */
export class SwitchboardError extends Error {
  /** The server's `error` string, or the client's reason. */
  readonly error: string;
  /** The client event that failed, when there is one. */
  readonly event?: string;

  constructor(error: string, event?: string) {
    super(event ? `${event}: ${error}` : error);
    this.name = 'SwitchboardError';
    this.error = error;
    this.event = event;
  }
}

/** Where a wire subscription stands. */
export type SubscriptionState =
  /** Sent (or waiting for a connection to send it), not acked yet. */
  | { status: 'pending'; room: string | null; error: null }
  /** The server acked the join: the socket is in `room`. */
  | { status: 'joined'; room: string; error: null }
  /** The server refused it (or never answered); the subscription is dead. */
  | { status: 'failed'; room: string | null; error: SwitchboardError };

/**
 * One holder's share of a wire subscription. Several handles on the same
 * (event, payload) share one join on the wire; the join is undone when the last handle is
 * released (after `releaseDelayMs`, so a release followed at once by an acquire — React
 * StrictMode's mount → unmount → mount — sends nothing).
 */
export interface SubscriptionHandle {
  /** Resolves with the joined room after the server's ack; rejects with a {@link SwitchboardError}. */
  readonly ready: Promise<string>;
  /** The subscription's current state. */
  state(): SubscriptionState;
  /** Called on every state change (re-joins after reconnects included); returns an unsubscribe. */
  onChange(fn: (state: SubscriptionState) => void): () => void;
  /** Gives this share back; idempotent. */
  release(): void;
}

/** What the manager needs from its client. */
export interface SubscriptionHost {
  readonly socket: Socket;
  /** How long an ack may take while connected. */
  readonly ackTimeoutMs: number;
  /** How long a released subscription waits before it is undone on the wire. */
  readonly releaseDelayMs: number;
  /** A join was acked (first time or again after a reconnect). */
  joined(info: { event: string; payload: unknown; room: string }): void;
  /** Every re-sent subscription of a non-recovered reconnect has been answered. */
  resubscribed(info: { count: number; failed: SwitchboardError[] }): void;
  /** A failure nobody awaits (a re-join refused, a leave refused). */
  error(err: SwitchboardError): void;
}

interface Entry {
  readonly key: string;
  readonly event: string;
  readonly payload: unknown;
  readonly rule: JoinRuleInfo | undefined;
  refs: number;
  state: SubscriptionState;
  /** Bumped at each send and at disposal: only the latest send's ack counts. */
  generation: number;
  /** Sent on the current connection. */
  sent: boolean;
  /** Joined when the transport dropped: a recovered session still has the room. */
  joinedAtDrop: boolean;
  disposed: boolean;
  /** Released while its join was in flight: leave once the ack says where we are. */
  leaveWhenAcked: boolean;
  releaseTimer: ReturnType<typeof setTimeout> | null;
  readonly ready: Promise<string>;
  resolve(room: string): void;
  reject(err: SwitchboardError): void;
  readonly listeners: Set<(s: SubscriptionState) => void>;
}

/** The server's `error` of a failed ack (or what was wrong with the ack). */
function refusal(res: unknown): string {
  const error = res && typeof res === 'object' ? (res as { error?: unknown }).error : undefined;
  return typeof error === 'string' ? error : `unexpected ack ${JSON.stringify(res)}`;
}

/** `(event, payload)` → a stable key (object keys sorted, so `{a,b}` and `{b,a}` match). */
export function subscriptionKey(event: string, payload: unknown): string {
  return `${event}\u0000${stableStringify(payload)}`;
}

function stableStringify(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .filter((k) => o[k] !== undefined)
    .map((k) => `${JSON.stringify(k)}:${stableStringify(o[k])}`)
    .join(',')}}`;
}

/**
 * Reference-counted join subscriptions that survive reconnects: sent when the socket is
 * connected, re-sent after a reconnect the server did not recover (its rooms are gone),
 * kept as they are after a recovered one (the server restored the rooms), and undone
 * with the rule's leave event when the last holder releases them.
 */
export class SubscriptionManager {
  private readonly entries = new Map<string, Entry>();
  /** Rooms released while disconnected: a recovered session brings them back, so leave them then. */
  private readonly leaveOnRecovery: Array<{ event: string; payload: unknown }> = [];
  private everConnected = false;

  constructor(private readonly host: SubscriptionHost) {
    const socket = host.socket;
    socket.on('connect', () => this.onConnect());
    socket.on('disconnect', () => this.onDisconnect());
  }

  /** Takes a share of the subscription (event, payload), joining on the wire if it is the first. */
  acquire(event: string, payload: unknown): SubscriptionHandle {
    const key = subscriptionKey(event, payload);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = this.create(key, event, payload);
      this.entries.set(key, entry);
      this.send(entry);
    }
    entry.refs += 1;
    if (entry.releaseTimer) {
      clearTimeout(entry.releaseTimer);
      entry.releaseTimer = null;
    }
    const e = entry;
    let released = false;
    return {
      ready: e.ready,
      state: () => e.state,
      onChange: (fn) => {
        e.listeners.add(fn);
        return () => e.listeners.delete(fn);
      },
      release: () => {
        if (released) return;
        released = true;
        this.release(e);
      },
    };
  }

  /** How many distinct wire subscriptions are held (for tests and diagnostics). */
  get size(): number {
    return this.entries.size;
  }

  /** The rooms currently joined through this manager. */
  rooms(): string[] {
    return [...this.entries.values()].filter((e) => e.state.status === 'joined').map((e) => e.state.room!);
  }

  /** Drops everything without sending leaves (the client is closing). */
  dispose(): void {
    for (const e of this.entries.values()) {
      e.disposed = true;
      e.generation += 1;
      if (e.releaseTimer) clearTimeout(e.releaseTimer);
      this.settleFailure(e, new SwitchboardError('client closed', e.event));
    }
    this.entries.clear();
  }

  private create(key: string, event: string, payload: unknown): Entry {
    let resolve!: (room: string) => void;
    let reject!: (err: SwitchboardError) => void;
    const ready = new Promise<string>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Holders that never await `ready` must not cause an unhandled rejection.
    ready.catch(() => {});
    return {
      key,
      event,
      payload,
      rule: (JOIN_RULES as Record<string, JoinRuleInfo>)[event],
      refs: 0,
      state: { status: 'pending', room: null, error: null },
      generation: 0,
      sent: false,
      joinedAtDrop: false,
      disposed: false,
      leaveWhenAcked: false,
      releaseTimer: null,
      ready,
      resolve,
      reject,
      listeners: new Set(),
    };
  }

  private setState(e: Entry, state: SubscriptionState): void {
    e.state = state;
    for (const fn of [...e.listeners]) fn(state);
  }

  /** Emits the join when connected; otherwise the next `connect` sends it. */
  private send(e: Entry): Promise<SwitchboardError | null> {
    const socket = this.host.socket;
    if (!socket.connected || e.disposed) {
      e.sent = false;
      return Promise.resolve(null);
    }
    const generation = ++e.generation;
    e.sent = true;
    if (e.state.status !== 'pending') this.setState(e, { status: 'pending', room: e.state.room, error: null });
    if (e.rule?.ack === 'none') {
      // Errors only: no news is success, and the room is not told.
      socket.emit(e.event, e.payload);
      this.joined(e, e.state.room ?? '');
      return Promise.resolve(null);
    }
    return new Promise((done) => {
      socket.timeout(this.host.ackTimeoutMs).emit(e.event, e.payload, (err: Error | null, res: RoomAck) => {
        if (generation !== e.generation) return done(null);
        if (e.disposed) {
          // Released before the ack: settle `ready`, and undo the join now that it is
          // known to have happened (and where).
          if (!err && res?.success === true) {
            e.resolve(res.room);
            if (e.leaveWhenAcked) {
              e.state = { status: 'joined', room: res.room, error: null };
              const leave = this.leaveFor(e);
              if (leave && socket.connected) this.emitLeave(leave);
            }
          } else {
            e.reject(new SwitchboardError(err ? 'released before the ack' : refusal(res), e.event));
          }
          return done(null);
        }
        if (err) {
          // Dropped with the connection: the next connect re-sends it.
          if (!socket.connected) return done(null);
          const failure = new SwitchboardError(`no ack within ${this.host.ackTimeoutMs} ms`, e.event);
          this.fail(e, failure);
          return done(failure);
        }
        if (res && typeof res === 'object' && res.success === true) {
          this.joined(e, res.room);
          return done(null);
        }
        const failure = new SwitchboardError(refusal(res), e.event);
        this.fail(e, failure);
        done(failure);
      });
    });
  }

  private joined(e: Entry, room: string): void {
    this.setState(e, { status: 'joined', room, error: null });
    e.resolve(room);
    this.host.joined({ event: e.event, payload: e.payload, room });
  }

  private fail(e: Entry, err: SwitchboardError): void {
    // A dead subscription: a later acquire of the same key tries again.
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.disposed = true;
    this.settleFailure(e, err);
  }

  private settleFailure(e: Entry, err: SwitchboardError): void {
    e.reject(err);
    this.setState(e, { status: 'failed', room: e.state.room, error: err });
  }

  private release(e: Entry): void {
    e.refs -= 1;
    if (e.refs > 0 || e.disposed) return;
    if (e.releaseTimer) clearTimeout(e.releaseTimer);
    e.releaseTimer = setTimeout(() => {
      e.releaseTimer = null;
      if (e.refs === 0) this.dispose1(e);
    }, this.host.releaseDelayMs);
  }

  /** The last holder is gone: forget it and leave the room when the preset can. */
  private dispose1(e: Entry): void {
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.disposed = true;
    if (!e.rule?.leave) return;
    const socket = this.host.socket;
    if (socket.connected && e.sent && e.state.status === 'pending') {
      // The join is in flight: its ack (still awaited) triggers the leave.
      e.leaveWhenAcked = true;
      return;
    }
    const leave = this.leaveFor(e);
    if (!leave) return;
    if (socket.connected) {
      if (e.state.status === 'joined') this.emitLeave(leave);
    } else if (e.joinedAtDrop) {
      this.leaveOnRecovery.push(leave);
    }
  }

  private leaveFor(e: Entry): { event: string; payload: unknown } | null {
    const leave = e.rule?.leave;
    if (!leave) return null;
    if (leave.from === 'payload') return { event: leave.event, payload: e.payload };
    // The room comes from the ack; a join never acked left nothing to leave.
    if (!e.state.room) return null;
    return { event: leave.event, payload: { [leave.field]: e.state.room } };
  }

  private emitLeave(leave: { event: string; payload: unknown }): void {
    this.host.socket.timeout(this.host.ackTimeoutMs).emit(leave.event, leave.payload, (err: Error | null, res: RoomAck) => {
      if (err || !res || res.success) return;
      this.host.error(new SwitchboardError(res.error, leave.event));
    });
  }

  private onDisconnect(): void {
    for (const e of this.entries.values()) {
      e.joinedAtDrop = e.state.status === 'joined';
      e.sent = false;
      if (e.state.status === 'joined') this.setState(e, { status: 'pending', room: e.state.room, error: null });
    }
  }

  private onConnect(): void {
    const socket = this.host.socket;
    const reconnect = this.everConnected;
    this.everConnected = true;
    if (reconnect && socket.recovered) {
      // The server restored the session's rooms: only what never got joined is sent.
      for (const leave of this.leaveOnRecovery.splice(0)) this.emitLeave(leave);
      for (const e of this.entries.values()) {
        if (e.joinedAtDrop && e.state.room !== null) {
          this.setState(e, { status: 'joined', room: e.state.room, error: null });
        } else {
          void this.send(e);
        }
      }
      return;
    }
    // A fresh session: the server knows none of our rooms.
    this.leaveOnRecovery.length = 0;
    const sends = [...this.entries.values()].map((e) => this.send(e));
    if (reconnect) {
      void Promise.all(sends).then((results) => {
        const failed = results.filter((r): r is SwitchboardError => r !== null);
        for (const f of failed) this.host.error(f);
        this.host.resubscribed({ count: sends.length, failed });
      });
    }
  }
}
