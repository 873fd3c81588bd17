/**
 * A reference-counted string pool: equal tag strings stored by many entities share one instance,
 * and a string leaves the pool when the last entity holding it lets go (so churned tags do not leak).
 *
 * Internal to the store; not exported from the package.
 */
export class InternPool {
  private readonly strings = new Map<string, { readonly value: string; refs: number }>();

  /** The pooled instance equal to `value`, taking one reference on it. */
  acquire(value: string): string {
    const slot = this.strings.get(value);
    if (slot !== undefined) {
      slot.refs += 1;
      return slot.value;
    }
    this.strings.set(value, { value, refs: 1 });
    return value;
  }

  /** Gives back one reference taken by {@link acquire}. */
  release(value: string): void {
    const slot = this.strings.get(value);
    if (slot === undefined) return;
    slot.refs -= 1;
    if (slot.refs <= 0) this.strings.delete(value);
  }

  /** The number of distinct strings held. */
  get size(): number {
    return this.strings.size;
  }
}
