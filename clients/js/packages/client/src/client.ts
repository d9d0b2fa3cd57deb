import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { Emitter } from './emitter.js';
import type {
  Alert,
  ClientToServerEvents,
  DashboardUpdate,
  JoinEvent,
  JoinPayloads,
  Kpi,
  ServerToClientEvents,
} from './generated.js';
import { SubscriptionManager, SwitchboardError, type SubscriptionHandle } from './subscriptions.js';
import {
  AlertsFeed,
  LatestValue,
  NotificationStore,
  PresenceStore,
  type Feed,
  type NotificationsFeed,
  type NotificationsState,
  type PresenceState,
} from './feeds.js';
import { Shared } from './shared.js';

/** The unmodified socket.io-client socket, typed with Switchboard's events. */
export type SwitchboardSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/** A function that returns a (fresh) JWT. */
export type TokenProvider = () => string | Promise<string>;

/** Options of {@link connect}: Switchboard's own, plus any socket.io-client option. */
export interface ConnectOptions extends Partial<ManagerOptions & SocketOptions> {
  /** The server's URL, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** A fixed JWT, sent as `auth: { token }`. */
  token?: string;
  /**
   * Returns a JWT; called before the first connect and again whenever the server refuses
   * the token (`connect_error` whose message starts with `invalid token`, e.g.
   * `invalid token: expired`), after which the client reconnects with the new token.
   */
  getToken?: TokenProvider;
  /** Token refreshes tried in a row without a successful connect before giving up (default 3). */
  maxTokenRefreshes?: number;
  /** How long a join / mark-read / presence ack may take while connected (default 10 000 ms). */
  ackTimeoutMs?: number;
  /**
   * How long a subscription whose last holder let go waits before leaving the room
   * (default 0: the next macrotask). A new holder within that time keeps it: React
   * StrictMode's mount → unmount → mount sends one join and no leave.
   */
  releaseDelayMs?: number;
}

/** The client's own events (besides the raw socket's). */
export interface ClientEvents {
  /** Connected (first time or again). `recovered`: the server restored the session. */
  connect: (info: { recovered: boolean }) => void;
  /** The connection dropped; socket.io-client reconnects unless `reason` is a manual one. */
  disconnect: (reason: string) => void;
  /** A reconnect the server recovered: rooms kept, missed events replayed; nothing re-sent. */
  recovered: () => void;
  /** A reconnect the server did not recover: every active subscription was sent again and answered. */
  resubscribed: (info: { count: number; failed: SwitchboardError[] }) => void;
  /** A subscription's join was acked (also after re-subscribing). */
  joined: (info: { event: string; payload: unknown; room: string }) => void;
  /** `getToken()` gave a new token after the server refused the old one. */
  tokenRefreshed: () => void;
  /** A failure nobody awaits: a token refresh that failed, a re-join the server refused. */
  error: (err: SwitchboardError) => void;
}

/** A join event of a custom rule (`[[rules.custom]]`): any name but the presets' typed ones. */
export type CustomEvent<E extends string> = E extends JoinEvent ? never : E;

/** A function that undoes a subscription. */
export type Unsubscribe = () => void;

/** Options of {@link SwitchboardClient.subscribe}. */
export interface SubscribeOptions {
  /** Reject (and release) when the join is not acked within this time, connected or not. */
  timeoutMs?: number;
}

/**
 * A Switchboard connection: the raw {@link socket} plus subscriptions that survive
 * reconnects, token refresh and snapshot-then-updates helpers. Create it with {@link connect}.
 */
export class SwitchboardClient extends Emitter<ClientEvents> {
  /** The unmodified socket.io-client socket (typed): use it for anything not covered here. */
  readonly socket: SwitchboardSocket;
  /** Ack timeout used by every request this client makes. */
  readonly ackTimeoutMs: number;
  /** Delay before a released subscription is undone on the wire. */
  readonly releaseDelayMs: number;

  private readonly subs: SubscriptionManager;
  private readonly getToken: TokenProvider | undefined;
  private readonly maxTokenRefreshes: number;
  private token: string | undefined;
  private refreshesInARow = 0;
  private closed = false;
  private readonly alertsFeed: AlertsFeed;
  private readonly latest: Shared<string, LatestValue<unknown>>;
  private readonly notificationStores: Shared<'me', NotificationStore>;
  private readonly presenceStores: Shared<string, PresenceStore>;

  /** Use {@link connect}. */
  constructor(options: ConnectOptions) {
    super();
    const {
      url,
      token,
      getToken,
      maxTokenRefreshes = 3,
      ackTimeoutMs = 10_000,
      releaseDelayMs = 0,
      autoConnect = true,
      ...socketOptions
    } = options;
    this.getToken = getToken;
    this.token = token;
    this.maxTokenRefreshes = maxTokenRefreshes;
    this.ackTimeoutMs = ackTimeoutMs;
    this.releaseDelayMs = releaseDelayMs;

    this.socket = io(url, {
      // One socket (and one Manager) per client: never share a cached connection.
      forceNew: true,
      // `auth: { token }`, read at every (re)connect; an explicit `auth` option wins.
      auth: (cb: (data: object) => void) => this.authPayload(cb),
      ...socketOptions,
      autoConnect: false,
    }) as SwitchboardSocket;

    // Everything that must see the first events is registered before connecting.
    this.subs = new SubscriptionManager({
      socket: this.socket,
      ackTimeoutMs,
      releaseDelayMs,
      joined: (info) => this.emit('joined', info),
      resubscribed: (info) => this.emit('resubscribed', info),
      error: (err) => this.emit('error', err),
    });
    this.alertsFeed = new AlertsFeed(this.socket);
    this.latest = new Shared(
      (event) => new LatestValue(this.socket, event),
      (v) => v.dispose(),
      releaseDelayMs,
    );
    this.notificationStores = new Shared(
      () => new NotificationStore(this),
      (s) => s.dispose(),
      releaseDelayMs,
    );
    this.presenceStores = new Shared(
      (room) => new PresenceStore(this, room),
      (s) => s.dispose(),
      releaseDelayMs,
    );

    this.socket.on('connect', () => {
      this.refreshesInARow = 0;
      const recovered = this.socket.recovered;
      this.emit('connect', { recovered });
      if (recovered) this.emit('recovered');
    });
    this.socket.on('disconnect', (reason) => this.emit('disconnect', reason));
    this.socket.on('connect_error', (err) => this.onConnectError(err));

    if (autoConnect) this.open();
  }

  /** Whether the socket is connected now. */
  get connected(): boolean {
    return this.socket.connected;
  }

  /** Connects (a client made with `autoConnect: false`, or after {@link close}). */
  open(): this {
    this.closed = false;
    this.socket.connect();
    return this;
  }

  /** Replaces the token sent at the next (re)connect; the current connection keeps its identity. */
  setToken(token: string | undefined): void {
    this.token = token;
  }

  /** Disconnects for good: subscriptions are dropped, no reconnect. */
  close(): void {
    this.closed = true;
    this.subs.dispose();
    this.socket.disconnect();
  }

  /**
   * Joins a room with a rule's join event (`module:subscribe`, `joinServiceQueue`,
   * `join:library`, …) and keeps it joined: re-sent after a reconnect the server did not
   * recover, shared with other subscribers of the same (event, payload).
   *
   * Resolves with the unsubscribe function once the server acked `{ success: true, room }`;
   * rejects with a {@link SwitchboardError} carrying the server's `error` otherwise.
   * Unsubscribing sends the preset's leave event (`module:unsubscribe`, `leaveRoom { room }`)
   * when it has one and nobody else holds the subscription.
   */
  async subscribe<E extends JoinEvent>(event: E, payload: JoinPayloads[E], options?: SubscribeOptions): Promise<Unsubscribe>;
  async subscribe<E extends string>(event: CustomEvent<E>, payload: unknown, options?: SubscribeOptions): Promise<Unsubscribe>;
  async subscribe(event: string, payload: unknown, options: SubscribeOptions = {}): Promise<Unsubscribe> {
    const handle = this.subs.acquire(event, payload);
    try {
      await withTimeout(handle.ready, options.timeoutMs, event);
    } catch (err) {
      handle.release();
      throw err;
    }
    return () => handle.release();
  }

  /**
   * Like {@link subscribe}, synchronously: a handle whose `ready` settles with the ack and
   * whose `state()` follows reconnects. For frameworks that must clean up before the ack.
   */
  acquire<E extends JoinEvent>(event: E, payload: JoinPayloads[E]): SubscriptionHandle;
  acquire<E extends string>(event: CustomEvent<E>, payload: unknown): SubscriptionHandle;
  acquire(event: string, payload: unknown): SubscriptionHandle {
    return this.subs.acquire(event, payload);
  }

  /** The rooms joined through this client's subscriptions. */
  rooms(): string[] {
    return this.subs.rooms();
  }

  /** How many distinct subscriptions are on the wire (shared ones count once). */
  get subscriptionCount(): number {
    return this.subs.size;
  }

  /**
   * A module's KPIs: `cb` gets the snapshot the server answers `module:subscribe` with,
   * then every `kpi:update:{moduleKey}`. Listeners are in place before the join is sent.
   */
  kpis(moduleKey: string, cb: (kpis: Kpi[]) => void): Feed {
    return this.snapshotFeed(`kpi:update:${moduleKey}`, 'module:subscribe', { moduleKey }, cb as (v: unknown) => void);
  }

  /** The ERP dashboard: the snapshot answered to `dashboard:subscribe`, then each `dashboard:update`. */
  dashboard(cb: (update: DashboardUpdate) => void): Feed {
    return this.snapshotFeed('dashboard:update', 'dashboard:subscribe', {}, cb as (v: unknown) => void);
  }

  /**
   * The caller's notifications (needs a token): the unread ones replayed on
   * `notification:subscribe`, then each `notification:new`; read marks from this and the
   * user's other sockets (`notification:read`). `cb` gets the whole state at each change.
   */
  notifications(cb: (state: NotificationsState) => void): NotificationsFeed {
    const lease = this.notificationStores.acquire('me');
    const store = lease.value;
    const off = store.subscribe(cb);
    let closed = false;
    return {
      ready: store.ready,
      get state() {
        return store.state;
      },
      markRead: (id: string) => store.markRead(id),
      close: () => {
        if (closed) return;
        closed = true;
        off();
        lease.release();
      },
    };
  }

  /** Marks a notification read; resolves with the user's unread count. */
  async markRead(notificationId: string): Promise<number> {
    const unread = await NotificationStore.markRead(this, notificationId);
    // The server tells the user's *other* sockets; this one's helpers learn it here.
    this.notificationStores.peek('me')?.applyRead(notificationId, unread);
    return unread;
  }

  /** System alerts (`alert:system`: the last 10, newest first), including the list sent on connect. */
  alerts(cb: (alerts: Alert[]) => void): Feed {
    const off = this.alertsFeed.subscribe(cb);
    return { ready: Promise.resolve(), close: off };
  }

  /**
   * Who is in a presence room (`library:1`, `service-loans`, `dashboard`). The room must
   * be joined (with {@link subscribe} or another client call): the list is asked with
   * `presence:get` once joined, then `presence:join` / `presence:leave` are applied; it is
   * asked again after a reconnect.
   */
  presence(room: string, cb: (state: PresenceState) => void): Feed {
    const lease = this.presenceStores.acquire(room);
    const off = lease.value.subscribe(cb);
    let closed = false;
    return {
      ready: lease.value.ready,
      close: () => {
        if (closed) return;
        closed = true;
        off();
        lease.release();
      },
    };
  }

  /** A request with an ack and this client's timeout; resolves with the ack. */
  request<T>(event: string, ...args: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.socket.connected) {
        reject(new SwitchboardError('not connected', event));
        return;
      }
      (this.socket.timeout(this.ackTimeoutMs) as unknown as Socket).emit(event, ...args, (err: Error | null, res: T) => {
        if (err) reject(new SwitchboardError(this.socket.connected ? `no ack within ${this.ackTimeoutMs} ms` : 'disconnected', event));
        else resolve(res);
      });
    });
  }

  /** @internal the current token, fetched with getToken when there is none. */
  private authPayload(cb: (data: object) => void): void {
    if (this.token !== undefined || !this.getToken) {
      cb(this.token === undefined ? {} : { token: this.token });
      return;
    }
    Promise.resolve()
      .then(() => this.getToken!())
      .then(
        (token) => {
          this.token = token;
          cb({ token });
        },
        (err: unknown) => {
          // Without a token there is nothing to connect with: stop, and say why.
          this.socket.disconnect();
          this.emit('error', new SwitchboardError(`getToken failed: ${errorMessage(err)}`));
        },
      );
  }

  private onConnectError(err: Error): void {
    if (this.closed || !this.getToken) return;
    if (!err.message.startsWith('invalid token')) return;
    if (this.refreshesInARow >= this.maxTokenRefreshes) {
      this.emit('error', new SwitchboardError(`token refused ${this.refreshesInARow + 1} times in a row (${err.message}); giving up`));
      return;
    }
    this.refreshesInARow += 1;
    // The server refused the token (and socket.io-client does not retry a refused
    // CONNECT): forget it; the auth callback asks getToken() for a new one.
    this.token = undefined;
    this.emit('tokenRefreshed');
    this.socket.connect();
  }

  private snapshotFeed<E extends JoinEvent>(event: string, join: E, payload: JoinPayloads[E], cb: (v: unknown) => void): Feed {
    // The listener first: the server answers the join with the snapshot right after the ack.
    const lease = this.latest.acquire(event);
    const off = lease.value.subscribe(cb);
    const handle = this.subs.acquire(join, payload);
    let closed = false;
    return {
      ready: handle.ready.then(() => undefined),
      close: () => {
        if (closed) return;
        closed = true;
        off();
        handle.release();
        lease.release();
      },
    };
  }
}

/** Connects to a Switchboard server (see {@link ConnectOptions}). */
export function connect(options: ConnectOptions): SwitchboardClient {
  return new SwitchboardClient(options);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function withTimeout<T>(p: Promise<T>, ms: number | undefined, event: string): Promise<T> {
  if (ms === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new SwitchboardError(`not joined within ${ms} ms`, event)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
