/** Where to connect and who as, from the page's query string (or the build's environment). */
export interface AppConfig {
  /** Switchboard's URL: `?server=`, else `VITE_SWITCHBOARD_URL`, else http://127.0.0.1:3000. */
  server: string;
  /** A JWT for the notifications and presence (`?token=`); none = anonymous (KPIs, dashboard, alerts only). */
  token: string | undefined;
  /** Modules to show (`?modules=crm,finance`), default the seven of `switchboard serve --demo`. */
  modules: string[];
  /** The library whose presence is shown (`?library=`, default `main`; joining needs a token). */
  library: string;
}

export const DEMO_MODULES = ['crm', 'finance', 'hr', 'security', 'elearning', 'rehab', 'reports'];

export function readConfig(search: string = window.location.search): AppConfig {
  const q = new URLSearchParams(search);
  const list = q.get('modules');
  return {
    server: q.get('server') || import.meta.env.VITE_SWITCHBOARD_URL || 'http://127.0.0.1:3000',
    token: q.get('token') || undefined,
    modules: list ? list.split(',').map((m) => m.trim()).filter(Boolean) : DEMO_MODULES,
    library: q.get('library') || 'main',
  };
}
