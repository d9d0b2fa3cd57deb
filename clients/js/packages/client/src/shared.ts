/**
 * Reference-counted values keyed by K: the first `acquire(key)` creates the value, the
 * last `release()` disposes it after `delayMs` (unless acquired again meanwhile, as React
 * StrictMode's mount → unmount → mount does).
 */
export class Shared<K, V> {
  private readonly items = new Map<K, { value: V; refs: number; timer: ReturnType<typeof setTimeout> | null }>();

  constructor(
    private readonly create: (key: K) => V,
    private readonly dispose: (value: V) => void,
    private readonly delayMs: number,
  ) {}

  /** The live value for `key`, if any (no share taken). */
  peek(key: K): V | undefined {
    return this.items.get(key)?.value;
  }

  /** A share of the value for `key`; `release()` gives it back (idempotent). */
  acquire(key: K): { value: V; release(): void } {
    let item = this.items.get(key);
    if (!item) {
      item = { value: this.create(key), refs: 0, timer: null };
      this.items.set(key, item);
    }
    if (item.timer) {
      clearTimeout(item.timer);
      item.timer = null;
    }
    item.refs += 1;
    const it = item;
    let released = false;
    return {
      value: it.value,
      release: () => {
        if (released) return;
        released = true;
        it.refs -= 1;
        if (it.refs > 0) return;
        it.timer = setTimeout(() => {
          it.timer = null;
          if (it.refs > 0 || this.items.get(key) !== it) return;
          this.items.delete(key);
          this.dispose(it.value);
        }, this.delayMs);
      },
    };
  }
}
