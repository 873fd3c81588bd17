import { Observable } from 'rxjs';

/**
 * Listeners grouped by key: `emit(key, value)` wakes only the listeners of that key, so the cost of a
 * change does not grow with the number of listeners of other keys (a `filter` per subscriber would).
 */
export class KeyedListeners<K, V> {
  private readonly listeners = new Map<K, Set<(value: V) => void>>();
  private readonly completions = new Set<() => void>();

  /** The values emitted for `key`, until {@link complete}. */
  observe(key: K): Observable<V> {
    // A keyed registry cannot be said with `filter` without an O(subscribers) cost per emit.
    return new Observable<V>((subscriber) => {
      const listener = (value: V): void => {
        subscriber.next(value);
      };
      const done = (): void => {
        subscriber.complete();
      };
      let set = this.listeners.get(key);
      if (set === undefined) {
        set = new Set();
        this.listeners.set(key, set);
      }
      set.add(listener);
      this.completions.add(done);
      return () => {
        this.completions.delete(done);
        const current = this.listeners.get(key);
        if (current === undefined) return;
        current.delete(listener);
        if (current.size === 0) this.listeners.delete(key);
      };
    });
  }

  /** Delivers `value` to the listeners of `key`. */
  emit(key: K, value: V): void {
    if (this.listeners.size === 0) return;
    const set = this.listeners.get(key);
    if (set === undefined) return;
    for (const listener of [...set]) listener(value);
  }

  /** The number of keys with at least one listener. */
  get keys(): number {
    return this.listeners.size;
  }

  /** Completes every observer. */
  complete(): void {
    for (const done of [...this.completions]) done();
  }
}
