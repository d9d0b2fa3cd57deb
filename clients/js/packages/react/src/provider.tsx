import { createContext, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { connect, type ConnectOptions, type SwitchboardClient, type TokenProvider } from '@switchboard/client';

/** The provider's client (null outside a provider). */
export const SwitchboardContext = createContext<SwitchboardClient | null>(null);

/** Props of {@link SwitchboardProvider}. */
export interface SwitchboardProviderProps {
  /** The server's URL. Changing it opens a new connection. */
  url: string;
  /** A fixed JWT (`auth: { token }`); a new value is used from the next reconnect on. */
  token?: string;
  /** Returns a JWT; called before connecting and again when the server refuses an expired token. */
  getToken?: TokenProvider;
  /** Any other {@link ConnectOptions} (socket.io-client options included); read when the connection is made. */
  options?: Omit<Partial<ConnectOptions>, 'url' | 'token' | 'getToken'>;
  /** Use this client instead of making one (the provider then neither opens nor closes it). */
  client?: SwitchboardClient;
  children?: ReactNode;
}

/** How long an unmounted provider's socket stays open, so StrictMode's remount reuses it. */
const CLOSE_DELAY_MS = 0;

/**
 * One Switchboard connection for the components below it. The socket opens on mount and
 * closes on unmount; React StrictMode's mount → unmount → mount keeps the same socket.
 */
export function SwitchboardProvider({ url, token, getToken, options, client: external, children }: SwitchboardProviderProps) {
  // The latest getToken, so an inline arrow function does not reconnect anything.
  const getTokenRef = useRef(getToken);
  getTokenRef.current = getToken;

  const make = (): SwitchboardClient =>
    connect({
      ...options,
      url,
      token,
      getToken: getToken ? () => getTokenRef.current!() : undefined,
      autoConnect: false,
    });

  const [owned, setOwned] = useState<{ url: string; client: SwitchboardClient } | null>(() => (external ? null : { url, client: make() }));
  let client: SwitchboardClient;
  if (external) {
    client = external;
  } else if (!owned || owned.url !== url) {
    // A new URL (or a client that was given before and no longer is): a new connection.
    const next = { url, client: make() };
    setOwned(next);
    client = next.client;
  } else {
    client = owned.client;
  }

  useEffect(() => {
    if (external) return;
    client.setToken(token);
  }, [client, external, token]);

  const closeTimers = useRef(new Map<SwitchboardClient, ReturnType<typeof setTimeout>>());
  useEffect(() => {
    if (external) return;
    const pending = closeTimers.current.get(client);
    if (pending) {
      clearTimeout(pending);
      closeTimers.current.delete(client);
    } else {
      client.open();
    }
    return () => {
      const timers = closeTimers.current;
      timers.set(
        client,
        setTimeout(() => {
          timers.delete(client);
          client.close();
        }, CLOSE_DELAY_MS),
      );
    };
  }, [client, external]);

  return <SwitchboardContext.Provider value={client}>{children}</SwitchboardContext.Provider>;
}

/** The provider's {@link SwitchboardClient}; throws outside a {@link SwitchboardProvider}. */
export function useSwitchboard(): SwitchboardClient {
  const client = useContext(SwitchboardContext);
  if (!client) throw new Error('useSwitchboard / useSocket… must be used inside <SwitchboardProvider>');
  return client;
}
