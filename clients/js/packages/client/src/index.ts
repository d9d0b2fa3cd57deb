/**
 * `@switchboard/client`: a typed client for Switchboard on top of the unmodified
 * `socket.io-client` 4.8.
 *
 * ```ts
 * import { connect } from '@switchboard/client';
 * const client = connect({ url: 'http://127.0.0.1:3000', getToken: () => fetchJwt() });
 * const feed = client.kpis('finance', (kpis) => render(kpis));
 * const leave = await client.subscribe('joinServiceQueue', { serviceType: 'loans' });
 * ```
 *
 * @packageDocumentation
 */
export { connect, SwitchboardClient } from './client.js';
export type {
  ClientEvents,
  ConnectOptions,
  CustomEvent,
  SubscribeOptions,
  SwitchboardSocket,
  TokenProvider,
  Unsubscribe,
} from './client.js';
export { SwitchboardError, subscriptionKey } from './subscriptions.js';
export type { SubscriptionHandle, SubscriptionState } from './subscriptions.js';
export type {
  Feed,
  NotificationItem,
  NotificationsFeed,
  NotificationsState,
  PresenceState,
} from './feeds.js';
export * from './generated.js';
