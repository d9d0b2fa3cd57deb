// The server → client events Switchboard documents, with their payload types.
//
// Source of truth: the repository README's sections "The three protocols" (lifecycle and
// queue events), "Live data" (KPIs, dashboard, notifications, alerts) and "Presence", and
// the shapes the feeds build (crates/switchboard/src/feeds/*.rs). `gen-types.mjs` turns
// this table plus `crates/switchboard/src/rules/presets.toml` into
// packages/client/src/generated.ts. Edit this table when the server documents a new event,
// then run `npm run gen`.
//
// Each entry: `name` (a `{param}` part becomes a template literal type), `payload` (a
// TypeScript type written against the `types` below), `doc` (one line, copied into the
// generated doc comment).

/** Named payload types, emitted as exported interfaces / aliases in generated.ts. */
export const types = {
  KpiStatus: {
    doc: 'A KPI status; the server sends `info` for a KPI written without one.',
    ts: `'success' | 'warning' | 'error' | 'info'`,
  },
  Kpi: {
    doc: 'One KPI of a module, as `kpi:update:{moduleKey}` carries it.',
    ts: `{
  /** Identifier, unique within its module. */
  id: string;
  /** Human-readable name. */
  label: string;
  /** Current value: any JSON (usually a number). */
  value: unknown;
  /** Trend indicator; \`"flat"\` when written without one. */
  trend: unknown;
  /** \`success\`, \`warning\`, \`error\` or \`info\`. */
  status: KpiStatus | (string & {});
  /** Chart data when the backend wrote some. */
  chart?: unknown;
}`,
  },
  SummaryCard: {
    doc: 'A card of `dashboard:update`: one per module (`module:{key}`) plus the system cards (`system:connections`, `system:uptime`).',
    ts: `{
  id: string;
  title: string;
  status: KpiStatus | (string & {});
  /** Module cards: the module key. */
  module?: string;
  /** Module cards: how many KPIs the module has. */
  kpiCount?: number;
  /** Module cards: KPIs per status. */
  counts?: { success: number; warning: number; error: number; info: number };
  /** Module cards: unix ms of the module's last KPI write. */
  updatedAt?: number | null;
  /** System cards: the figure. */
  value?: unknown;
  /** \`system:uptime\`: seconds. */
  seconds?: number;
}`,
  },
  TopKpi: {
    doc: 'One of the KPIs that changed most, in `dashboard:update.topKPIs`.',
    ts: `{
  module: string;
  id: string;
  label: string;
  value: unknown;
  previous: unknown;
  change: number;
  changePercent: number;
  status?: string | null;
  trend?: unknown;
}`,
  },
  DashboardUpdate: {
    doc: 'The ERP dashboard summary, derived from the stored KPIs.',
    ts: `{ summaryCards: SummaryCard[]; topKPIs: TopKpi[]; timestamp: string }`,
  },
  NotificationNew: {
    doc: 'A notification; `unreadCount` is the recipient\'s unread count (null for a socket without a user id).',
    ts: `{
  id: string;
  title: string;
  message: string;
  severity: string;
  /** RFC 3339 with milliseconds. */
  time: string;
  unreadCount: number | null;
}`,
  },
  NotificationRead: {
    doc: 'Another socket of the same user marked a notification read.',
    ts: `{ id: string; unreadCount: number }`,
  },
  Alert: {
    doc: 'A system alert (`alert:system` carries the last 10, newest first).',
    ts: `{ id: string; title: string; message: string; severity: string; time: string }`,
  },
  ConnectionStatus: {
    doc: 'Sent on connect.',
    ts: `{ status: 'connected'; timestamp: string }`,
  },
  Connected: {
    doc: 'Sent on connect: the per-node client sequence number and the socket id.',
    ts: `{ clientId: number | null; socketId: string; timestamp: string }`,
  },
  StaffConnectionUpdate: {
    doc: 'To the staff `dashboard` room when staff join it or disconnect.',
    ts: `{ action: 'connected' | 'disconnected'; clientId: number | null; timestamp: string; totalConnected: number }`,
  },
  QueueUserJoined: {
    doc: 'To `service-{serviceType}` when someone joins it.',
    ts: `{ serviceType: string; clientId: number | null; timestamp: string }`,
  },
  LoadBalancingMetrics: {
    doc: 'Measured server figures, every 10 s to the staff `dashboard` room (see the README for the fields).',
    ts: `Record<string, unknown>`,
  },
  ErrorEvent: {
    doc: 'A failure of a client event sent without an ack callback (or found after its ack).',
    ts: `{ event: string; success: false; error: string }`,
  },
  PresenceChange: {
    doc: 'A user\'s first socket entered (`presence:join`) or last socket left (`presence:leave`) a presence room; `count` = distinct identified users now in it.',
    ts: `{ room: string; user: string; count: number }`,
  },
  PresenceList: {
    doc: 'Who is in a presence room: identified users (capped: `truncated`), and anonymous sockets counted.',
    ts: `{ room: string; users: string[]; count: number; anonymous: number; truncated: boolean }`,
  },
  Failure: {
    doc: 'Every failed client event is answered this way.',
    ts: `{ success: false; error: string }`,
  },
  RoomAck: {
    doc: 'The ack of a join / leave rule (`ack = "room"`).',
    ts: `{ success: true; room: string } | Failure`,
  },
  MarkReadAck: {
    doc: 'The ack of `notification:mark-read`.',
    ts: `{ success: true; unreadCount: number } | Failure`,
  },
  PresenceAck: {
    doc: 'The ack of `presence:get` (members of the room only).',
    ts: `({ success: true } & PresenceList) | Failure`,
  },
  ClientInfoAck: {
    doc: 'The ack of `clientInfo`.',
    ts: `{ success: true } | Failure`,
  },
};

/** Server → client events. */
export const serverEvents = [
  { name: 'connection:status', payload: 'ConnectionStatus', doc: 'On connect ("The three protocols": lifecycle).' },
  { name: 'connected', payload: 'Connected', doc: 'On connect ("The three protocols": lifecycle).' },
  { name: 'kpi:update:{moduleKey}', payload: 'Kpi[]', doc: 'A module\'s full KPI list: on `module:subscribe`, on every write, and every 5 s ("Live data").' },
  { name: 'dashboard:update', payload: 'DashboardUpdate', doc: 'On `dashboard:subscribe` and every 10 s to `kpi-dashboard` ("Live data").' },
  { name: 'notification:new', payload: 'NotificationNew', doc: 'A new notification, and the unread ones replayed on `notification:subscribe` ("Live data").' },
  { name: 'notification:read', payload: 'NotificationRead', doc: 'To the user\'s other sockets after `notification:mark-read` ("Live data").' },
  { name: 'alert:system', payload: 'Alert[]', doc: 'The last 10 alerts, newest first: to everyone when one is raised, and on connect when any exist ("Live data").' },
  { name: 'staffConnectionUpdate', payload: 'StaffConnectionUpdate', doc: 'Queue protocol: staff joined `dashboard` or disconnected.' },
  { name: 'queueUserJoined', payload: 'QueueUserJoined', doc: 'Queue protocol: someone joined a service room.' },
  { name: 'loadBalancingMetrics', payload: 'LoadBalancingMetrics', doc: 'Queue protocol: every 10 s to the staff `dashboard`.' },
  { name: 'presence:join', payload: 'PresenceChange', doc: 'Presence: a user\'s first socket entered the room.' },
  { name: 'presence:leave', payload: 'PresenceChange', doc: 'Presence: a user\'s last socket left the room.' },
  { name: 'error', payload: 'ErrorEvent', doc: 'A failure of an event sent without an ack callback.' },
];

/**
 * Client → server events that are not join / leave rules (those come from presets.toml).
 * `args` are the parameters before the ack; `ack` the ack payload type (null: none).
 */
export const clientEvents = [
  { name: 'notification:mark-read', args: ['payload: { notificationId: string }'], ack: 'MarkReadAck', doc: 'Persist a read mark ("Live data").' },
  { name: 'presence:get', args: ['payload: { room: string }'], ack: 'PresenceAck', doc: 'Who is in a presence room (members only).' },
  { name: 'ping', args: [], ack: '"pong"', doc: 'Answers `"pong"`.' },
  { name: 'clientInfo', args: ['info: { userAgent?: string; language?: string; timezone?: string; [k: string]: unknown }'], ack: 'ClientInfoAck', doc: 'Stored on the connection record (at most 4 KiB).' },
  { name: 'clientError', args: ['report: { message: string; stack?: string }'], ack: null, doc: 'Logged and counted.' },
];

/**
 * What each `on_join` hook of presets.toml sends, and to whom. A name missing here makes
 * the generator fail, so a new hook on the server cannot go unnoticed.
 */
export const onJoinHooks = {
  kpi_snapshot: { answers: 'kpi:update:{id}', to: 'joiner' },
  dashboard_snapshot: { answers: 'dashboard:update', to: 'joiner' },
  notification_replay: { answers: 'notification:new', to: 'joiner' },
  staff_update: { answers: 'staffConnectionUpdate', to: 'room' },
  queue_user_joined: { answers: 'queueUserJoined', to: 'room' },
};

/** Payload types of rules whose payload carries more than the id field (README table). */
export const extraPayloadFields = {
  joinDashboard: '{ userRole?: string; userId?: string | number }',
};
