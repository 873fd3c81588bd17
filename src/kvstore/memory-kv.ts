import { Observable, type SchedulerLike, Subject, type Subscription, defer, throwError } from 'rxjs';
import type { KvEntry, KvListing, KvWatchEvent } from './backend.js';
import { KvCompactedError, KvUnavailableError, type KvOperation } from './errors.js';
import { unrefTimer } from '../util/unref-timer.js';

/** Options of {@link createMemoryKv}. */
export interface MemoryKvOptions {
  /** The scheduler of lease expiry. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
  /** How many watch events are kept for watches from an old revision; older ones are compacted. Default: 100000. */
  readonly historyLimit?: number;
}

interface StoredKey {
  readonly value: string;
  readonly modRevision: number;
  readonly lease: string | undefined;
}

interface StoredLease {
  readonly ttl: number;
  deadline: number;
  readonly keys: Set<string>;
  timer: Subscription | undefined;
}

interface HistoryEntry {
  readonly seq: number;
  readonly event: KvWatchEvent;
}

/**
 * An in-process key-value store with etcd's semantics — one revision counter, watches from a
 * revision, compaction, leases that expire and take their keys with them. Clients reach it through
 * {@link memoryBackend}; several clients (each with its own session lease) can share one.
 *
 * Tests can also make it unavailable (every call fails with `KvUnavailableError`, watches stall
 * and resume, as etcd's do across an outage) and compact its history.
 *
 * @example
 * ```ts
 * const kv = createMemoryKv();
 * const a = memoryBackend({ kv, leaseTtl: 2000 });
 * const b = memoryBackend({ kv, leaseTtl: 2000 });
 * // a and b see each other's keys; a's leased keys go 2 s after a stops keeping its lease alive.
 * ```
 */
export class MemoryKv {
  private readonly keys = new Map<string, StoredKey>();
  private readonly leases = new Map<string, StoredLease>();
  private readonly history: HistoryEntry[] = [];
  private readonly committed$ = new Subject<void>();
  private readonly availabilityChanges$ = new Subject<boolean>();
  /** Each change of availability (see {@link MemoryKv.setAvailable}): false when it goes, true when it is back. Hot. */
  readonly availability$: Observable<boolean> = this.availabilityChanges$.asObservable();
  private readonly scheduler: SchedulerLike | undefined;
  private readonly historyLimit: number;
  private rev = 1;
  private seq = 0;
  private compacted = 0;
  private nextLease = 1;
  private available = true;

  constructor(options: MemoryKvOptions = {}) {
    this.scheduler = options.scheduler;
    this.historyLimit = options.historyLimit ?? 100_000;
  }

  /** The current store revision. */
  get revision(): number {
    return this.rev;
  }

  /** The revision below which watches fail with `KvCompactedError`. */
  get compactedRevision(): number {
    return this.compacted;
  }

  /** How many keys are stored. */
  get size(): number {
    return this.keys.size;
  }

  /** How many leases are alive. */
  get liveLeases(): number {
    return this.leases.size;
  }

  /** Makes the store answer (true) or fail every call with `KvUnavailableError` (false). */
  setAvailable(available: boolean): void {
    const changed = this.available !== available;
    this.available = available;
    if (available) this.committed$.next();
    if (changed) this.availabilityChanges$.next(available);
  }

  /** Drops the watch history before `revision` (default: the current revision). */
  compact(revision: number = this.rev): void {
    const upTo = Math.min(revision, this.rev);
    if (upTo <= this.compacted) return;
    this.compacted = upTo;
    let drop = 0;
    while (drop < this.history.length && (this.history[drop]?.event.revision ?? Infinity) < upTo) drop++;
    this.history.splice(0, drop);
    this.committed$.next();
  }

  /** @internal */
  get(key: string): KvEntry | undefined {
    this.check('get', key);
    const stored = this.keys.get(key);
    return stored === undefined ? undefined : toEntry(key, stored);
  }

  /** @internal */
  list(prefix: string): KvListing {
    this.check('list', prefix);
    const entries: KvEntry[] = [];
    for (const [key, stored] of this.keys) if (key.startsWith(prefix)) entries.push(toEntry(key, stored));
    entries.sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    return { entries, revision: this.rev };
  }

  /** @internal Writes `key`, bound to `lease` when given; fails if the lease does not exist. */
  put(key: string, value: string, lease: string | undefined): number {
    this.check('put', key);
    if (lease !== undefined && !this.leases.has(lease)) throw new KvUnavailableError('put', key, { reason: `lease ${lease} not found` });
    const revision = ++this.rev;
    const before = this.keys.get(key);
    if (before?.lease !== undefined) this.leases.get(before.lease)?.keys.delete(key);
    this.keys.set(key, { value, modRevision: revision, lease });
    if (lease !== undefined) this.leases.get(lease)?.keys.add(key);
    this.record({ type: 'put', key, value, revision });
    return revision;
  }

  /** @internal Deletes `key`; returns the revision, or undefined when there was no key. */
  delete(key: string): number | undefined {
    this.check('delete', key);
    const before = this.keys.get(key);
    if (before === undefined) return undefined;
    const revision = ++this.rev;
    this.removeKey(key, before, revision);
    return revision;
  }

  /** @internal Grants a lease of `ttl` ms. */
  grant(ttl: number): string {
    this.check('lease', undefined);
    const id = `mem-${this.nextLease++}`;
    const lease: StoredLease = { ttl, deadline: this.now() + ttl, keys: new Set(), timer: undefined };
    this.leases.set(id, lease);
    this.arm(id, lease);
    return id;
  }

  /** @internal Renews a lease; false when it no longer exists. */
  keepAlive(id: string): boolean {
    this.check('lease', undefined);
    const lease = this.leases.get(id);
    if (lease === undefined) return false;
    lease.deadline = this.now() + lease.ttl;
    return true;
  }

  /** @internal Revokes a lease now, deleting its keys. */
  revoke(id: string): void {
    this.check('lease', undefined);
    this.expire(id);
  }

  /** @internal Every change under `prefix` from `fromRevision`, delivered synchronously in order. */
  watch(prefix: string, fromRevision: number): Observable<KvWatchEvent> {
    return defer(() => {
      if (fromRevision < this.compacted) return throwError(() => new KvCompactedError(prefix, fromRevision, this.compacted));
      return new Observable<KvWatchEvent>((subscriber) => {
        const first = this.history.findIndex((h) => h.event.revision >= fromRevision);
        let cursor = first === -1 ? this.seq : (this.history[first]?.seq ?? this.seq + 1) - 1;
        let delivering = false;
        // Re-entrant calls (a subscriber that writes) return at once: the running loop reads the
        // history by position, so it delivers what they added, in order.
        const deliver = (): void => {
          if (delivering) return;
          delivering = true;
          try {
            while (!subscriber.closed && this.available) {
              const base = this.history[0]?.seq ?? this.seq + 1;
              if (cursor + 1 < base) {
                subscriber.error(new KvCompactedError(prefix, fromRevision, this.compacted));
                return;
              }
              const entry = this.history[cursor + 1 - base];
              if (entry === undefined) return;
              cursor = entry.seq;
              if (entry.event.key.startsWith(prefix)) subscriber.next(entry.event);
            }
          } finally {
            delivering = false;
          }
        };
        const subscription = this.committed$.subscribe(deliver);
        deliver();
        return subscription;
      });
    });
  }

  private record(event: KvWatchEvent): void {
    this.history.push({ seq: ++this.seq, event });
    if (this.history.length > this.historyLimit) {
      const oldest = this.history[this.history.length - this.historyLimit]?.event.revision ?? this.rev;
      this.compact(oldest);
    }
    this.committed$.next();
  }

  private removeKey(key: string, before: StoredKey, revision: number): void {
    this.keys.delete(key);
    if (before.lease !== undefined) this.leases.get(before.lease)?.keys.delete(key);
    this.record({ type: 'delete', key, revision });
  }

  private expire(id: string): void {
    const lease = this.leases.get(id);
    if (lease === undefined) return;
    this.leases.delete(id);
    lease.timer?.unsubscribe();
    if (lease.keys.size === 0) return;
    const revision = ++this.rev;
    for (const key of [...lease.keys].sort()) {
      const before = this.keys.get(key);
      if (before !== undefined) this.removeKey(key, before, revision);
    }
  }

  /** Checks the lease at its deadline; re-arms when it was renewed meanwhile. */
  private arm(id: string, lease: StoredLease): void {
    const wait = Math.max(0, lease.deadline - this.now());
    lease.timer = unrefTimer(wait, undefined, this.scheduler).subscribe(() => {
      if (this.leases.get(id) !== lease) return;
      if (this.now() >= lease.deadline) this.expire(id);
      else this.arm(id, lease);
    });
  }

  private now(): number {
    return this.scheduler?.now() ?? Date.now();
  }

  private check(operation: KvOperation, key: string | undefined): void {
    if (!this.available) throw new KvUnavailableError(operation, key, { reason: 'the in-memory store is unavailable' });
  }
}

/**
 * Creates a {@link MemoryKv}: one in-process store that several {@link memoryBackend} clients share.
 *
 * @example
 * ```ts
 * const kv = createMemoryKv();
 * const store = await joinSharedStore({ prefix: 'nodes', codec, backend: memoryBackend({ kv }) });
 * ```
 */
export function createMemoryKv(options: MemoryKvOptions = {}): MemoryKv {
  return new MemoryKv(options);
}

function toEntry(key: string, stored: StoredKey): KvEntry {
  return stored.lease === undefined
    ? { key, value: stored.value, modRevision: stored.modRevision }
    : { key, value: stored.value, modRevision: stored.modRevision, lease: stored.lease };
}
