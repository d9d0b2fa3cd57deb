import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import {
  subscriptionKey,
  type Alert,
  type ClientToServerEvents,
  type CustomEvent,
  type JoinEvent,
  type JoinPayloads,
  type Kpi,
  type NotificationItem,
  type ServerToClientEvents,
  type SummaryCard,
  type SwitchboardError,
  type SwitchboardSocket,
  type TopKpi,
} from '@switchboard/client';
import { useSwitchboard } from './provider.js';

/** `{ socket, connected }`: the provider's raw socket and whether it is connected (re-renders on change). */
export function useSocket(): { socket: SwitchboardSocket; connected: boolean } {
  const client = useSwitchboard();
  const socket = client.socket;
  const subscribe = useCallback(
    (onChange: () => void) => {
      socket.on('connect', onChange);
      socket.on('disconnect', onChange);
      return () => {
        socket.off('connect', onChange);
        socket.off('disconnect', onChange);
      };
    },
    [socket],
  );
  const connected = useSyncExternalStore(subscribe, () => socket.connected, () => false);
  return { socket, connected };
}

/** A server event name: a documented one (typed payload) or any other (e.g. published by a backend). */
type ServerEventName = keyof ServerToClientEvents | `kpi:update:${string}`;
type ServerListener<E extends string> = E extends keyof ServerToClientEvents
  ? ServerToClientEvents[E]
  : E extends `kpi:update:${string}`
    ? ServerToClientEvents[`kpi:update:${string}`]
    : (...args: any[]) => void;

/**
 * Calls `cb` for every `name` event while the component is mounted. The latest `cb` is
 * used (no re-subscription when it changes identity).
 */
export function useSocketEvent<E extends ServerEventName>(name: E, cb: ServerListener<E>): void;
export function useSocketEvent(name: string, cb: (...args: any[]) => void): void;
export function useSocketEvent(name: string, cb: (...args: any[]) => void): void {
  const { socket } = useSocket();
  const ref = useRef(cb);
  ref.current = cb;
  useEffect(() => {
    const handler = (...args: unknown[]) => ref.current(...args);
    (socket as any).on(name, handler);
    return () => {
      (socket as any).off(name, handler);
    };
  }, [socket, name]);
}

/** The socket's typed `emit`. */
export type Emit = SwitchboardSocket['emit'];

/** `{ emit }`: a stable function emitting on the provider's socket (typed with the client events). */
export function useSocketEmit(): { emit: Emit } {
  const { socket } = useSocket();
  const emit = useCallback(((event: keyof ClientToServerEvents, ...args: unknown[]) => (socket as any).emit(event, ...args)) as Emit, [socket]);
  return { emit };
}

/** A value that resets when `key` changes, without an extra render of stale data. */
function useKeyedState<T>(key: string, initial: () => T): [T, (v: T) => void] {
  const [state, setState] = useState<{ key: string; value: T }>(() => ({ key, value: initial() }));
  const set = useCallback((value: T) => setState({ key, value }), [key]);
  return [state.key === key ? state.value : initial(), set];
}

/**
 * `{ kpis, lastUpdate }` of a module: the snapshot answered to `module:subscribe`, then each
 * `kpi:update:{moduleKey}`. Components on the same module share one subscription.
 * `lastUpdate` is when the last list arrived (null before the first).
 */
export function useRealTimeKPIs(moduleKey: string | null | undefined): { kpis: Kpi[]; lastUpdate: Date | null } {
  const client = useSwitchboard();
  const [state, setState] = useKeyedState<{ kpis: Kpi[]; lastUpdate: Date | null }>(moduleKey ?? '', () => EMPTY_KPIS);
  useEffect(() => {
    if (!moduleKey) return;
    const feed = client.kpis(moduleKey, (kpis) => setState({ kpis, lastUpdate: new Date() }));
    return () => feed.close();
  }, [client, moduleKey, setState]);
  return state;
}
const EMPTY_KPIS = { kpis: [] as Kpi[], lastUpdate: null };

/**
 * `{ notifications, unreadCount, markRead }` of the signed-in user: unread ones replayed on
 * subscribe, new ones as they come (newest first), read marks from every tab of the user.
 * `markRead(id)` resolves with the new unread count.
 */
export function useRealTimeNotifications(): {
  notifications: NotificationItem[];
  unreadCount: number;
  markRead: (notificationId: string) => Promise<number>;
} {
  const client = useSwitchboard();
  const [state, setState] = useState<{ notifications: NotificationItem[]; unreadCount: number }>(EMPTY_NOTIFICATIONS);
  useEffect(() => {
    const feed = client.notifications((s) => setState(s));
    return () => feed.close();
  }, [client]);
  const markRead = useCallback((id: string) => client.markRead(id), [client]);
  return { notifications: state.notifications, unreadCount: state.unreadCount, markRead };
}
const EMPTY_NOTIFICATIONS = { notifications: [] as NotificationItem[], unreadCount: 0 };

/** `{ summaryCards, topKPIs, lastUpdate }` of the ERP dashboard (`dashboard:subscribe`, then each `dashboard:update`). */
export function useRealtimeDashboard(): { summaryCards: SummaryCard[]; topKPIs: TopKpi[]; lastUpdate: Date | null } {
  const client = useSwitchboard();
  const [state, setState] = useState<{ summaryCards: SummaryCard[]; topKPIs: TopKpi[]; lastUpdate: Date | null }>(EMPTY_DASHBOARD);
  useEffect(() => {
    const feed = client.dashboard((u) => setState({ summaryCards: u.summaryCards, topKPIs: u.topKPIs, lastUpdate: new Date() }));
    return () => feed.close();
  }, [client]);
  return state;
}
const EMPTY_DASHBOARD = { summaryCards: [] as SummaryCard[], topKPIs: [] as TopKpi[], lastUpdate: null };

/** `{ alerts }`: the last 10 system alerts, newest first (also the list sent on connect). */
export function useSystemAlerts(): { alerts: Alert[] } {
  const client = useSwitchboard();
  const [alerts, setAlerts] = useState<Alert[]>([]);
  useEffect(() => {
    const feed = client.alerts(setAlerts);
    return () => feed.close();
  }, [client]);
  return { alerts };
}

/**
 * `{ joined, error }`: keeps the component in a room while mounted (queue and booking
 * protocols: `joinServiceQueue`, `joinCounter`, `join:library`, …). `joined` follows
 * reconnects; `error` is the server's refusal. A null payload joins nothing.
 * Components with the same (event, payload) share one join.
 */
export function useRoom<E extends JoinEvent>(joinEvent: E, payload: JoinPayloads[E] | null | undefined): { joined: boolean; error: SwitchboardError | null };
export function useRoom<E extends string>(joinEvent: CustomEvent<E>, payload: unknown): { joined: boolean; error: SwitchboardError | null };
export function useRoom(joinEvent: string, payload: unknown): { joined: boolean; error: SwitchboardError | null } {
  const client = useSwitchboard();
  const key = payload === null || payload === undefined ? '' : subscriptionKey(joinEvent, payload);
  const [state, setState] = useKeyedState<{ joined: boolean; error: SwitchboardError | null }>(key, () => NOT_JOINED);
  // The payload as of this key (an inline object literal must not re-join at each render).
  const payloadRef = useRef(payload);
  payloadRef.current = payload;
  useEffect(() => {
    if (!key) return;
    const handle = client.acquire(joinEvent, payloadRef.current);
    const apply = () => {
      const s = handle.state();
      setState({ joined: s.status === 'joined', error: s.status === 'failed' ? s.error : null });
    };
    const off = handle.onChange(apply);
    apply();
    return () => {
      off();
      handle.release();
    };
  }, [client, joinEvent, key, setState]);
  return state;
}
const NOT_JOINED = { joined: false, error: null };

/**
 * `{ users, count, anonymous }` of a presence room (`library:{id}`, `service-{type}`,
 * `dashboard`), which this component or another one joined (e.g. with {@link useRoom}):
 * asked with `presence:get` once joined, then kept with `presence:join` / `presence:leave`.
 */
export function usePresence(room: string | null | undefined): { users: string[]; count: number; anonymous: number } {
  const client = useSwitchboard();
  const [state, setState] = useKeyedState<{ users: string[]; count: number; anonymous: number }>(room ?? '', () => EMPTY_PRESENCE);
  useEffect(() => {
    if (!room) return;
    const feed = client.presence(room, (s) => setState({ users: s.users, count: s.count, anonymous: s.anonymous }));
    return () => feed.close();
  }, [client, room, setState]);
  return state;
}
const EMPTY_PRESENCE = { users: [] as string[], count: 0, anonymous: 0 };
