/** A write waiting in a {@link WriteQueue}: the newest value of one key, and who waits for it. */
export interface QueuedWrite<D, W> {
  readonly name: string;
  /** The encoded value to write. */
  readonly value: string;
  /** What the value was encoded from (the newest). */
  readonly data: D;
  /** Everyone waiting for this key's write, the callers of replaced values included. */
  readonly waiters: readonly W[];
}

/**
 * The writes of a shared store that are waiting for etcd, one per key, oldest first: a key queued
 * again before it is taken keeps its place and takes the new value (the old one is never written,
 * and its callers wait for the new one), as Cilium's SyncStore coalesces its work queue. No IO, no
 * timers: the store's writer takes batches from it.
 *
 * @example
 * ```ts
 * const queue = new WriteQueue<string, () => void>();
 * queue.enqueue('a', '1', 'one', done1);
 * queue.enqueue('a', '2', 'two', done2);
 * queue.take(128); // [{ name: 'a', value: '2', data: 'two', waiters: [done1, done2] }]
 * ```
 */
export class WriteQueue<D, W> {
  private readonly pending = new Map<string, QueuedWrite<D, W>>();

  /** Keys waiting. */
  get size(): number {
    return this.pending.size;
  }

  /** Queues `value` for `name`, replacing a value of it that is still waiting. */
  enqueue(name: string, value: string, data: D, waiter?: W): void {
    this.enqueueAll(name, value, data, waiter === undefined ? [] : [waiter]);
  }

  /**
   * Queues `value` for `name` with `waiters` — an array the queue keeps as it is, so that many keys
   * can share one (the queue never changes an array it holds).
   */
  enqueueAll(name: string, value: string, data: D, waiters: readonly W[]): void {
    const before = this.pending.get(name);
    const all = before === undefined ? waiters : waiters.length === 0 ? before.waiters : [...before.waiters, ...waiters];
    this.pending.set(name, { name, value, data, waiters: all });
  }

  /** Takes the `max` oldest writes out of the queue. */
  take(max: number): QueuedWrite<D, W>[] {
    const batch: QueuedWrite<D, W>[] = [];
    for (const write of this.pending.values()) {
      if (batch.length >= max) break;
      batch.push(write);
    }
    for (const write of batch) this.pending.delete(write.name);
    return batch;
  }

  /**
   * Puts back writes that were taken and could not be made: a value queued for the same key
   * meanwhile is newer and stays, with the waiters of both.
   */
  requeue(writes: readonly QueuedWrite<D, W>[]): void {
    for (const write of writes) {
      const newer = this.pending.get(write.name);
      if (newer === undefined) this.pending.set(write.name, write);
      else this.pending.set(write.name, { ...newer, waiters: [...write.waiters, ...newer.waiters] });
    }
  }

  /** Removes the waiting write of `name`, if any. */
  remove(name: string): QueuedWrite<D, W> | undefined {
    const write = this.pending.get(name);
    this.pending.delete(name);
    return write;
  }

  /** Takes every waiting write. */
  drain(): QueuedWrite<D, W>[] {
    return this.take(Number.POSITIVE_INFINITY);
  }
}
