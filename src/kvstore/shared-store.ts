import { hostname } from 'node:os';
import {
  BehaviorSubject,
  EMPTY,
  type Observable,
  asyncScheduler,
  type SchedulerLike,
  Subject,
  type Subscription,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  exhaustMap,
  filter,
  firstValueFrom,
  from,
  ignoreElements,
  lastValueFrom,
  merge,
  mergeMap,
  race,
  retry,
  startWith,
  switchMap,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { consoleLogger, type Logger } from '../util/logger.js';
import type { KvBackend } from './backend.js';
import { type CacheContext, type CacheInput, createCacheState, reduceCache } from './cache-state.js';
import type { KeyCodec } from './codec.js';
import { defaultMemoryBackend } from './default-backend.js';
import { KvError, KvConfigError, KvEncodeError, KvJoinTimeoutError, KvStoreClosedError, KvUnavailableError, describeCause } from './errors.js';
import { type PendingChange, graceDeletes } from './grace-deletes.js';
import { unrefTimer } from '../util/unref-timer.js';

/** Options of {@link joinSharedStore}. Every duration is in milliseconds. */
export interface JoinSharedStoreOptions<K> {
  /** The store's key prefix: collaborators with the same prefix on the same backend share the store. Required. */
  readonly prefix: string;
  /** How keys are named, encoded and decoded. Required. */
  readonly codec: KeyCodec<K>;
  /**
   * The backend. Default: a client of the process-wide in-memory store, closed with the store.
   * A backend given here is not closed by the store: close it after `close()` or `release()`.
   */
  readonly backend?: KvBackend;
  /** How often the local keys are written again where they differ or lost their lease. Default: 300000 (5 min). */
  readonly synchronizationInterval?: number;
  /** This collaborator's name, for logs. Default: `<hostname>-<pid>`. */
  readonly name?: string;
  /** How long a remote key's delete waits for the key to come back before it is delivered. Default: 5000. */
  readonly deleteGracePeriod?: number;
  /** How long the initial list may take before the join rejects with `KvJoinTimeoutError`. Default: 60000. */
  readonly joinTimeout?: number;
  /** The first delay before a failed list or watch is tried again; it doubles up to 30 s. Default: 500. */
  readonly retryDelay?: number;
  /** How many writes a synchronization runs at once. Default: 16. */
  readonly writeConcurrency?: number;
  /** The scheduler of every timer. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
  /** Where errors are reported. Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
}

/** A key appearing or changing (`update`) or going (`delete`), one's own keys included. */
export interface SharedStoreEvent<K> {
  readonly type: 'update' | 'delete';
  /** The key's name below the prefix. */
  readonly name: string;
  /** The key (for a delete, its last value). */
  readonly key: K;
}

/** Counters of a shared store. */
export interface SharedStoreTelemetry {
  /** Keys in the cache (every collaborator's). */
  readonly sharedKeys: number;
  /** Keys this collaborator owns. */
  readonly localKeys: number;
  /** Lists of the prefix (the first, and one after each failed watch). */
  readonly lists: number;
  /** Synchronizations run. */
  readonly syncs: number;
  /** Local keys written again because they differed, were deleted or lost their lease. */
  readonly repairs: number;
  /** Writes and deletes that failed (and are retried at the next synchronization). */
  readonly writeErrors: number;
  /** Values that did not decode and were skipped. */
  readonly decodeErrors: number;
  /** Failed lists and watches. */
  readonly watchErrors: number;
}

/**
 * A shared store joined with {@link joinSharedStore}: a cache of every collaborator's keys under a
 * prefix, kept current by a watch, and the keys this collaborator owns, kept written.
 *
 * @example
 * ```ts
 * const store = await joinSharedStore({ prefix: 'nodes', codec, backend });
 * await store.updateLocalKeySync({ name: 'node-a', ip: '10.0.0.1' });
 * store.events$.subscribe((e) => console.log(e.type, e.name));
 * console.log(store.sharedKeys());
 * await store.close();
 * ```
 */
export interface SharedStore<K> {
  /** The prefix, without a trailing '/'. */
  readonly prefix: string;
  /** This collaborator's name. */
  readonly name: string;
  /** Takes `key` as a local key, to be written at the next synchronization. */
  updateLocalKey(key: K): void;
  /** Writes `key` now, bound to the session lease; it becomes a local key only if the write succeeded. */
  updateLocalKeySync(key: K): Promise<void>;
  /** Writes `key` now, bound to the session lease, without taking it as a local key. */
  updateKeySync(key: K): Promise<void>;
  /**
   * Stops owning `key` and deletes it; its delete is delivered at once. If the delete fails, the
   * promise rejects and the delete is tried again at each synchronization until it succeeds.
   */
  deleteLocalKey(key: K): Promise<void>;
  /** A copy of the cache: every collaborator's keys, by name. */
  sharedKeys(): Map<string, K>;
  /** A copy of the keys this collaborator owns, by name. */
  localKeys(): Map<string, K>;
  /**
   * First an `update` for every key delivered so far, then every change: updates at once, remote
   * deletes after the grace period (and not at all if the key comes back in it). Completes at
   * `close()` / `release()`.
   */
  readonly events$: Observable<SharedStoreEvent<K>>;
  /**
   * True when the cache holds a complete list of the prefix and the watch is running; false
   * before the initial list and while listing again after a failed watch. Current value first.
   */
  readonly synced$: Observable<boolean>;
  /** Errors reported and recovered from: values that do not decode, failed writes, failed watches. */
  readonly errors$: Observable<KvError>;
  /** Runs a synchronization now (as the interval does) and resolves when it is done. */
  sync(): Promise<void>;
  /** A snapshot of the counters. */
  telemetry(): SharedStoreTelemetry;
  /** Stops, deletes the keys this collaborator owns and delivers their deletes. Idempotent. */
  close(): Promise<void>;
  /** Stops and leaves the keys in place: they go when the backend's session lease ends. Idempotent. */
  release(): Promise<void>;
}

const MAX_RETRY_DELAY = 30_000;

/**
 * Joins the shared store named by `prefix` on `backend`: lists the prefix and resolves once that
 * list is in the cache, then keeps the cache current with a watch and the local keys written.
 * Rejects with `KvConfigError` for a bad configuration and with `KvJoinTimeoutError` when the
 * backend cannot list the prefix within `joinTimeout`.
 *
 * @example
 * ```ts
 * const store = await joinSharedStore({
 *   prefix: 'cilium/state/nodes/v1',
 *   codec: jsonCodec<NodeInfo>({ keyName: (n) => n.name, parse: parseNodeInfo }),
 *   backend: etcdBackend({ hosts: 'http://127.0.0.1:2379' }),
 *   synchronizationInterval: 60_000,
 * });
 * ```
 */
export async function joinSharedStore<K>(options: JoinSharedStoreOptions<K>): Promise<SharedStore<K>> {
  const store = new LiveSharedStore(checkOptions(options));
  store.start();
  try {
    await store.joined();
  } catch (error: unknown) {
    await store.release();
    throw error;
  }
  return store;
}

interface CheckedOptions<K> {
  readonly prefix: string;
  readonly codec: KeyCodec<K>;
  readonly backend: KvBackend;
  readonly ownsBackend: boolean;
  readonly interval: number;
  readonly name: string;
  readonly grace: number;
  readonly joinTimeout: number;
  readonly retryDelay: number;
  readonly concurrency: number;
  readonly scheduler: SchedulerLike | undefined;
  readonly logger: Logger;
}

function checkOptions<K>(options: JoinSharedStoreOptions<K>): CheckedOptions<K> {
  const given = options as Partial<JoinSharedStoreOptions<K>> | undefined;
  if (given === undefined || typeof given !== 'object') throw new KvConfigError('options', 'are required');
  const rawPrefix: unknown = given.prefix;
  if (typeof rawPrefix !== 'string' || rawPrefix.replace(/\/+$/, '') === '') throw new KvConfigError('prefix', 'is required (a non-empty string)');
  const codec = given.codec as Partial<KeyCodec<K>> | undefined;
  if (codec === undefined || typeof codec !== 'object') throw new KvConfigError('codec', 'is required');
  for (const method of ['keyName', 'encode', 'decode'] as const) {
    if (typeof codec[method] !== 'function') throw new KvConfigError(`codec.${method}`, 'must be a function');
  }
  const backend = given.backend;
  return {
    prefix: rawPrefix.replace(/\/+$/, ''),
    codec: codec as KeyCodec<K>,
    backend: backend ?? defaultMemoryBackend(options.scheduler),
    ownsBackend: backend === undefined,
    interval: duration(given.synchronizationInterval, 300_000, 'synchronizationInterval', false),
    name: given.name ?? `${hostname()}-${process.pid}`,
    grace: duration(given.deleteGracePeriod, 5000, 'deleteGracePeriod', true),
    joinTimeout: duration(given.joinTimeout, 60_000, 'joinTimeout', false),
    retryDelay: duration(given.retryDelay, 500, 'retryDelay', false),
    concurrency: duration(given.writeConcurrency, 16, 'writeConcurrency', false),
    scheduler: given.scheduler,
    logger: given.logger ?? consoleLogger('warn'),
  };
}

function duration(value: number | undefined, fallback: number, field: string, zeroOk: boolean): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (!zeroOk && value === 0)) {
    throw new KvConfigError(field, `must be a ${zeroOk ? 'non-negative' : 'positive'} number, got ${String(value)}`);
  }
  return value;
}

interface LocalKey<K> {
  readonly key: K;
  readonly value: string;
}

interface Counters {
  lists: number;
  syncs: number;
  repairs: number;
  writeErrors: number;
  decodeErrors: number;
  watchErrors: number;
}

class LiveSharedStore<K> implements SharedStore<K> {
  readonly prefix: string;
  readonly name: string;
  readonly events$: Observable<SharedStoreEvent<K>>;
  readonly synced$: Observable<boolean>;
  readonly errors$: Observable<KvError>;
  private readonly opts: CheckedOptions<K>;
  private readonly backend: KvBackend;
  private readonly pathPrefix: string;
  private readonly cache = createCacheState<K>();
  private readonly ctx: CacheContext<K>;
  private readonly local = new Map<string, LocalKey<K>>();
  /** Names whose delete this collaborator asked for: delivered at once. */
  private readonly ownDeletes = new Set<string>();
  /** Names whose delete failed: tried again at each synchronization. */
  private readonly pendingDeletes = new Set<string>();
  /** What consumers have been told: the burst of a new `events$` subscriber. */
  private readonly delivered = new Map<string, K>();
  private readonly changes$ = new Subject<PendingChange<K>>();
  private readonly out$ = new Subject<SharedStoreEvent<K>>();
  private readonly syncedState$ = new BehaviorSubject(false);
  private readonly reported$ = new Subject<KvError>();
  private readonly repair$ = new Subject<string>();
  private readonly counters: Counters = { lists: 0, syncs: 0, repairs: 0, writeErrors: 0, decodeErrors: 0, watchErrors: 0 };
  private subscription: Subscription | undefined;
  private lastError: unknown;
  private state: 'created' | 'running' | 'closed' = 'created';
  private closing: Promise<void> | undefined;

  constructor(opts: CheckedOptions<K>) {
    this.opts = opts;
    this.prefix = opts.prefix;
    this.name = opts.name;
    this.backend = opts.backend;
    this.pathPrefix = `${opts.prefix}/`;
    this.ctx = { pathPrefix: this.pathPrefix, decode: (value, name) => opts.codec.decode(value, name) };
    this.synced$ = this.syncedState$.pipe(distinctUntilChanged());
    this.errors$ = this.reported$.asObservable();
    this.events$ = defer(() =>
      concat(
        from(Array.from(this.delivered, ([name, key]): SharedStoreEvent<K> => ({ type: 'update', name, key }))),
        this.out$,
      ),
    );
  }

  start(): void {
    this.state = 'running';
    const delivery$ = this.changes$.pipe(
      graceDeletes<K>(this.opts.scheduler === undefined ? { grace: this.opts.grace } : { grace: this.opts.grace, scheduler: this.opts.scheduler }),
      tap((change) => {
        if (change.type === 'update') this.delivered.set(change.name, change.key);
        else this.delivered.delete(change.name);
        this.out$.next({ type: change.type, name: change.name, key: change.key });
      }),
    );
    const sync$ = unrefTimer(this.opts.interval, this.opts.interval, this.opts.scheduler).pipe(exhaustMap(() => this.syncOnce()));
    const repairs$ = this.repair$.pipe(mergeMap((name) => this.repair(name)));
    this.subscription = merge(delivery$, this.listAndWatch(), sync$, repairs$).subscribe();
  }

  /** Resolves when the initial list is in the cache; rejects after `joinTimeout`. */
  joined(): Promise<void> {
    // A caller awaits this answer: its deadline must keep the process alive (an unref'd timer
    // would let Node exit with the join neither resolved nor rejected).
    const timeout$ = timer(this.opts.joinTimeout, this.opts.scheduler ?? asyncScheduler).pipe(
      mergeMap(() => throwError(() => new KvJoinTimeoutError(this.prefix, this.opts.joinTimeout, this.lastError === undefined ? undefined : { cause: this.lastError }))),
    );
    return firstValueFrom(race(this.syncedState$.pipe(filter(Boolean)), timeout$)).then(() => undefined);
  }

  updateLocalKey(key: K): void {
    this.ensureOpen();
    const [name, value] = this.encode(key);
    this.local.set(name, { key, value });
    this.pendingDeletes.delete(name);
  }

  async updateLocalKeySync(key: K): Promise<void> {
    this.ensureOpen();
    const [name, value] = this.encode(key);
    await this.write(name, value, 'put');
    this.ensureOpen();
    this.local.set(name, { key, value });
    this.pendingDeletes.delete(name);
  }

  async updateKeySync(key: K): Promise<void> {
    this.ensureOpen();
    const [name, value] = this.encode(key);
    await this.write(name, value, 'put');
  }

  async deleteLocalKey(key: K): Promise<void> {
    this.ensureOpen();
    const [name] = this.encode(key);
    this.local.delete(name);
    this.ownDeletes.add(name);
    try {
      const result = await lastValueFrom(this.backend.delete(this.path(name)));
      this.pendingDeletes.delete(name);
      if (!result.changed) this.ownDeletes.delete(name);
    } catch (error: unknown) {
      this.pendingDeletes.add(name);
      throw this.writeFailed(name, 'delete', error);
    }
  }

  sharedKeys(): Map<string, K> {
    return new Map(Array.from(this.cache.entries, ([name, cached]) => [name, cached.key]));
  }

  localKeys(): Map<string, K> {
    return new Map(Array.from(this.local, ([name, local]) => [name, local.key]));
  }

  async sync(): Promise<void> {
    this.ensureOpen();
    await lastValueFrom(this.syncOnce(), { defaultValue: undefined });
  }

  telemetry(): SharedStoreTelemetry {
    return { ...this.counters, sharedKeys: this.cache.entries.size, localKeys: this.local.size };
  }

  close(): Promise<void> {
    this.closing ??= this.stop(true);
    return this.closing;
  }

  release(): Promise<void> {
    this.closing ??= this.stop(false);
    return this.closing;
  }

  private async stop(deleteKeys: boolean): Promise<void> {
    this.state = 'closed';
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    const names = [...this.local.keys()];
    this.local.clear();
    if (deleteKeys) {
      const deleted = from(names).pipe(
        mergeMap(
          (name) =>
            this.backend.delete(this.path(name)).pipe(
              catchError((error: unknown) => {
                this.writeFailed(name, 'delete', error);
                return EMPTY;
              }),
            ),
          this.opts.concurrency,
        ),
      );
      await lastValueFrom(deleted, { defaultValue: undefined });
      for (const name of names) {
        const key = this.delivered.get(name);
        if (key === undefined) continue;
        this.delivered.delete(name);
        this.out$.next({ type: 'delete', name, key });
      }
    }
    this.delivered.clear();
    this.out$.complete();
    this.syncedState$.next(false);
    this.syncedState$.complete();
    this.reported$.complete();
    this.changes$.complete();
    this.repair$.complete();
    if (this.opts.ownsBackend) {
      await lastValueFrom(this.backend.close(deleteKeys ? { revoke: true } : {}), { defaultValue: undefined }).catch((error: unknown) => {
        this.opts.logger.warn('closing the kvstore backend failed', { prefix: this.prefix, error: describeCause(error) });
      });
    }
  }

  /** List, then watch from the list's revision; on any failure list again (after a backoff). */
  private listAndWatch(): Observable<unknown> {
    return defer(() => this.backend.list(this.pathPrefix)).pipe(
      switchMap((listing) => {
        this.counters.lists += 1;
        this.apply({ type: 'listed', listing });
        this.syncedState$.next(true);
        return this.backend.watch(this.pathPrefix, listing.revision + 1).pipe(
          tap((event) => {
            this.apply(event);
          }),
          ignoreElements(),
          startWith(listing.revision),
        );
      }),
      retry({
        resetOnSuccess: true,
        delay: (error: unknown, attempt: number) => {
          this.counters.watchErrors += 1;
          this.lastError = error;
          this.syncedState$.next(false);
          const wait = Math.min(this.opts.retryDelay * 2 ** (attempt - 1), MAX_RETRY_DELAY);
          this.report(asKvError(error, 'watch', this.pathPrefix), 'list or watch failed; listing again', { attempt, delayMs: wait });
          return unrefTimer(wait, undefined, this.opts.scheduler);
        },
      }),
    );
  }

  private apply(input: CacheInput): void {
    if (input.type === 'delete') {
      const name = input.key.slice(this.pathPrefix.length);
      if (this.ownDeletes.delete(name)) {
        this.deliverStep(input, new Set([name]));
        return;
      }
    }
    this.deliverStep(input, undefined);
  }

  private deliverStep(input: CacheInput, immediate: ReadonlySet<string> | undefined): void {
    const step = reduceCache(this.cache, input, this.ctx);
    for (const error of step.rejected) {
      this.counters.decodeErrors += 1;
      this.report(error, 'skipped a key that does not decode', { key: error.key });
    }
    for (const change of step.changes) {
      if (change.type === 'delete' && immediate?.has(change.name) === true) {
        this.changes$.next({ ...change, immediate: true });
        continue;
      }
      // A local key deleted by someone else (or lost with a lease) is written back now.
      if (change.type === 'delete' && this.local.has(change.name) && this.state === 'running') this.repair$.next(change.name);
      this.changes$.next(change);
    }
  }

  /** Writes every local key that differs or lost its lease, and retries failed deletes. */
  private syncOnce(): Observable<never> {
    return defer(() => {
      this.counters.syncs += 1;
      const writes = Array.from(this.local.keys(), (name) => this.repair(name));
      const deletes = Array.from(this.pendingDeletes, (name) =>
        this.backend.delete(this.path(name)).pipe(
          tap(() => this.pendingDeletes.delete(name)),
          ignoreElements(),
          catchError((error: unknown) => {
            this.writeFailed(name, 'delete', error);
            return EMPTY;
          }),
        ),
      );
      return from([...writes, ...deletes]).pipe(mergeMap((write$) => write$, this.opts.concurrency));
    });
  }

  /** Writes a local key again if the store holds another value or lease for it. */
  private repair(name: string): Observable<never> {
    return defer(() => {
      const local = this.local.get(name);
      if (local === undefined || this.state !== 'running') return EMPTY;
      return this.backend.putIfDifferent(this.path(name), local.value, { lease: true }).pipe(
        tap((result) => {
          if (result.changed) this.counters.repairs += 1;
        }),
        ignoreElements(),
        catchError((error: unknown) => {
          this.writeFailed(name, 'putIfDifferent', error);
          return EMPTY;
        }),
      );
    });
  }

  private async write(name: string, value: string, operation: 'put'): Promise<void> {
    try {
      await lastValueFrom(this.backend.put(this.path(name), value, { lease: true }));
    } catch (error: unknown) {
      throw this.writeFailed(name, operation, error);
    }
  }

  private writeFailed(name: string, operation: 'put' | 'putIfDifferent' | 'delete', error: unknown): KvError {
    this.counters.writeErrors += 1;
    const kvError = asKvError(error, operation, this.path(name));
    this.report(kvError, `${operation} of a key failed`, { key: this.path(name) });
    return kvError;
  }

  private report(error: KvError, message: string, fields: Record<string, unknown>): void {
    this.opts.logger.warn(message, { store: this.prefix, collaborator: this.name, ...fields, error: describeCause(error) });
    if (!this.reported$.closed) this.reported$.next(error);
  }

  private encode(key: K): [string, string] {
    let name: string;
    let value: string;
    try {
      name = this.opts.codec.keyName(key);
      value = this.opts.codec.encode(key);
    } catch (error: unknown) {
      throw new KvEncodeError(this.prefix, { cause: error });
    }
    if (typeof name !== 'string' || name === '') throw new KvEncodeError(this.prefix, { cause: `key name must be a non-empty string, got ${JSON.stringify(name)}` });
    if (typeof value !== 'string') throw new KvEncodeError(this.prefix, { cause: `encode must return a string, got ${typeof value}` });
    return [name, value];
  }

  private path(name: string): string {
    return `${this.pathPrefix}${name}`;
  }

  private ensureOpen(): void {
    if (this.state === 'closed') throw new KvStoreClosedError(this.prefix);
  }
}

function asKvError(error: unknown, operation: 'put' | 'putIfDifferent' | 'delete' | 'watch', key: string): KvError {
  if (error instanceof KvError) return error;
  return new KvUnavailableError(operation, key, { cause: error });
}

