/**
 * A minimal typed event emitter for the client's own events (`recovered`,
 * `resubscribed`, …). Listener errors are isolated: one throwing listener does not stop
 * the others (the error is rethrown asynchronously so it is still reported).
 */
export class Emitter<Events extends { [K in keyof Events]: (...args: any[]) => void }> {
  private readonly listeners = new Map<keyof Events, Set<(...args: any[]) => void>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, fn: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => this.off(event, fn);
  }

  /** Adds a listener called at most once; returns a function that removes it. */
  once<K extends keyof Events>(event: K, fn: Events[K]): () => void {
    const wrapper = ((...args: Parameters<Events[K]>) => {
      off();
      fn(...args);
    }) as Events[K];
    const off = this.on(event, wrapper);
    return off;
  }

  /** Removes a listener. */
  off<K extends keyof Events>(event: K, fn: Events[K]): void {
    this.listeners.get(event)?.delete(fn);
  }

  /** Calls every listener of `event` with `args`. */
  protected emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(...args);
      } catch (err) {
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  /** How many listeners `event` has. */
  listenerCount(event: keyof Events): number {
    return this.listeners.get(event)?.size ?? 0;
  }
}
