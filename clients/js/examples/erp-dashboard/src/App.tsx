import { useState } from 'react';
import {
  SwitchboardProvider,
  usePresence,
  useRealTimeKPIs,
  useRealTimeNotifications,
  useRealtimeDashboard,
  useRoom,
  useSocket,
  useSystemAlerts,
} from '@switchboard/react';
import type { AppConfig } from './config';

/** The whole app: one provider (one socket), every widget a hook. */
export function App({ config }: { config: AppConfig }) {
  return (
    <SwitchboardProvider url={config.server} token={config.token}>
      <header className="top">
        <h1>ERP dashboard</h1>
        <ConnectionBadge />
        {config.token && <NotificationBell />}
      </header>
      <AlertsBanner />
      <main>
        <DashboardSummary />
        <section className="modules" aria-label="Modules">
          {config.modules.map((m) => (
            <ModuleCard key={m} moduleKey={m} />
          ))}
        </section>
        {config.token ? <PresencePanel library={config.library} /> : <p className="hint">Add ?token=… to see notifications and presence.</p>}
      </main>
    </SwitchboardProvider>
  );
}

function ConnectionBadge() {
  const { connected } = useSocket();
  return (
    <span className={`badge ${connected ? 'ok' : 'off'}`} data-testid="connection">
      {connected ? 'live' : 'offline'}
    </span>
  );
}

function formatValue(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(2);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/** One module's KPIs: the snapshot on subscribe, then every update. */
function ModuleCard({ moduleKey }: { moduleKey: string }) {
  const { kpis, lastUpdate } = useRealTimeKPIs(moduleKey);
  return (
    <article className="card" data-testid={`module-${moduleKey}`}>
      <h2>{moduleKey}</h2>
      {kpis.length === 0 ? (
        <p className="muted">waiting for data…</p>
      ) : (
        <ul>
          {kpis.map((k) => (
            <li key={k.id} className={`kpi ${k.status}`}>
              <span className="label">{k.label}</span>
              <span className="value" data-testid={`kpi-${moduleKey}-${k.id}`}>
                {formatValue(k.value)}
              </span>
              <span className="trend">{typeof k.trend === 'string' ? trendArrow(k.trend) : ''}</span>
            </li>
          ))}
        </ul>
      )}
      <footer className="muted">{lastUpdate ? `updated ${lastUpdate.toLocaleTimeString()}` : ''}</footer>
    </article>
  );
}

function trendArrow(trend: string): string {
  return trend === 'up' ? '▲' : trend === 'down' ? '▼' : '■';
}

/** The summary cards and the biggest movers. */
function DashboardSummary() {
  const { summaryCards, topKPIs, lastUpdate } = useRealtimeDashboard();
  return (
    <section className="summary" aria-label="Summary" data-testid="summary">
      <div className="summary-cards">
        {summaryCards.map((c) => (
          <div key={c.id} className={`summary-card ${c.status}`} data-testid={`summary-${c.id}`}>
            <strong>{c.title}</strong>
            <span>{c.value !== undefined ? formatValue(c.value) : `${c.kpiCount ?? 0} KPIs`}</span>
          </div>
        ))}
      </div>
      {topKPIs.length > 0 && (
        <ol className="movers" aria-label="Biggest movers">
          {topKPIs.map((k) => (
            <li key={`${k.module}/${k.id}`}>
              {k.module} · {k.label}: {formatValue(k.value)} ({k.changePercent > 0 ? '+' : ''}
              {k.changePercent}%)
            </li>
          ))}
        </ol>
      )}
      <p className="muted">{lastUpdate ? `summary of ${lastUpdate.toLocaleTimeString()}` : 'loading summary…'}</p>
    </section>
  );
}

/** The latest system alert, with how many more there are. */
function AlertsBanner() {
  const { alerts } = useSystemAlerts();
  if (alerts.length === 0) return null;
  const [latest] = alerts;
  return (
    <div className={`alert ${latest.severity}`} role="alert" data-testid="alert-banner">
      <strong>{latest.title}</strong> {latest.message}
      {alerts.length > 1 && <span className="muted"> (+{alerts.length - 1} earlier)</span>}
    </div>
  );
}

/** Unread badge, and the list with a mark-read button per unread notification. */
function NotificationBell() {
  const { notifications, unreadCount, markRead } = useRealTimeNotifications();
  const [open, setOpen] = useState(false);
  return (
    <div className="bell">
      <button type="button" onClick={() => setOpen((o) => !o)} aria-label="Notifications" data-testid="bell">
        Inbox
        <span className="badge count" data-testid="bell-badge">
          {unreadCount}
        </span>
      </button>
      {open && (
        <ul className="bell-list" data-testid="bell-list">
          {notifications.length === 0 && <li className="muted">no notifications</li>}
          {notifications.map((n) => (
            <li key={n.id} className={n.read ? 'read' : 'unread'} data-testid="notification">
              <strong>{n.title}</strong> {n.message}
              {!n.read && (
                <button type="button" onClick={() => void markRead(n.id)} data-testid="mark-read">
                  mark read
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Who else is looking at this library (join:library keeps the room while mounted). */
function PresencePanel({ library }: { library: string }) {
  const room = `library:${library}`;
  const { joined, error } = useRoom('join:library', library);
  const { users, count, anonymous } = usePresence(room);
  return (
    <section className="presence" aria-label="Presence" data-testid="presence">
      <h2>
        Online in {room} <span className="badge" data-testid="presence-count">{count}</span>
      </h2>
      {error && <p className="error">{error.error}</p>}
      {!joined && !error && <p className="muted">joining…</p>}
      <ul data-testid="presence-users">
        {users.map((u) => (
          <li key={u}>{u}</li>
        ))}
      </ul>
      {anonymous > 0 && <p className="muted">+{anonymous} anonymous</p>}
    </section>
  );
}
