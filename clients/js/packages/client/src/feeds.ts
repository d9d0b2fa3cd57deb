import type { Socket } from 'socket.io-client';
import type { Alert, MarkReadAck, NotificationNew, NotificationRead, PresenceAck, PresenceChange } from './generated.js';
import { SwitchboardError, type SubscriptionHandle } from './subscriptions.js';

/** A running helper (`kpis`, `dashboard`, `alerts`, `presence`). */
/**
 * What the feeds need from a client ({@link SwitchboardClient} is one): its socket, shared
 * subscriptions, acked requests and the reconnect events. Declared here so that the feeds
 * do not import the client that composes them.
 */
export interface FeedHost {
  readonly socket: unknown;
  readonly connected: boolean;
  acquire(event: string, payload: unknown): SubscriptionHandle;
  request<T>(event: string, ...args: unknown[]): Promise<T>;
  on(event: 'joined', fn: (info: { event: string; payload: unknown; room: string }) => void): () => void;
  on(event: 'recovered', fn: () => void): () => void;
}

export interface Feed {
  /** Settles when the feed's join was acked (rejects with the server's refusal). */
  readonly ready: Promise<void>;
  /** Stops the callbacks and gives back the subscription; idempotent. */
  close(): void;
}

/** A notification as the helpers keep it: the server's payload plus a read flag. */
export interface NotificationItem extends NotificationNew {
  /** Marked read here or on another socket of the same user. */
  read: boolean;
}

/** The notifications helper's state (a new object at every change). */
export interface NotificationsState {
  /** Newest first. */
  notifications: NotificationItem[];
  /** The user's unread count as the server last told it. */
  unreadCount: number;
}

/** {@link SwitchboardClient.notifications}' handle. */
export interface NotificationsFeed extends Feed {
  /** The current state. */
  readonly state: NotificationsState;
  /** Marks a notification read; resolves with the user's new unread count. */
  markRead(notificationId: string): Promise<number>;
}

/** Who is in a presence room (a new object at every change). */
export interface PresenceState {
  room: string;
  /** Identified users (JWT `sub`), at most the server's cap. */
  users: string[];
  /** Distinct identified users in the room. */
  count: number;
  /** Sockets without a user id, as of the last `presence:get`. */
  anonymous: number;
  /** The server listed fewer users than `count` (its cap). */
  truncated: boolean;
  /** A list has arrived. */
  loaded: boolean;
  /** Why the last `presence:get` failed (e.g. not a member yet), else null. */
  error: string | null;
}

type Listener<T> = (value: T) => void;

/** The last payload of one server event, shared by every consumer of it. */
export class LatestValue<T> {
  private value: { v: T } | null = null;
  private readonly listeners = new Set<Listener<T>>();
  private readonly onEvent = (v: T) => {
    this.value = { v };
    for (const fn of [...this.listeners]) fn(v);
  };

  constructor(
    private readonly socket: Socket,
    private readonly event: string,
  ) {
    socket.on(event, this.onEvent);
  }

  /** `fn` gets the last value (if any, on a microtask) and each new one; returns an unsubscribe. */
  subscribe(fn: Listener<T>): () => void {
    this.listeners.add(fn);
    const last = this.value;
    if (last) queueMicrotask(() => this.listeners.has(fn) && this.value === last && fn(last.v));
    return () => this.listeners.delete(fn);
  }

  /** The last value, if any. */
  get current(): T | undefined {
    return this.value?.v;
  }

  dispose(): void {
    this.socket.off(this.event, this.onEvent);
    this.listeners.clear();
    this.value = null;
  }
}

/** `alert:system`: listened to from the client's creation, so the list sent on connect is kept. */
export class AlertsFeed extends LatestValue<Alert[]> {
  constructor(socket: Socket) {
    super(socket, 'alert:system');
  }
}

/** The user's notifications, shared by every consumer of one client. */
export class NotificationStore {
  state: NotificationsState = { notifications: [], unreadCount: 0 };
  readonly ready: Promise<void>;
  private loaded = false;
  private readonly listeners = new Set<Listener<NotificationsState>>();
  private readonly handle: SubscriptionHandle;
  private readonly socket: Socket;

  private readonly onNew = (n: NotificationNew) => {
    const existing = this.state.notifications.find((x) => x.id === n.id);
    const unreadCount = n.unreadCount ?? this.state.unreadCount + (existing ? 0 : 1);
    // A replay after a reconnect sends the unread ones again: keep one of each.
    const notifications = existing ? this.state.notifications : [{ ...n, read: false }, ...this.state.notifications];
    this.set({ notifications, unreadCount });
  };

  private readonly onRead = (r: NotificationRead) => this.applyRead(r.id, r.unreadCount);

  constructor(private readonly client: FeedHost) {
    this.socket = client.socket as unknown as Socket;
    this.socket.on('notification:new', this.onNew);
    this.socket.on('notification:read', this.onRead);
    this.handle = client.acquire('notification:subscribe', {});
    this.ready = this.handle.ready.then(() => {
      if (!this.loaded) this.set(this.state);
    });
    this.ready.catch(() => {});
  }

  /** `fn` gets the state now (if anything arrived) and at each change. */
  subscribe(fn: Listener<NotificationsState>): () => void {
    this.listeners.add(fn);
    if (this.loaded) {
      const s = this.state;
      queueMicrotask(() => this.listeners.has(fn) && this.state === s && fn(s));
    }
    return () => this.listeners.delete(fn);
  }

  async markRead(id: string): Promise<number> {
    const unread = await NotificationStore.markRead(this.client, id);
    this.applyRead(id, unread);
    return unread;
  }

  /** `notification:mark-read { notificationId }` → the unread count, or a {@link SwitchboardError}. */
  static async markRead(client: FeedHost, id: string): Promise<number> {
    const ack = await client.request<MarkReadAck>('notification:mark-read', { notificationId: id });
    if (!ack || ack.success !== true) throw new SwitchboardError(ack?.error ?? 'no answer', 'notification:mark-read');
    return ack.unreadCount;
  }

  /** A read mark (ours or another socket's). */
  applyRead(id: string, unreadCount: number): void {
    const notifications = this.state.notifications.map((n) => (n.id === id && !n.read ? { ...n, read: true } : n));
    this.set({ notifications, unreadCount });
  }

  private set(state: NotificationsState): void {
    this.loaded = true;
    this.state = state;
    for (const fn of [...this.listeners]) fn(state);
  }

  dispose(): void {
    this.socket.off('notification:new', this.onNew);
    this.socket.off('notification:read', this.onRead);
    this.handle.release();
    this.listeners.clear();
  }
}

/** One presence room's members, shared by every consumer of one client. */
export class PresenceStore {
  state: PresenceState;
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private readonly listeners = new Set<Listener<PresenceState>>();
  private readonly socket: Socket;
  private readonly offs: Array<() => void> = [];
  /** `presence:get` requests awaiting their ack. */
  private inflight = 0;
  /** Events received while a `presence:get` was in flight (see {@link PresenceStore.fetch}). */
  private log: Array<{ entered: boolean; ev: PresenceChange }> = [];

  private readonly onJoin = (ev: PresenceChange) => this.onChange(true, ev);
  private readonly onLeave = (ev: PresenceChange) => this.onChange(false, ev);

  constructor(
    private readonly client: FeedHost,
    private readonly room: string,
  ) {
    this.state = { room, users: [], count: 0, anonymous: 0, truncated: false, loaded: false, error: null };
    this.ready = new Promise((resolve) => (this.resolveReady = resolve));
    this.socket = client.socket as unknown as Socket;
    this.socket.on('presence:join', this.onJoin);
    this.socket.on('presence:leave', this.onLeave);
    // Ask when the room is (re)joined, and after a recovered reconnect (anonymous counts
    // are not announced). A non-recovered reconnect re-joins first, then asks.
    this.offs.push(client.on('joined', (j) => j.room === room && this.fetch()));
    this.offs.push(client.on('recovered', () => this.fetch()));
    if (client.connected) this.fetch();
  }

  private onChange(entered: boolean, ev: PresenceChange): void {
    if (ev.room !== this.room) return;
    if (this.inflight > 0) this.log.push({ entered, ev });
    // Before the first list there is nothing to apply it to: the list will include it.
    if (this.state.loaded) this.set(apply(this.state, [{ entered, ev }]));
  }

  /**
   * `presence:get { room }`: replaces the list (members only; otherwise `error` is set).
   * The server may take its listing a moment before it sends the ack, so an event that
   * arrives between the request and its ack is applied again on top of the answer (joins
   * and leaves are idempotent in order), never lost.
   */
  fetch(): void {
    if (!this.client.connected) return;
    const from = this.log.length;
    this.inflight += 1;
    const done = () => {
      this.inflight -= 1;
      const since = this.log.slice(from);
      if (this.inflight === 0) this.log = [];
      return since;
    };
    this.client.request<PresenceAck>('presence:get', { room: this.room }).then(
      (ack) => {
        const since = done();
        if (ack && ack.success === true) {
          const { users, count, anonymous, truncated } = ack;
          const listed: PresenceState = { room: this.room, users: [...users], count, anonymous, truncated, loaded: true, error: null };
          this.set(apply(listed, since));
          this.resolveReady();
        } else {
          this.set({ ...this.state, error: ack?.error ?? 'no answer' });
        }
      },
      (err: SwitchboardError) => {
        done();
        this.set({ ...this.state, error: err.error });
      },
    );
  }

  /** `fn` gets the state now and at each change; returns an unsubscribe. */
  subscribe(fn: Listener<PresenceState>): () => void {
    this.listeners.add(fn);
    const s = this.state;
    queueMicrotask(() => this.listeners.has(fn) && this.state === s && fn(s));
    return () => this.listeners.delete(fn);
  }

  private set(state: PresenceState): void {
    this.state = state;
    for (const fn of [...this.listeners]) fn(state);
  }

  dispose(): void {
    this.socket.off('presence:join', this.onJoin);
    this.socket.off('presence:leave', this.onLeave);
    for (const off of this.offs) off();
    this.listeners.clear();
  }
}

/** `presence:join` / `presence:leave` events applied in order to a list. */
function apply(state: PresenceState, events: Array<{ entered: boolean; ev: PresenceChange }>): PresenceState {
  if (events.length === 0) return state;
  let users = state.users;
  for (const { entered, ev } of events) {
    if (entered) {
      if (!users.includes(ev.user)) users = [...users, ev.user];
    } else {
      users = users.filter((u) => u !== ev.user);
    }
  }
  // A complete list counts itself; a capped one trusts the server's latest count.
  const count = state.truncated ? events[events.length - 1].ev.count : users.length;
  return { ...state, users, count };
}
