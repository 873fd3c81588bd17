import {
  BehaviorSubject,
  EMPTY,
  type Observable,
  asyncScheduler,
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
  map,
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
import type { KvBackend, KvConnectionEvent } from './backend.js';
import { type CacheChange, type CacheContext, type CacheInput, createCacheState, reduceCache } from './cache-state.js';
import { KvError, KvEncodeError, KvJoinTimeoutError, KvStoreClosedError, KvUnavailableError, describeCause } from './errors.js';
import { type PendingChange, graceDeletes } from './grace-deletes.js';
import { type StoreHealthEffect, type StoreHealthEvent, type StoreHealthState, type SharedStoreHealth, initialStoreHealth, reduceStoreHealth, storeHealthOf } from './store-health.js';
import { type JoinSharedStoreOptions, type SharedStoreConfig, checkSharedStoreOptions } from './shared-store-options.js';
import type { SharedStore, SharedStoreEvent, SharedStoreTelemetry } from './shared-store-contract.js';
import { type QueuedWrite, WriteQueue } from './write-queue.js';
import {
  MAX_RETRY_DELAY,
  type WriterConfig,
  type WriterState,
  initialWriterState,
  isOverloaded,
  nextWriterAction,
  overloadBackoff,
  reduceWriter,
  withinOverloadPatience,
} from './writer-state.js';
import { backoffDelay } from '../util/backoff.js';
import { scheduleAfter, unrefTimer } from '../util/unref-timer.js';



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
  const store = new LiveSharedStore(checkSharedStoreOptions(options));
  store.start();
  try {
    await store.joined();
  } catch (error: unknown) {
    await store.release();
    throw error;
  }
  return store;
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
  retries: number;
  disconnects: number;
  decodeErrors: number;
  watchErrors: number;
}

class LiveSharedStore<K> implements SharedStore<K> {
  readonly prefix: string;
  readonly name: string;
  readonly events$: Observable<SharedStoreEvent<K>>;
  readonly synced$: Observable<boolean>;
  readonly health$: Observable<SharedStoreHealth>;
  readonly errors$: Observable<KvError>;
  private readonly opts: SharedStoreConfig<K>;
  private readonly backend: KvBackend;
  private readonly pathPrefix: string;
  private readonly cache = createCacheState<K>();
  private readonly ctx: CacheContext<K>;
  private readonly local = new Map<string, LocalKey<K>>();
  /** Names whose delete this collaborator asked for: delivered at once. */
  private readonly ownDeletes = new Set<string>();
  /** Names whose delete failed: tried again at each synchronization. */
  private readonly pendingDeletes = new Set<string>();
  /**
   * What consumers have been told, with a delete grace period: the burst of a new `events$`
   * subscriber. Without one, consumers are told every change of the cache as it happens: the
   * burst is the cache, and no copy of it is kept.
   */
  private readonly delivered: Map<string, K> | undefined;
  /** `events$` is over (closed or released): a new subscriber gets no burst, only the completion. */
  private ended = false;
  private readonly changes$ = new Subject<PendingChange<K>>();
  private readonly out$ = new Subject<SharedStoreEvent<K>>();
  private readonly healthState$ = new BehaviorSubject<SharedStoreHealth>({ state: 'joining' });
  /** Local keys whose last write failed: written again by the next retry round. */
  private readonly failedWrites = new Set<string>();
  /** `updateLocalKeySync` writes waiting to be written, one per key (coalesced). */
  private readonly writes = new WriteQueue<K, WriteWaiter>();
  /** The writer's pacing, batches in flight and overload backoff (the state machine of writer-state.ts). */
  private writer: WriterState = initialWriterState;
  private writerConfig: WriterConfig;
  private writeTimer: Subscription | undefined;
  private pumpQueued = false;
  private readonly retryNow$ = new Subject<void>();
  private readonly reconnected$ = new Subject<void>();
  private retryTimer: Subscription | undefined;
  private retryAttempt = 0;
  /** What the health follows (the state machine of store-health.ts); changed only by `transition`. */
  private health: StoreHealthState = initialStoreHealth;
  private readonly reported$ = new Subject<KvError>();
  private readonly repair$ = new Subject<string>();
  private readonly counters: Counters = { lists: 0, syncs: 0, repairs: 0, writeErrors: 0, retries: 0, disconnects: 0, decodeErrors: 0, watchErrors: 0 };
  private subscription: Subscription | undefined;
  private state: 'created' | 'running' | 'closed' = 'created';
  private closing: Promise<void> | undefined;

  constructor(opts: SharedStoreConfig<K>) {
    this.opts = opts;
    this.writerConfig = { maxInFlight: opts.maxInFlight, qps: opts.qps, bootstrapQps: opts.bootstrapQps, retryDelay: opts.retryDelay, joinedAt: 0 };
    this.prefix = opts.prefix;
    this.name = opts.name;
    this.backend = opts.backend;
    this.pathPrefix = `${opts.prefix}/`;
    this.ctx = {
      pathPrefix: this.pathPrefix,
      decode: (value, name) => opts.codec.decode(value, name),
      // One's own key comes back as it was written: no need to decode it again.
      known: (name, value) => {
        const local = this.local.get(name);
        return local?.value === value ? local.key : undefined;
      },
    };
    this.health$ = this.healthState$.asObservable();
    this.synced$ = this.healthState$.pipe(
      map((health) => health.state === 'synced'),
      distinctUntilChanged(),
    );
    this.errors$ = this.reported$.asObservable();
    this.delivered = opts.grace > 0 ? new Map() : undefined;
    this.events$ = defer(() =>
      concat(
        from(
          this.ended
            ? []
            : this.delivered === undefined
              ? Array.from(this.cache.entries.values(), (cached): SharedStoreEvent<K> => ({ type: 'update', name: cached.name, key: cached.key }))
              : Array.from(this.delivered, ([name, key]): SharedStoreEvent<K> => ({ type: 'update', name, key })),
        ),
        this.out$,
      ),
    );
  }

  start(): void {
    this.state = 'running';
    this.writerConfig = { ...this.writerConfig, joinedAt: this.now() };
    // Without a grace period the cache's changes go to consumers as they happen (deliverStep):
    // graceDeletes would pass every change through (the cache already drops puts of the value it
    // holds and deletes of keys it lacks), and what it keeps per key would be a copy of the cache's.
    const delivered = this.delivered;
    const delivery$ =
      delivered === undefined
        ? EMPTY
        : this.changes$.pipe(
            graceDeletes<K>(this.opts.scheduler === undefined ? { grace: this.opts.grace } : { grace: this.opts.grace, scheduler: this.opts.scheduler }),
            tap((change) => {
              if (change.type === 'update') delivered.set(change.name, change.key);
              else delivered.delete(change.name);
              this.emit(change);
            }),
          );
    const sync$ = unrefTimer(this.opts.interval, this.opts.interval, this.opts.scheduler).pipe(exhaustMap(() => this.syncOnce()));
    const repairs$ = this.repair$.pipe(mergeMap((name) => this.repair(name)));
    const retries$ = this.retryNow$.pipe(exhaustMap(() => this.retryFailed()));
    // After an outage: write every local key again (and retry the failed deletes), then say synced.
    const resyncs$ = this.reconnected$.pipe(
      switchMap(() =>
        concat(
          this.syncOnce(true),
          defer(() => {
            this.transition({ type: 'resynced' });
            return EMPTY;
          }),
        ),
      ),
    );
    const connection$ = this.backend.connection$ ?? EMPTY;
    this.subscription = merge(
      delivery$,
      connection$.pipe(
        tap((event) => {
          this.onConnection(event);
        }),
      ),
      this.listAndWatch(),
      sync$,
      repairs$,
      retries$,
      resyncs$,
    ).subscribe();
  }

  /** Resolves when the initial list is in the cache; rejects after `joinTimeout`. */
  joined(): Promise<void> {
    // A caller awaits this answer: its deadline must keep the process alive (an unref'd timer
    // would let Node exit with the join neither resolved nor rejected).
    const timeout$ = timer(this.opts.joinTimeout, this.opts.scheduler ?? asyncScheduler).pipe(
      mergeMap(() => throwError(() => new KvJoinTimeoutError(this.prefix, this.opts.joinTimeout, this.health.lastError === undefined ? undefined : { cause: this.health.lastError }))),
    );
    return firstValueFrom(race(this.healthState$.pipe(filter((health) => health.state === 'synced')), timeout$)).then(() => undefined);
  }

  updateLocalKey(key: K): void {
    this.ensureOpen();
    const [name, value] = this.encode(key);
    this.local.set(name, { key, value });
    this.pendingDeletes.delete(name);
  }

  updateLocalKeySync(key: K): Promise<void> {
    // Not async: one promise per caller, the one its write settles (callers write thousands at
    // once). What the executor throws (a closed store, a key that does not encode) rejects it.
    return new Promise<void>((resolve, reject) => {
      this.ensureOpen();
      const [name, value] = this.encode(key);
      this.writes.enqueue(name, value, key, { resolve, reject });
      this.queuePump();
    });
  }

  updateLocalKeysSync(keys: Iterable<K>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.ensureOpen();
      // Every key encoded before any is queued: one that does not encode rejects, with nothing written.
      const queued = Array.from(keys, (key) => {
        const [name, value] = this.encode(key);
        return { name, value, key };
      });
      if (queued.length === 0) {
        resolve();
        return;
      }
      // One waiter and one waiters array for all the keys (the queue never changes an array it holds).
      const waiters = [countdownWaiter(queued.length, resolve, reject)];
      for (const { name, value, key } of queued) this.writes.enqueueAll(name, value, key, waiters);
      this.queuePump();
    });
  }

  async updateKeySync(key: K): Promise<void> {
    this.ensureOpen();
    const [name, value] = this.encode(key);
    await this.write(name, value, 'put');
  }

  async deleteLocalKey(key: K): Promise<void> {
    this.ensureOpen();
    const [name] = this.encode(key);
    // A write of it still waiting is dropped: the delete is newer (its callers are answered).
    for (const waiter of this.writes.remove(name)?.waiters ?? []) waiter.resolve();
    this.local.delete(name);
    this.ownDeletes.add(name);
    try {
      const result = await lastValueFrom(this.backend.delete(this.path(name)));
      this.pendingDeletes.delete(name);
      if (!result.changed) this.ownDeletes.delete(name);
    } catch (error: unknown) {
      this.pendingDeletes.add(name);
      const kvError = this.writeFailed(name, 'delete', error);
      this.retryLater(undefined);
      throw kvError;
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
    this.retryTimer?.unsubscribe();
    this.retryTimer = undefined;
    this.writeTimer?.unsubscribe();
    this.writeTimer = undefined;
    for (const write of this.writes.drain()) for (const waiter of write.waiters) waiter.reject(new KvStoreClosedError(this.prefix));
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
        const key = this.delivered === undefined ? this.cache.entries.get(name)?.key : this.delivered.get(name);
        if (key === undefined) continue;
        this.delivered?.delete(name);
        this.out$.next({ type: 'delete', name, key });
      }
    }
    this.delivered?.clear();
    this.ended = true;
    this.out$.complete();
    this.health = reduceStoreHealth(this.health, { type: 'closed' }).state;
    this.healthState$.next(storeHealthOf(this.health));
    this.healthState$.complete();
    this.reported$.complete();
    this.changes$.complete();
    this.repair$.complete();
    this.retryNow$.complete();
    this.reconnected$.complete();
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
        this.transition({ type: 'listed' });
        const start = listing.revision + 1;
        const events$: Observable<CacheInput> =
          this.backend.watchBatches === undefined
            ? this.backend.watch(this.pathPrefix, start)
            : this.backend.watchBatches(this.pathPrefix, start).pipe(map((events): CacheInput => ({ type: 'events', events })));
        return events$.pipe(
          tap((event) => {
            // Events flow: whatever the backend said, the connection works.
            if (!this.health.connected) this.onConnection({ type: 'connected' });
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
          const kvError = asKvError(error, 'watch', this.pathPrefix);
          this.transition({ type: 'watchFailed', error: kvError });
          const wait = backoffDelay(attempt, this.opts.retryDelay, MAX_RETRY_DELAY);
          this.report(kvError, 'list or watch failed; listing again', { attempt, delayMs: wait });
          return unrefTimer(wait, undefined, this.opts.scheduler);
        },
      }),
    );
  }

  /** The backend's connection went or came back. */
  private onConnection(event: KvConnectionEvent): void {
    if (this.state !== 'running') return;
    const effect = this.transition(event);
    if (effect === 'reportDisconnect' && event.type === 'disconnected') {
      this.counters.disconnects += 1;
      this.counters.watchErrors += 1;
      this.report(event.error, 'lost the connection to the backend; the watch resumes when it is back', {});
    } else if (effect === 'resync') {
      this.opts.logger.info('the connection to the backend is back; writing the local keys again', { store: this.prefix, collaborator: this.name });
      // The failed writes are written now: no backoff to wait for.
      this.retryTimer?.unsubscribe();
      this.retryTimer = undefined;
      this.retryAttempt = 0;
      this.reconnected$.next();
    }
  }

  /** Feeds the health state machine an event, publishes the health if it changed, and returns the effect to run. */
  private transition(event: StoreHealthEvent): StoreHealthEffect | undefined {
    if (this.state === 'closed') return undefined;
    const step = reduceStoreHealth(this.health, event);
    this.health = step.state;
    const health = storeHealthOf(step.state);
    const current = this.healthState$.value;
    if (current.state !== health.state || current.lastError !== health.lastError) this.healthState$.next(health);
    return step.effect;
  }

  /**
   * Takes note of a failed write of `name` (or, with undefined, of a failed delete, already in
   * `pendingDeletes`) and schedules a retry round after the backoff, unless one is scheduled.
   */
  private retryLater(name: string | undefined): void {
    if (name !== undefined) this.failedWrites.add(name);
    if (this.state !== 'running' || this.retryTimer !== undefined) return;
    this.retryAttempt += 1;
    const wait = backoffDelay(this.retryAttempt, this.opts.retryDelay, MAX_RETRY_DELAY);
    this.retryTimer = scheduleAfter(
      wait,
      () => {
        this.retryTimer = undefined;
        this.retryNow$.next();
      },
      this.opts.scheduler,
    );
  }

  /** Writes the local keys whose write failed, and deletes what failed to delete; a failure schedules the next round. */
  private retryFailed(): Observable<never> {
    return defer(() => {
      const names = [...this.failedWrites].filter((name) => this.local.has(name));
      this.failedWrites.clear();
      const deletes = [...this.pendingDeletes];
      this.counters.retries += names.length + deletes.length;
      const work = [...names.map((name) => this.repair(name)), ...deletes.map((name) => this.retryDelete(name))];
      return concat(
        from(work).pipe(mergeMap((write$) => write$, this.opts.concurrency)),
        defer(() => {
          if (this.failedWrites.size === 0 && this.pendingDeletes.size === 0) this.retryAttempt = 0;
          return EMPTY;
        }),
      );
    });
  }

  private apply(input: CacheInput): void {
    let immediate: Set<string> | undefined;
    if (this.ownDeletes.size > 0 && input.type !== 'listed') {
      for (const event of input.type === 'events' ? input.events : [input]) {
        if (event.type !== 'delete') continue;
        const name = event.key.slice(this.pathPrefix.length);
        if (this.ownDeletes.delete(name)) (immediate ??= new Set()).add(name);
      }
    }
    this.deliverStep(input, immediate);
  }

  private deliverStep(input: CacheInput, immediate: ReadonlySet<string> | undefined): void {
    const step = reduceCache(this.cache, input, this.ctx);
    for (const error of step.rejected) {
      this.counters.decodeErrors += 1;
      this.report(error, 'skipped a key that does not decode', { key: error.key });
    }
    const graced = this.delivered !== undefined;
    for (const change of step.changes) {
      if (change.type === 'delete') {
        if (immediate?.has(change.name) === true) {
          if (graced) this.changes$.next({ ...change, immediate: true });
          else this.emit(change);
          continue;
        }
        // A local key deleted by someone else (or lost with a lease) is written back now.
        if (this.local.has(change.name) && this.state === 'running') this.repair$.next(change.name);
      }
      if (graced) this.changes$.next(change);
      else this.emit(change);
    }
  }

  /** Tells `events$` subscribers of a change (no event object for nobody: a store of many keys often has no subscriber). */
  private emit(change: CacheChange<K>): void {
    if (this.out$.observed) this.out$.next({ type: change.type, name: change.name, key: change.key });
  }

  /**
   * Writes every local key that differs or lost its lease, and retries failed deletes. After an
   * outage (`resync`), the failed writes and deletes it tries again count as retries.
   */
  private syncOnce(resync = false): Observable<never> {
    return defer(() => {
      this.counters.syncs += 1;
      if (resync) this.counters.retries += [...this.failedWrites].filter((name) => this.local.has(name)).length + this.pendingDeletes.size;
      this.failedWrites.clear();
      const writes = Array.from(this.local.keys(), (name) => this.repair(name));
      const deletes = Array.from(this.pendingDeletes, (name) => this.retryDelete(name));
      return from([...writes, ...deletes]).pipe(mergeMap((write$) => write$, this.opts.concurrency));
    });
  }

  /** Deletes a key whose delete failed; a failure keeps it pending and schedules a retry. */
  private retryDelete(name: string): Observable<never> {
    return this.backend.delete(this.path(name)).pipe(
      tap(() => this.pendingDeletes.delete(name)),
      ignoreElements(),
      catchError((error: unknown) => {
        this.writeFailed(name, 'delete', error);
        this.retryLater(undefined);
        return EMPTY;
      }),
    );
  }

  /** Writes a local key again if the store holds another value or lease for it. */
  private repair(name: string): Observable<never> {
    return defer(() => {
      const local = this.local.get(name);
      if (local === undefined || this.state !== 'running') return EMPTY;
      return this.backend.putIfDifferent(this.path(name), local.value, { lease: true }).pipe(
        tap((result) => {
          if (result.changed) this.counters.repairs += 1;
          this.failedWrites.delete(name);
        }),
        ignoreElements(),
        catchError((error: unknown) => {
          this.writeFailed(name, 'putIfDifferent', error);
          this.retryLater(name);
          return EMPTY;
        }),
      );
    });
  }

  /** Runs the writer soon (once for every call made in the same tick: they share batches). */
  private queuePump(): void {
    if (this.pumpQueued) return;
    this.pumpQueued = true;
    queueMicrotask(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /**
   * Starts batches of queued writes while fewer than `maxWritesInFlight` are under way, at most
   * `writeQps` a second (`bootstrapWriteQps` in the first minute), after a backoff when etcd
   * said it was overloaded.
   */
  private pump(): void {
    while (this.state === 'running' && this.writes.size > 0 && this.writeTimer === undefined) {
      const now = this.now();
      const action = nextWriterAction(this.writer, now, this.writerConfig);
      if (action.type === 'full') return;
      if (action.type === 'wait') {
        this.writeTimer = scheduleAfter(
          action.delay,
          () => {
            this.writeTimer = undefined;
            this.pump();
          },
          this.opts.scheduler,
        );
        return;
      }
      this.writer = reduceWriter(this.writer, { type: 'started', now }, this.writerConfig);
      const batch = this.writes.take(this.opts.batchSize);
      void this.writeBatch(batch).finally(() => {
        this.writer = reduceWriter(this.writer, { type: 'settled' }, this.writerConfig);
        this.pump();
      });
    }
  }

  /** Writes a batch on the session lease; on success its keys become local keys. */
  private async writeBatch(batch: readonly QueuedWrite<K, WriteWaiter>[]): Promise<void> {
    const entries = batch.map((write) => ({ key: this.path(write.name), value: write.value }));
    const putMany = this.backend.putMany?.bind(this.backend);
    const write$ =
      putMany === undefined
        ? from(entries).pipe(mergeMap(({ key, value }) => this.backend.put(key, value, { lease: true }), this.opts.concurrency))
        : putMany(entries, { lease: true });
    try {
      await lastValueFrom(write$, { defaultValue: undefined });
    } catch (error: unknown) {
      const kvError = asKvError(error, 'put', entries[0]?.key ?? this.pathPrefix);
      const now = this.now();
      if (isOverloaded(kvError)) {
        this.writer = reduceWriter(this.writer, { type: 'overloaded', now }, this.writerConfig);
        if (this.state === 'running' && withinOverloadPatience(this.writer, now)) {
          // etcd is slow (busy, electing a leader), not gone: the writes wait and go again, after a backoff.
          this.counters.retries += batch.length;
          const wait = overloadBackoff(this.writer.overloads, this.writerConfig);
          this.opts.logger.debug('etcd is overloaded; writing again after a backoff', { store: this.prefix, keys: batch.length, delayMs: wait, error: describeCause(kvError) });
          this.writes.requeue(batch);
          return;
        }
      }
      this.counters.writeErrors += batch.length;
      this.report(kvError, batch.length === 1 ? 'put of a key failed' : `put of ${batch.length} keys failed`, { key: entries[0]?.key });
      for (const write of batch) {
        // Not a local key (yet): if the caller takes it as one (`updateLocalKey`), the retry writes it.
        this.retryLater(write.name);
        for (const waiter of write.waiters) waiter.reject(kvError);
      }
      return;
    }
    this.writer = reduceWriter(this.writer, { type: 'succeeded' }, this.writerConfig);
    for (const write of batch) {
      if (this.state === 'running') {
        this.local.set(write.name, { key: write.data, value: write.value });
        // Both are empty but after failures: no lookup per key written.
        if (this.pendingDeletes.size > 0) this.pendingDeletes.delete(write.name);
        if (this.failedWrites.size > 0) this.failedWrites.delete(write.name);
      }
      for (const waiter of write.waiters) {
        if (this.state === 'running') waiter.resolve();
        else waiter.reject(new KvStoreClosedError(this.prefix));
      }
    }
  }

  private now(): number {
    return this.opts.scheduler?.now() ?? Date.now();
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

/** Who waits for a queued write. */
interface WriteWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** A waiter for `count` writes: resolves after the last one, rejects at the first failure. */
function countdownWaiter(count: number, resolve: () => void, reject: (error: unknown) => void): WriteWaiter {
  let remaining = count;
  let settled = false;
  return {
    resolve: () => {
      remaining -= 1;
      if (remaining === 0 && !settled) {
        settled = true;
        resolve();
      }
    },
    reject: (error: unknown) => {
      if (settled) return;
      settled = true;
      reject(error);
    },
  };
}


function asKvError(error: unknown, operation: 'put' | 'putIfDifferent' | 'delete' | 'watch', key: string): KvError {
  if (error instanceof KvError) return error;
  return new KvUnavailableError(operation, key, { cause: error });
}

