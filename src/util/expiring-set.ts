/**
 * A bounded set of keys that each expire after a time to live, read against a clock (a scheduler's
 * `now`, so that virtual time works). Past `maxSize`, the oldest key is forgotten first.
 */
export class ExpiringSet<K> {
  private readonly expiries = new Map<K, number>();

  constructor(
    private readonly now: () => number,
    private readonly maxSize: number,
  ) {}

  /** Remembers `key` for `ttl` milliseconds from now. */
  add(key: K, ttl: number): void {
    this.expiries.delete(key);
    this.expiries.set(key, this.now() + ttl);
    if (this.expiries.size > this.maxSize) {
      const oldest = this.expiries.keys().next();
      if (oldest.done !== true) this.expiries.delete(oldest.value);
    }
  }

  /** True while `key` is remembered; forgets it once expired. */
  has(key: K): boolean {
    const expiry = this.expiries.get(key);
    if (expiry === undefined) return false;
    if (expiry > this.now()) return true;
    this.expiries.delete(key);
    return false;
  }

  delete(key: K): void {
    this.expiries.delete(key);
  }

  get size(): number {
    return this.expiries.size;
  }
}
