/**
 * `@switchboard/react`: a provider (one socket per provider) and hooks for Switchboard's
 * protocols, under the names and return shapes of the ERP frontend's hand-written
 * `SocketContext`, plus `useRoom` and `usePresence`.
 *
 * @packageDocumentation
 */
export { SwitchboardProvider, SwitchboardContext, useSwitchboard } from './provider.js';
export type { SwitchboardProviderProps } from './provider.js';
export {
  useSocket,
  useSocketEvent,
  useSocketEmit,
  useRealTimeKPIs,
  useRealTimeNotifications,
  useRealtimeDashboard,
  useSystemAlerts,
  useRoom,
  usePresence,
} from './hooks.js';
export type { Emit } from './hooks.js';
