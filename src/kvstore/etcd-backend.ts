import { ConsecutiveBreaker, circuitBreaker, handleWhen } from 'cockatiel';
import { Etcd3, EtcdLeaseInvalidError, EtcdWatchStreamEnded, type IEvent, type IOptions, type Lease, isRecoverableError } from 'etcd3';
import { EMPTY, Observable, type SchedulerLike, Subject, defer, exhaustMap, ignoreElements, merge, share, takeUntil } from 'rxjs';
import { silentLogger, type Logger } from '../util/logger.js';
import { unrefTimer } from '../util/unref-timer.js';
import { backoffDelay } from '../util/backoff.js';
import { numberOption } from '../util/options.js';
import type { KvBackend, KvCloseOptions, KvConnectionEvent, KvEntry, KvKeyValue, KvListing, KvPutOptions, KvSessionEvent, KvWatchEvent, KvWriteResult } from './backend.js';
import { KvCompactedError, KvConflictError, KvEpochError, KvLeaseLostError, KvUnavailableError, type KvOperation, describeCause } from './errors.js';

/** Options of {@link etcdBackend}. Durations are in milliseconds. */
export interface EtcdBackendOptions {
  /** The etcd endpoints, e.g. `'http://127.0.0.1:2379'`. Required unless `client` is given. */
  readonly hosts?: string | readonly string[];
  /** An etcd3 client to use instead of making one; it is not closed by `close()`. */
  readonly client?: Etcd3;
  /** The session lease's time to live; rounded up to whole seconds (etcd's unit), at least 1 s. Default: 15000. */
  readonly leaseTtl?: number;
  /** The longest a unary call (get, list, put, delete, txn, lease grant) may take. Default: 5000. */
  readonly callTimeout?: number;
  /**
   * The most puts in one transaction (`putMany`, and the re-attach of keys to a new lease): etcd's
   * `--max-txn-ops`, 128 unless etcd is told otherwise. Default: 128.
   */
  readonly maxTxnOps?: number;
  /**
   * The most keys bound to one session lease (Cilium: 1,000): beyond it the backend grants
   * another lease. etcd's CPU per leased write grows with the keys on the lease, and a lost lease
   * takes fewer keys with it. Once the newest lease is half full the next one is granted ahead, so
   * that no write waits for a grant when it fills. Default: 1000.
   */
  readonly maxKeysPerLease?: number;
  /** How many keys one page of a list reads. Default: 1000. */
  readonly listPageSize?: number;
  /** The first delay before a failed re-attach after a lost lease is tried again; doubles up to 10 s. Default: 250. */
  readonly retryDelay?: number;
  /**
   * The longest wait between two reconnect attempts of the connection and of the watches, once
   * etcd is unreachable (they start at 100 ms and double). Default: 5000. etcd3's own default
   * lets a watch wait up to 30 s after etcd is back.
   */
  readonly maxReconnectDelay?: number;
  /**
   * How often, while someone follows `connection$` (a shared store does), etcd is asked a
   * linearizable read: a stalled or black-holed etcd — which breaks no stream and fails no call
   * until one is made — is reported `disconnected` within `healthCheckInterval +
   * healthCheckTimeout`, and so is a cluster without quorum. 0 turns the check off. Default: 5000.
   */
  readonly healthCheckInterval?: number;
  /** How long a health check may take before it counts as failed. Default: `callTimeout`. */
  readonly healthCheckTimeout?: number;
  /** The scheduler of the health checks. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
  /**
   * More etcd3 client options (credentials, auth, gRPC options, fault handling). The backend's
   * own `grpcOptions` (reconnect backoff; HTTP/2 keep-alive pings every 10 s, dropping a
   * connection that does not answer one in 5 s) apply unless these give `grpcOptions`.
   */
  readonly etcd3?: Omit<IOptions, 'hosts'>;
  /** Where lease losses and re-attach failures are reported. Default: silent. */
  readonly logger?: Logger;
}

/**
 * A {@link KvBackend} over etcd v3 (the etcd3 client). Import it from `tagstream/kvstore/etcd`, so
 * that `tagstream/kvstore` alone never loads etcd3.
 *
 * - Watches resume from their last revision after a reconnect (etcd3 does that); a watch past a
 *   compaction fails with `KvCompactedError`, and the shared store lists again.
 * - Session leases kept alive by etcd3, at most `maxKeysPerLease` keys on each (1,000, as
 *   Cilium). When one is lost (expired during an outage, revoked), `session$` says so — once, with
 *   its id — and the keys this backend wrote on it with `{ lease: true }` are written again on
 *   another (a new one if needed), in transactions, retrying until it succeeds.
 * - Lists are read in pages at one revision, so a large prefix is one consistent snapshot.
 * - `connection$` says `disconnected` when the stream the watches run on breaks (and at each
 *   failed reconnect), `connected` when every watch is attached again.
 * - While etcd3's circuit breaker fails calls fast, errors name the connection error that opened it
 *   (`connect ECONNREFUSED ...`) rather than the breaker.
 *
 * @example
 * ```ts
 * import { etcdBackend } from 'tagstream/kvstore/etcd';
 * const backend = etcdBackend({ hosts: 'http://127.0.0.1:2379', leaseTtl: 15_000 });
 * const store = await joinSharedStore({ prefix: 'nodes', codec, backend });
 * ```
 */
export function etcdBackend(options: EtcdBackendOptions): EtcdBackend {
  return new EtcdBackend(options);
}

/**
 * The backend {@link etcdBackend} returns: a {@link KvBackend} with its etcd3 client at hand (for
 * what the port does not say, such as compaction).
 *
 * @example
 * ```ts
 * const backend = etcdBackend({ hosts: 'http://127.0.0.1:2379' });
 * await backend.client.kv.compact({ revision: 1000 });
 * ```
 */
export class EtcdBackend implements KvBackend {
  readonly kind = 'etcd';
  readonly session$: Observable<KvSessionEvent>;
  /**
   * `disconnected` when etcd3 reports a watch's stream broken (and at each failed reconnect, with
   * the newest error, naming the root cause), `connected` once every broken watch is attached again
   * (etcd3 resumes it from its last revision). Hot, changes only; completes at `close()`.
   */
  readonly connection$: Observable<KvConnectionEvent>;
  /** The etcd3 client this backend calls. */
  readonly client: Etcd3;
  private readonly ownsClient: boolean;
  private readonly ttlSeconds: number;
  private readonly pageSize: number;
  private readonly maxTxnOps: number;
  private readonly maxKeysPerLease: number;
  /** How many etcd members the client knows (1 with a client given). */
  private readonly hostCount: number = 1;
  private readonly retryDelay: number;
  private readonly logger: Logger;
  private readonly sessionEvents$ = new Subject<KvSessionEvent>();
  private readonly connectionEvents$ = new Subject<KvConnectionEvent>();
  /** The watchers whose stream is broken (between etcd3's `disconnected` and `connected`). */
  private readonly downWatchers = new Set<object>();
  private disconnected = false;
  /** The last health check failed. */
  private checkFailed = false;
  private readonly healthCheckTimeout: number;
  private readonly closing$ = new Subject<void>();
  /** The cluster id etcd's answers carried so far. */
  private clusterId: string | undefined;
  /**
   * The highest revision any answer of this etcd showed (calls, health checks, watches): a watch that
   * resumes below it meets a new epoch, even when the watch itself saw no event since it began.
   */
  private revisionSeen = 0;
  /** The last connection error that was not etcd3's circuit breaker: what opened it. */
  private rootError: Error | undefined;
  /**
   * The keys written with a session lease — their newest values, to write again under a new lease
   * — and the lease each is bound to: one entry per key, updated in place.
   */
  private readonly leased = new Map<string, LeasedKey>();
  /** The live session leases, oldest first; the last one takes new keys until it is full. */
  private sessions: SessionLease[] = [];
  /**
   * A lease granted ahead, once the newest one is half full: the batch that fills the newest one
   * goes on without waiting for a grant (a round trip that held every batch bound to the new lease).
   */
  private spare: SessionLease | undefined;
  /** Leased keys whose lease was lost: written again on another one by `reattach`. */
  private readonly orphans = new Set<string>();
  private reattaching = false;
  private closed = false;

  constructor(options: EtcdBackendOptions) {
    const ttl = numberOption('leaseTtl', options.leaseTtl, 15_000, { unit: 'ms' });
    this.ttlSeconds = Math.max(1, Math.ceil(ttl / 1000));
    this.pageSize = options.listPageSize ?? 1000;
    this.maxTxnOps = numberOption('maxTxnOps', options.maxTxnOps, 128, { integer: true });
    this.maxKeysPerLease = numberOption('maxKeysPerLease', options.maxKeysPerLease, 1000, { integer: true });
    this.retryDelay = options.retryDelay ?? 250;
    this.logger = options.logger ?? silentLogger;
    const callTimeout = options.callTimeout ?? 5000;
    if (options.client !== undefined) {
      this.client = options.client;
      this.ownsClient = false;
    } else {
      if (options.hosts === undefined || options.hosts.length === 0) throw new RangeError('etcdBackend needs hosts (or a client)');
      const maxDelay = options.maxReconnectDelay ?? 5000;
      this.client = new Etcd3({
        dialTimeout: callTimeout,
        defaultCallOptions: (context) => (context.isStream ? {} : { deadline: new Date(Date.now() + callTimeout) }),
        grpcOptions: {
          'grpc.initial_reconnect_backoff_ms': Math.min(100, maxDelay),
          'grpc.max_reconnect_backoff_ms': maxDelay,
          // A connection that answers no ping is dropped, so the watches on it reconnect (etcd
          // accepts a ping every 5 s at most: --grpc-keepalive-min-time).
          'grpc.keepalive_time_ms': 10_000,
          'grpc.keepalive_timeout_ms': 5000,
        },
        faultHandling: {
          // etcd3's breaker fails every call for 5 s after three failures in a row: once etcd is
          // back (after a stall, say) a new lease would wait that long, and the keys of the old one
          // stay gone. Ours opens for as long as a reconnect backoff at most (1 s).
          host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: Math.min(1000, maxDelay), breaker: new ConsecutiveBreaker(3) }),
          watchBackoff: doublingBackoff(Math.min(100, maxDelay), maxDelay),
        },
        ...options.etcd3,
        hosts: typeof options.hosts === 'string' ? options.hosts : [...options.hosts],
      });
      this.ownsClient = true;
      this.hostCount = typeof options.hosts === 'string' ? 1 : options.hosts.length;
    }
    this.session$ = this.sessionEvents$.asObservable();
    const checkEvery = numberOption('healthCheckInterval', options.healthCheckInterval, 5000, { min: 'non-negative', unit: 'ms' });
    this.healthCheckTimeout = options.healthCheckTimeout ?? callTimeout;
    const checks$ =
      checkEvery === 0
        ? EMPTY
        : unrefTimer(checkEvery, checkEvery, options.scheduler).pipe(
            exhaustMap(() => defer(() => this.checkHealth())),
            ignoreElements(),
          );
    // The checks run while someone follows the connection, and stop at close.
    this.connection$ = merge(this.connectionEvents$, checks$.pipe(takeUntil(this.closing$))).pipe(share());
  }

  get(key: string): Observable<KvEntry | undefined> {
    return this.call('get', key, async () => {
      const response = await this.client.get(key).exec();
      const kv = response.kvs[0];
      return kv === undefined ? undefined : toEntry(kv);
    });
  }

  list(prefix: string): Observable<KvListing> {
    return this.call('list', prefix, async () => {
      const end = prefixEnd(Buffer.from(prefix));
      const entries: KvEntry[] = [];
      let start = Buffer.from(prefix);
      let revision: number | undefined;
      for (;;) {
        const response = await this.client.kv.range({
          key: start,
          range_end: end,
          limit: this.pageSize,
          ...(revision === undefined ? {} : { revision }),
        });
        revision ??= this.noteRevision(response.header);
        for (const kv of response.kvs) entries.push(toEntry(kv));
        const last = response.kvs[response.kvs.length - 1];
        if (!response.more || last === undefined) break;
        start = Buffer.concat([last.key, Buffer.from([0])]);
      }
      return { entries, revision };
    });
  }

  put(key: string, value: string, options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('put', key, async () => {
      if (options.lease !== true) {
        this.forget(key);
        const response = await this.client.put(key).value(value).exec();
        return { revision: this.noteRevision(response.header), changed: true };
      }
      // Noted before the write: if the lease is lost meanwhile, the newest value is the one re-attached.
      this.noteLeased(key, value);
      const response = await this.withLease([key], (lease) => this.client.put(key).value(value).lease(lease).exec());
      return { revision: this.noteRevision(response.header), changed: true };
    });
  }

  putMany(entries: readonly KvKeyValue[], options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('put', entries[0]?.key ?? '', async () => {
      let revision = 0;
      if (options.lease !== true) {
        for (let start = 0; start < entries.length; start += this.maxTxnOps) {
          const chunk = entries.slice(start, start + this.maxTxnOps);
          for (const { key } of chunk) this.forget(key);
          revision = await this.putTxn(chunk, '0');
        }
        return { revision, changed: entries.length > 0 };
      }
      // One transaction per lease and at most maxTxnOps puts: keys grouped by the lease they go on.
      const byLease = new Map<SessionLease, KvKeyValue[]>();
      for (const entry of entries) {
        const session = this.bind(entry.key, entry.value);
        const group = byLease.get(session);
        if (group === undefined) byLease.set(session, [entry]);
        else group.push(entry);
      }
      // The transactions at once (a batch that fills one lease goes on two): none waits for another.
      const txns: Promise<number>[] = [];
      for (const [session, group] of byLease) {
        for (let start = 0; start < group.length; start += this.maxTxnOps) {
          const chunk = group.length <= this.maxTxnOps ? group : group.slice(start, start + this.maxTxnOps);
          txns.push(this.withLease(chunk.map((e) => e.key), async (lease) => this.putTxn(chunk, lease), session));
        }
      }
      for (const written of await Promise.all(txns)) revision = Math.max(revision, written);
      return { revision, changed: entries.length > 0 };
    });
  }

  /** One transaction of puts, bound to `lease` ('0': none); the revision after it. */
  private async putTxn(entries: readonly KvKeyValue[], lease: string): Promise<number> {
    if (entries.length === 0) return 0;
    const response = await this.client.kv.txn({
      compare: [],
      success: entries.map(({ key, value }) => ({ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease } })),
      failure: [],
    });
    return this.noteRevision(response.header);
  }

  putIfDifferent(key: string, value: string, options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('putIfDifferent', key, async () => {
      const txn = (lease: string) =>
        this.client
          .if(key, 'Value', '==', value)
          .and(key, 'Lease', '==', lease)
          .else(lease === '0' ? this.client.put(key).value(value) : this.client.put(key).value(value).lease(lease))
          .commit();
      if (options.lease === true) this.noteLeased(key, value);
      else this.forget(key);
      const response = options.lease === true ? await this.withLease([key], txn) : await txn('0');
      return { revision: this.noteRevision(response.header), changed: !response.succeeded };
    });
  }

  compareAndPut(key: string, value: string, expectedModRevision: number, options: KvPutOptions = {}): Observable<KvWriteResult> {
    return this.call('compareAndPut', key, async () => {
      const txn = (lease: string) =>
        this.client
          .if(key, 'Mod', '==', expectedModRevision)
          .then(lease === '0' ? this.client.put(key).value(value) : this.client.put(key).value(value).lease(lease))
          .else(this.client.get(key))
          .commit();
      const response = options.lease === true ? await this.withLease([key], txn) : await txn('0');
      if (!response.succeeded) {
        const actual = response.responses[0]?.response_range.kvs[0]?.mod_revision;
        throw new KvConflictError(key, expectedModRevision, actual === undefined ? undefined : Number(actual));
      }
      if (options.lease === true) this.noteLeased(key, value);
      return { revision: this.noteRevision(response.header), changed: true };
    });
  }

  delete(key: string): Observable<KvWriteResult> {
    return this.call('delete', key, async () => {
      this.forget(key);
      const response = await this.client.delete().key(key).exec();
      return { revision: this.noteRevision(response.header), changed: Number(response.deleted) > 0 };
    });
  }

  watch(prefix: string, fromRevision: number): Observable<KvWatchEvent> {
    return this.watchResponses<KvWatchEvent>(prefix, fromRevision, (events, next) => {
      for (const event of events) next(toWatchEvent(event));
    });
  }

  /** The events of each of etcd's watch responses together (a transaction's puts arrive in one). */
  watchBatches(prefix: string, fromRevision: number): Observable<readonly KvWatchEvent[]> {
    return this.watchResponses<readonly KvWatchEvent[]>(prefix, fromRevision, (events, next) => {
      if (events.length > 0) next(events.map(toWatchEvent));
    });
  }

  /** A watch of `prefix` from `fromRevision`; `deliver` passes each response's events on. */
  private watchResponses<T>(prefix: string, fromRevision: number, deliver: (events: readonly IEvent[], next: (value: T) => void) => void): Observable<T> {
    return new Observable<T>((subscriber) => {
      if (this.closed) {
        subscriber.error(new KvUnavailableError('watch', prefix, { reason: 'the backend is closed' }));
        return undefined;
      }
      const watcher = this.client.watch().prefix(prefix).startRevision(String(fromRevision)).watcher();
      const next = (value: T): void => {
        subscriber.next(value);
      };
      // After etcd3's own 'data' listener (it took the namespace off the keys and emits per key).
      watcher.on('data', (response) => {
        deliver(response.events, next);
      });
      // The revision this (re)attach asks for: etcd3 resumes a broken watch from the last one it saw.
      let requested = fromRevision;
      watcher.on('connecting', () => {
        // Typed a number, but etcd3 stores the string of the last revision + 1.
        const last: unknown = watcher.lastRevision();
        requested = typeof last === 'number' || typeof last === 'string' ? Number(last) : fromRevision;
      });
      watcher.on('error', (error) => {
        subscriber.error(
          /compact|future rev/i.test(error.message) || /^Watcher canceled: ?$/.test(error.message)
            ? new KvCompactedError(prefix, fromRevision, undefined, { cause: error })
            : new KvUnavailableError('watch', prefix, { cause: error }),
        );
      });
      watcher.on('end', () => {
        subscriber.complete();
      });
      watcher.on('disconnected', (error) => {
        this.watchDown(watcher, prefix, error);
      });
      watcher.on('connected', (response) => {
        // Its checks that need no call run now, before the connection is said to be back.
        const epoch = this.newEpoch(response.header, requested);
        // The connection works, even when it is the store that is new.
        this.watchUp(watcher);
        void epoch.then((reason) => {
          if (reason !== undefined && !subscriber.closed) subscriber.error(new KvEpochError(prefix, reason));
        });
      });
      return () => {
        this.downWatchers.delete(watcher);
        watcher.removeAllListeners();
        // Keep a listener so that a late error from the cancelled watcher is not an unhandled 'error' event.
        watcher.on('error', () => undefined);
        watcher.cancel().catch((error: unknown) => {
          this.logger.debug('cancelling an etcd watch failed', { prefix, error: describeCause(error) });
        });
      };
    });
  }

  close(options: KvCloseOptions = {}): Observable<void> {
    return defer(async () => {
      if (this.closed) return;
      this.closed = true;
      const leases = [...this.sessions, ...(this.spare === undefined ? [] : [this.spare])].map((session) => session.lease);
      this.sessions = [];
      this.spare = undefined;
      this.sessionEvents$.complete();
      this.closing$.next();
      this.closing$.complete();
      this.connectionEvents$.complete();
      this.downWatchers.clear();
      try {
        if (options.revoke === true) await Promise.all(leases.map(async (lease) => lease.revoke()));
        else for (const lease of leases) lease.release();
      } catch (error: unknown) {
        throw new KvUnavailableError('close', undefined, { cause: error });
      } finally {
        if (this.ownsClient) this.client.close();
      }
    });
  }

  /**
   * Runs `write` with the session lease of `keys` (they are bound to one); if etcd says that lease
   * is gone, it is lost (once: a late failure of a write on an older lease changes nothing) and
   * `write` runs once more on the lease the keys are bound to then.
   */
  private async withLease<T>(keys: readonly string[], write: (lease: string) => Promise<T>, bound?: SessionLease): Promise<T> {
    // `bound`: the live lease the caller just bound every key to (no second lookup per key).
    const lease = await (bound !== undefined && this.sessions.includes(bound) ? bound : this.sessionFor(...keys)).id;
    try {
      return await write(lease);
    } catch (error: unknown) {
      if (!(error instanceof EtcdLeaseInvalidError)) throw error;
      this.leaseLost(lease, error);
      const again = await this.sessionFor(...keys).id;
      try {
        return await write(again);
      } catch (failed: unknown) {
        if (failed instanceof EtcdLeaseInvalidError) {
          this.leaseLost(again, failed);
          throw new KvLeaseLostError(again, { cause: failed });
        }
        throw failed;
      }
    }
  }

  /**
   * The live session lease that `keys` are bound to, binding them first where they are not: to
   * the first key's lease, else to the newest lease with room (`maxKeysPerLease`), else to a new
   * lease (granted, and kept alive by etcd3).
   */
  private sessionFor(...keys: string[]): SessionLease {
    if (this.closed) throw new KvUnavailableError('lease', keys[0], { reason: 'the backend is closed' });
    const first = keys[0] === undefined ? undefined : this.leased.get(keys[0])?.session;
    let session = first !== undefined && this.sessions.includes(first) ? first : undefined;
    if (session === undefined) {
      const newest = this.sessions.at(-1);
      const unbound = keys.filter((key) => !this.isBound(key)).length;
      session = newest !== undefined && newest.size + unbound <= this.maxKeysPerLease ? newest : this.nextSession();
    }
    for (const key of keys) {
      const entry = this.leased.get(key);
      if (entry === undefined) {
        this.leased.set(key, { value: undefined, session });
        session.size += 1;
        continue;
      }
      if (entry.session === session) continue;
      if (entry.session !== undefined) entry.session.size -= 1;
      entry.session = session;
      session.size += 1;
    }
    this.grantAhead(session);
    return session;
  }

  /**
   * Notes `value` as the newest of leased `key` and binds it ({@link sessionFor} of one key, with
   * one lookup and no array): the lease a put of it goes on.
   */
  private bind(key: string, value: string): SessionLease {
    const entry = this.leased.get(key);
    if (entry !== undefined) entry.value = value;
    const before = entry?.session;
    if (before !== undefined && this.sessions.includes(before)) return before;
    if (this.closed) throw new KvUnavailableError('lease', key, { reason: 'the backend is closed' });
    const newest = this.sessions.at(-1);
    const session = newest !== undefined && newest.size < this.maxKeysPerLease ? newest : this.nextSession();
    if (before !== undefined) before.size -= 1;
    if (entry === undefined) this.leased.set(key, { value, session });
    else entry.session = session;
    session.size += 1;
    this.grantAhead(session);
    return session;
  }

  /** The lease granted ahead, now taking keys, or a new lease. */
  private nextSession(): SessionLease {
    const spare = this.spare;
    if (spare === undefined) return this.grant();
    this.spare = undefined;
    this.sessions.push(spare);
    return spare;
  }

  /** Grants the next lease once `session`, the newest, is half full (one ahead at most). */
  private grantAhead(session: SessionLease): void {
    if (this.spare !== undefined || session.size * 2 < this.maxKeysPerLease || session !== this.sessions.at(-1)) return;
    // Its failure says nothing to anyone: the next lease is granted when it is needed.
    this.grant(true).id.catch(() => undefined);
  }

  /** `value` is the newest value of `key`, written with a lease. */
  private noteLeased(key: string, value: string): void {
    const entry = this.leased.get(key);
    if (entry === undefined) this.leased.set(key, { value, session: undefined });
    else entry.value = value;
  }

  private isBound(key: string): boolean {
    const session = this.leased.get(key)?.session;
    return session !== undefined && this.sessions.includes(session);
  }

  /** `key` is no longer written with a lease. */
  private forget(key: string): void {
    const entry = this.leased.get(key);
    if (entry === undefined) return;
    if (entry.session !== undefined) entry.session.size -= 1;
    this.leased.delete(key);
    this.orphans.delete(key);
  }

  /** A new session lease (`ahead`: the spare, taking no key yet). */
  private grant(ahead = false): SessionLease {
    const lease = this.client.lease(this.ttlSeconds, { autoKeepAlive: true });
    const session: SessionLease = {
      lease,
      size: 0,
      granted: undefined,
      id: lease.grant().then(
        (granted) => {
          if (this.sessions.includes(session) || this.spare === session) {
            session.granted = granted;
            this.sessionEvents$.next({ type: 'granted', lease: granted });
          }
          return granted;
        },
        (error: unknown) => {
          // Nothing was bound to it in etcd: its keys are bound again at their next write.
          this.sessions = this.sessions.filter((other) => other !== session);
          if (this.spare === session) this.spare = undefined;
          lease.release();
          throw this.unavailable('lease', undefined, error);
        },
      ),
    };
    if (ahead) this.spare = session;
    else this.sessions.push(session);
    lease.on('lost', (error) => {
      // etcd3 says so for its own lease object: the keep-alive found it gone, or gave up.
      if (session.granted !== undefined) this.leaseLost(session.granted, error);
    });
    return session;
  }

  /**
   * The lease `id` is gone. Only a live session lease can be lost, and only once: a failure that
   * names a lease already replaced (a write that was in flight when it was lost) changes nothing.
   * Its keys are written again on other leases.
   */
  private leaseLost(id: string, error: Error): void {
    if (this.spare !== undefined && this.spare.granted === id) {
      // A lease granted ahead holds no key: it goes, and is granted again when needed.
      this.spare.lease.release();
      this.spare = undefined;
      this.logger.debug('etcd lease granted ahead lost', { lease: id, error: describeCause(error) });
      return;
    }
    const session = this.sessions.find((candidate) => candidate.granted === id);
    if (this.closed || session === undefined) return;
    this.sessions = this.sessions.filter((other) => other !== session);
    session.lease.release();
    // A loss is rare: a pass over the leased keys finds its own.
    for (const [key, entry] of this.leased) {
      if (entry.session !== session) continue;
      entry.session = undefined;
      if (entry.value !== undefined) this.orphans.add(key);
    }
    const lost = new KvLeaseLostError(id, { cause: error });
    this.logger.warn('etcd session lease lost; granting a new one', { lease: id, keys: session.size, error: describeCause(error) });
    this.sessionEvents$.next({ type: 'lost', lease: id, error: lost });
    void this.reattach();
  }

  /** Writes the keys of lost leases again on live ones, in transactions, retrying with backoff until it works or the backend closes. */
  private async reattach(): Promise<void> {
    if (this.reattaching) return;
    this.reattaching = true;
    let failures = 0;
    try {
      while (!this.closed && this.orphans.size > 0) {
        let lease: string | undefined;
        try {
          const keys = [...this.orphans].filter((key) => this.leased.get(key)?.value !== undefined);
          this.orphans.clear();
          for (let start = 0; start < keys.length; start += this.maxTxnOps) {
            if (this.isClosed()) return;
            const chunkKeys = keys.slice(start, start + this.maxTxnOps);
            try {
              const session = this.sessionFor(...chunkKeys);
              lease = await session.id;
              // The values as they are now: a write since the loss may have changed them.
              const chunk = chunkKeys.flatMap((key) => {
                const value = this.leased.get(key)?.value;
                return value === undefined ? [] : [{ key, value }];
              });
              await this.putTxn(chunk, lease);
            } catch (error: unknown) {
              for (const key of keys.slice(start)) if (this.leased.get(key)?.value !== undefined) this.orphans.add(key);
              throw error;
            }
          }
        } catch (error: unknown) {
          if (error instanceof EtcdLeaseInvalidError && lease !== undefined) this.leaseLost(lease, error);
          failures += 1;
          const delay = backoffDelay(failures, this.retryDelay, 10_000);
          this.logger.warn('re-attaching keys to a new etcd lease failed; retrying', { keys: this.orphans.size, delayMs: delay, error: describeCause(error) });
          await sleep(delay);
        }
      }
    } finally {
      this.reattaching = false;
    }
  }

  private isClosed(): boolean {
    return this.closed;
  }

  private call<T>(operation: KvOperation, key: string, run: () => Promise<T>): Observable<T> {
    return defer(async () => {
      if (this.closed) throw new KvUnavailableError(operation, key, { reason: 'the backend is closed' });
      let result: T;
      for (let attempt = 1; ; attempt++) {
        try {
          result = await run();
          break;
        } catch (error: unknown) {
          if (error instanceof KvConflictError || error instanceof KvLeaseLostError || error instanceof KvUnavailableError) throw error;
          // A member that refused the connection never saw the call: another member may take it
          // (a cluster whose leader just died). etcd3 tries others, but not always.
          if (attempt < this.hostCount && error instanceof Error && /ECONNREFUSED|No connection established/.test(error.message)) continue;
          throw this.unavailable(operation, key, error);
        }
      }
      this.rootError = undefined;
      return result;
    });
  }

  /**
   * `error` as a `KvUnavailableError` that names the root cause. etcd3's circuit breaker, once
   * open, fails every call with "Execution prevented because the circuit breaker is open", and a
   * broken watch stream also ends ("The etcd watch stream was unexpectedly ended"): such an error
   * names the connection error before it instead (`connect ECONNREFUSED ...`), which is what an
   * operator can act on.
   */
  private unavailable(operation: KvOperation, key: string | undefined, error: unknown): KvUnavailableError {
    const broken = isBrokenCircuit(error);
    const secondary = broken || error instanceof EtcdWatchStreamEnded;
    if (!secondary && error instanceof Error && (operation === 'watch' || isRecoverableError(error))) this.rootError = error;
    const root = this.rootError;
    if (!secondary || root === undefined) return new KvUnavailableError(operation, key, { cause: error });
    const note = broken ? "etcd3's circuit breaker is open: calls fail fast for a few seconds" : 'the watch stream ended';
    return new KvUnavailableError(operation, key, { cause: root, reason: `${describeCause(root)} (${note})` });
  }

  /**
   * Why etcd is not the store this backend knew when a watch (re)attaches with `header`, or
   * undefined when it is: its cluster id changed, or its revision went back — below `requested - 1`,
   * which the watch had seen, or below the highest revision any other answer showed (calls, health
   * checks: a quiet prefix sees no event of etcd's other writes). The latter may also be a race
   * with a write, so a linearizable read tells (within one epoch, etcd's revision never goes back;
   * a read that fails says nothing: the health check reports it). etcd restarted empty (its data
   * lost) answers a resumed watch with a lower revision: the watch would wait for revisions that
   * mean nothing now, so it must list again. The checks without a call run before the first `await`.
   */
  private async newEpoch(header: { readonly cluster_id: string; readonly revision: string }, requested: number): Promise<string | undefined> {
    if (this.clusterId !== undefined && header.cluster_id !== this.clusterId) {
      const before = this.clusterId;
      this.clusterId = header.cluster_id;
      return `its cluster id changed from ${before} to ${header.cluster_id}`;
    }
    this.clusterId = header.cluster_id;
    const revision = Number(header.revision);
    const wentBack = this.wentBack(revision, requested - 1, 'the watch');
    if (wentBack !== undefined) return wentBack;
    const seen = this.revisionSeen;
    this.noteRevision(header);
    if (revision >= seen) return undefined;
    try {
      const response = await this.client.kv.range({ key: Buffer.from('health'), limit: 1, keys_only: true }, { deadline: new Date(Date.now() + this.healthCheckTimeout) });
      return this.wentBack(Number(response.header.revision), seen, 'this backend');
    } catch (error: unknown) {
      this.logger.debug('etcd epoch check failed', { error: describeCause(error) });
      return undefined;
    }
  }

  /** The one rule of an epoch: a `revision` below `reference` (which `whose` had seen) is a new epoch, whose revisions are compared with from now on. */
  private wentBack(revision: number, reference: number, whose: string): string | undefined {
    if (revision >= reference) return undefined;
    this.revisionSeen = revision;
    return `its revision ${revision} is below ${reference}, which ${whose} had seen`;
  }

  /** The revision of an answer's header, noted as seen. */
  private noteRevision(header: { readonly revision: string }): number {
    const revision = Number(header.revision);
    if (revision > this.revisionSeen) this.revisionSeen = revision;
    return revision;
  }

  private watchDown(watcher: object, prefix: string, error: Error): void {
    if (this.closed) return;
    // A broken stream errors, then ends: the end is the same failure, already said.
    if (error instanceof EtcdWatchStreamEnded && this.downWatchers.has(watcher)) return;
    this.downWatchers.add(watcher);
    this.disconnected = true;
    const kvError = this.unavailable('watch', prefix, error);
    this.logger.debug('etcd watch stream lost; etcd3 reconnects it', { prefix, error: describeCause(kvError) });
    this.connectionEvents$.next({ type: 'disconnected', error: kvError });
  }

  /**
   * One health check: a linearizable read (it needs the leader and a quorum). A failure says
   * `disconnected` (again at each failure, with the newest error); the first success after it says
   * `connected` when no watch is still down.
   */
  private async checkHealth(): Promise<void> {
    if (this.closed) return;
    try {
      const response = await this.client.kv.range({ key: Buffer.from('health'), limit: 1, keys_only: true }, { deadline: new Date(Date.now() + this.healthCheckTimeout) });
      this.noteRevision(response.header);
    } catch (error: unknown) {
      if (this.isClosed()) return;
      this.checkFailed = true;
      this.disconnected = true;
      const kvError = this.unavailable('health', 'health', error);
      this.logger.debug('etcd health check failed', { error: describeCause(kvError) });
      this.connectionEvents$.next({ type: 'disconnected', error: kvError });
      return;
    }
    if (!this.checkFailed || this.isClosed()) return;
    this.checkFailed = false;
    this.rootError = undefined;
    if (!this.disconnected || this.downWatchers.size > 0) return;
    this.disconnected = false;
    this.connectionEvents$.next({ type: 'connected' });
  }

  private watchUp(watcher: object): void {
    if (this.closed) return;
    this.downWatchers.delete(watcher);
    this.rootError = undefined;
    if (!this.disconnected || this.downWatchers.size > 0 || this.checkFailed) return;
    this.disconnected = false;
    this.connectionEvents$.next({ type: 'connected' });
  }
}

/** A session lease of an {@link EtcdBackend}. */
interface SessionLease {
  readonly lease: Lease;
  readonly id: Promise<string>;
  granted: string | undefined;
  /** How many keys are bound to it. */
  size: number;
}

/** A key written with a session lease: its newest value (undefined until one is written) and its lease. */
interface LeasedKey {
  value: string | undefined;
  session: SessionLease | undefined;
}

/** True for cockatiel's BrokenCircuitError (etcd3's circuit breaker), which etcd3 does not export. */
function isBrokenCircuit(error: unknown): boolean {
  return error instanceof Error && 'isBrokenCircuitError' in error;
}

function toWatchEvent(event: IEvent): KvWatchEvent {
  const { kv } = event;
  return event.type === 'Delete'
    ? { type: 'delete', key: kv.key.toString(), revision: Number(kv.mod_revision) }
    : { type: 'put', key: kv.key.toString(), value: kv.value.toString(), revision: Number(kv.mod_revision) };
}

function toEntry(kv: { key: Buffer; value: Buffer; mod_revision: string; lease: string }): KvEntry {
  const entry = { key: kv.key.toString(), value: kv.value.toString(), modRevision: Number(kv.mod_revision) };
  return kv.lease === '0' || kv.lease === '' ? entry : { ...entry, lease: kv.lease };
}

/** The smallest key after every key that starts with `prefix` (etcd's range_end for a prefix). */
function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** A backoff in etcd3's (cockatiel's) shape: `duration`, then `next()` doubles it up to `max`. */
interface Backoff {
  readonly duration: number;
  next(): Backoff;
}

function doublingBackoff(initial: number, max: number, attempt = 1): Backoff {
  return { duration: backoffDelay(attempt, initial, max), next: () => doublingBackoff(initial, max, attempt + 1) };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    setTimeout(resolve, ms).unref();
  });
}

