import { numberOption } from '../util/options.js';
import { type Observable, type SchedulerLike, Subject, type Subscription, defer, map, of, takeUntil, throwError } from 'rxjs';
import type { KvBackend, KvCloseOptions, KvConnectionEvent, KvEntry, KvListing, KvPutOptions, KvSessionEvent, KvWatchEvent, KvWriteResult } from './backend.js';
import { KvConflictError, KvLeaseLostError, KvUnavailableError, type KvOperation } from './errors.js';
import { MemoryKv } from './memory-kv.js';
import { unrefTimer } from '../util/unref-timer.js';

/** Options of {@link memoryBackend}. */
export interface MemoryBackendOptions {
  /** The store to join. Default: a new private one (use {@link createMemoryKv} to share one). */
  readonly kv?: MemoryKv;
  /** The session lease's time to live, in ms; it is kept alive every third of it. Default: 15000. */
  readonly leaseTtl?: number;
  /** The scheduler of the keep-alive. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
}

/**
 * A {@link KvBackend} over an in-process {@link MemoryKv}: the embedded default for one process and
 * the backend of tests. It is one client session: its leased keys share a lease it keeps alive;
 * `close()` stops the keep-alive (the keys go when the lease expires) or, with `{ revoke: true }`,
 * deletes them now. A lost lease is reported on `session$`, replaced, and the leased keys written
 * again.
 *
 * @example
 * ```ts
 * const kv = createMemoryKv();
 * const backend = memoryBackend({ kv, leaseTtl: 3000 });
 * const store = await joinSharedStore({ prefix: 'nodes', codec, backend });
 * ```
 */
export function memoryBackend(options: MemoryBackendOptions = {}): MemoryBackend {
  return new MemoryBackend(options.kv ?? new MemoryKv(), options);
}

/**
 * The backend {@link memoryBackend} returns: a {@link KvBackend} with its store and its current
 * lease at hand, for tests.
 *
 * @example
 * ```ts
 * const backend = memoryBackend({ leaseTtl: 1000 });
 * await lastValueFrom(backend.put('k', 'v', { lease: true }));
 * backend.kv.setAvailable(false); // an outage: keep-alives fail, the lease expires
 * ```
 */
export class MemoryBackend implements KvBackend {
  readonly kind = 'memory';
  /** The in-process store this backend is a client of. */
  readonly kv: MemoryKv;
  readonly session$: Observable<KvSessionEvent>;
  /** The store's availability as a connection: `disconnected` at `kv.setAvailable(false)`, `connected` at `setAvailable(true)`. */
  readonly connection$: Observable<KvConnectionEvent>;
  private readonly sessionEvents$ = new Subject<KvSessionEvent>();
  private readonly closed$ = new Subject<void>();
  private readonly ttl: number;
  private readonly scheduler: SchedulerLike | undefined;
  /** The keys written with the session lease, to write again under a new one. */
  private readonly leased = new Map<string, string>();
  private lease: string | undefined;
  private keepAlive: Subscription | undefined;
  private closed = false;

  constructor(kv: MemoryKv, options: MemoryBackendOptions) {
    this.kv = kv;
    this.ttl = numberOption('leaseTtl', options.leaseTtl, 15_000, { unit: 'ms' });
    this.scheduler = options.scheduler;
    this.session$ = this.sessionEvents$.asObservable();
    this.connection$ = kv.availability$.pipe(
      map((available): KvConnectionEvent =>
        available ? { type: 'connected' } : { type: 'disconnected', error: new KvUnavailableError('watch', undefined, { reason: 'the in-memory store is unavailable' }) },
      ),
      takeUntil(this.closed$),
    );
  }

  /** The current session lease, if one was granted. */
  get currentLease(): string | undefined {
    return this.lease;
  }

  get(key: string): Observable<KvEntry | undefined> {
    return this.call('get', key, () => this.kv.get(key));
  }

  list(prefix: string): Observable<KvListing> {
    return this.call('list', prefix, () => this.kv.list(prefix));
  }

  put(key: string, value: string, options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('put', key, () => ({ revision: this.write(key, value, options), changed: true }));
  }

  putIfDifferent(key: string, value: string, options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('putIfDifferent', key, () => {
      const current = this.kv.get(key);
      const lease = options.lease === true ? this.ensureLease() : undefined;
      if (current?.value === value && current.lease === lease) {
        if (lease !== undefined) this.leased.set(key, value);
        return { revision: this.kv.revision, changed: false };
      }
      return { revision: this.write(key, value, options), changed: true };
    });
  }

  compareAndPut(key: string, value: string, expectedModRevision: number, options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('compareAndPut', key, () => {
      const actual = this.kv.get(key)?.modRevision;
      if ((actual ?? 0) !== expectedModRevision) throw new KvConflictError(key, expectedModRevision, actual);
      return { revision: this.write(key, value, options), changed: true };
    });
  }

  delete(key: string): Observable<KvWriteResult> {
    return this.call('delete', key, () => {
      this.leased.delete(key);
      const revision = this.kv.delete(key);
      return revision === undefined ? { revision: this.kv.revision, changed: false } : { revision, changed: true };
    });
  }

  watch(prefix: string, fromRevision: number): Observable<KvWatchEvent> {
    return defer(() => (this.closed ? throwError(() => this.closedError('watch', prefix)) : this.kv.watch(prefix, fromRevision)));
  }

  close(options: KvCloseOptions = {}): Observable<void> {
    return defer(() => {
      if (this.closed) return of(undefined);
      this.closed = true;
      this.keepAlive?.unsubscribe();
      this.keepAlive = undefined;
      const lease = this.lease;
      this.lease = undefined;
      this.sessionEvents$.complete();
      this.closed$.next();
      this.closed$.complete();
      if (options.revoke === true && lease !== undefined) {
        try {
          this.kv.revoke(lease);
        } catch (error: unknown) {
          return throwError(() => new KvUnavailableError('close', undefined, { cause: error }));
        }
      }
      return of(undefined);
    });
  }

  private write(key: string, value: string, options: KvPutOptions): number {
    if (options.lease !== true) {
      this.leased.delete(key);
      return this.kv.put(key, value, undefined);
    }
    const revision = this.kv.put(key, value, this.ensureLease());
    this.leased.set(key, value);
    return revision;
  }

  /** The session lease, granted (and kept alive) on first use. */
  private ensureLease(): string {
    if (this.lease !== undefined) return this.lease;
    const lease = this.kv.grant(this.ttl);
    this.lease = lease;
    this.sessionEvents$.next({ type: 'granted', lease });
    this.keepAlive ??= unrefTimer(this.ttl / 3, this.ttl / 3, this.scheduler).subscribe(() => {
      this.renew();
    });
    return lease;
  }

  private renew(): void {
    const lease = this.lease;
    if (lease !== undefined) {
      let alive: boolean;
      try {
        alive = this.kv.keepAlive(lease);
      } catch {
        // Unreachable store: try again at the next tick; the lease may expire meanwhile.
        return;
      }
      if (alive) return;
      this.lease = undefined;
      this.sessionEvents$.next({ type: 'lost', lease, error: new KvLeaseLostError(lease, { cause: 'the lease expired' }) });
    }
    if (this.leased.size === 0) return;
    try {
      const next = this.ensureLease();
      for (const [key, value] of this.leased) this.kv.put(key, value, next);
    } catch {
      // Still unreachable: the next keep-alive tick grants a lease and writes the keys again.
    }
  }

  private call<T>(operation: KvOperation, key: string, run: () => T): Observable<T> {
    return defer(() => {
      if (this.closed) return throwError(() => this.closedError(operation, key));
      return of(run());
    });
  }

  private closedError(operation: KvOperation, key: string): KvUnavailableError {
    return new KvUnavailableError(operation, key, { reason: 'the backend is closed' });
  }
}
