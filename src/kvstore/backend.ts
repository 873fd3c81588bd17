import type { Observable } from 'rxjs';
import type { KvLeaseLostError, KvUnavailableError } from './errors.js';

/** One key as stored: its value and the revision of its last change. */
export interface KvEntry {
  readonly key: string;
  readonly value: string;
  /** The store revision of the key's last put. */
  readonly modRevision: number;
  /** The lease the key is bound to, when it is. */
  readonly lease?: string;
}

/** Every key under a prefix, and the store revision the list was read at. */
export interface KvListing {
  readonly entries: readonly KvEntry[];
  /** Watch from `revision + 1` to see every change after this list. */
  readonly revision: number;
}

/** A change seen by a watch. */
export type KvWatchEvent =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly revision: number }
  | { readonly type: 'delete'; readonly key: string; readonly revision: number };

/** A key and the value to write to it. */
export interface KvKeyValue {
  readonly key: string;
  readonly value: string;
}

/** Options of a write. */
export interface KvPutOptions {
  /**
   * Bind the key to the backend's session lease: it is deleted when the session ends (the lease
   * expires or is revoked). Default false.
   */
  readonly lease?: boolean;
}

/** The outcome of a write. */
export interface KvWriteResult {
  /** The store revision after the write (or at which it was found unnecessary). */
  readonly revision: number;
  /** False when nothing was written (put-if-different found the same value and lease; delete found no key). */
  readonly changed: boolean;
}

/** What happens to the backend's session lease. */
export type KvSessionEvent =
  | { readonly type: 'granted'; readonly lease: string }
  | { readonly type: 'lost'; readonly lease: string; readonly error: KvLeaseLostError };

/**
 * What a backend says about the connection its watches run on: `disconnected` when it is lost (the
 * watches stall, and resume by themselves from their last revision once it is back; a backend may
 * say it again at each failed reconnect, with the newest error), `connected` when every watch runs
 * again.
 *
 * @example
 * ```ts
 * backend.connection$?.subscribe((c) => console.log(c.type === 'connected' ? 'back' : `down: ${c.error.message}`));
 * ```
 */
export type KvConnectionEvent =
  | { readonly type: 'disconnected'; readonly error: KvUnavailableError }
  | { readonly type: 'connected' };

/** Options of {@link KvBackend.close}. */
export interface KvCloseOptions {
  /**
   * Revoke the session lease, deleting every key bound to it now. Default false: the keep-alive
   * stops and the keys go when the lease expires.
   */
  readonly revoke?: boolean;
}

/**
 * The port to a key-value store with revisions, watches and leases — etcd's model. Every call is
 * lazy (nothing happens until subscription) and fails with a typed {@link KvError}:
 * `KvUnavailableError`, `KvLeaseLostError`, `KvCompactedError` or `KvConflictError`.
 *
 * One backend is one client session: the keys it writes with `{ lease: true }` share its session
 * lease, which it keeps alive; when the lease is lost it grants a new one and writes those keys
 * again. (The etcd backend spreads many keys over several such leases, `maxKeysPerLease` each;
 * `session$` tells of each.) Several shared stores may share one backend.
 *
 * @example
 * ```ts
 * const backend = memoryBackend();
 * await lastValueFrom(backend.put('tags/host-a/x', '{"a":1}', { lease: true }));
 * const { entries, revision } = await lastValueFrom(backend.list('tags/'));
 * backend.watch('tags/', revision + 1).subscribe((event) => console.log(event.type, event.key));
 * ```
 */
export interface KvBackend {
  /** The kind of backend, for logs ('memory', 'etcd'). */
  readonly kind: string;
  /** The key, or undefined when there is none. */
  get(key: string): Observable<KvEntry | undefined>;
  /** Every key that starts with `prefix`, with the revision of the read. */
  list(prefix: string): Observable<KvListing>;
  /** Writes a key. */
  put(key: string, value: string, options?: KvPutOptions): Observable<KvWriteResult>;
  /**
   * Writes a key unless it already holds `value` bound to the same lease (the current session
   * lease with `{ lease: true }`, none without): how a lost lease or a foreign change is repaired
   * without a write per unchanged key.
   */
  putIfDifferent(key: string, value: string, options?: KvPutOptions): Observable<KvWriteResult>;
  /**
   * Writes several keys at once (over etcd: in transactions of at most `maxTxnOps` puts, so one
   * round trip and one revision per transaction). Optional: without it, a shared store writes its
   * keys one `put` at a time. The result is the last transaction's.
   */
  putMany?(entries: readonly KvKeyValue[], options?: KvPutOptions): Observable<KvWriteResult>;
  /**
   * Writes a key only if its mod revision is `expectedModRevision` (0: only if it does not exist);
   * fails with `KvConflictError` otherwise.
   */
  compareAndPut(key: string, value: string, expectedModRevision: number, options?: KvPutOptions): Observable<KvWriteResult>;
  /** Deletes a key (`changed` is false when there was none). */
  delete(key: string): Observable<KvWriteResult>;
  /**
   * Every change under `prefix` from `fromRevision` on, in revision order. Errors with
   * `KvCompactedError` when `fromRevision` is compacted away (list again); a backend that loses
   * its connection resumes from the last revision it delivered.
   */
  watch(prefix: string, fromRevision: number): Observable<KvWatchEvent>;
  /**
   * The changes of {@link watch}, the events of one answer together, in revision order, never an
   * empty batch (over etcd: one watch response, which holds every event of a transaction at
   * least). Optional: a shared store follows it when the backend has it — one step per batch
   * rather than per key — and `watch` otherwise.
   */
  watchBatches?(prefix: string, fromRevision: number): Observable<readonly KvWatchEvent[]>;
  /** The session lease's life: `granted` for each new lease, `lost` when one ends unasked. Hot. */
  readonly session$: Observable<KvSessionEvent>;
  /**
   * The connection's losses and recoveries as the watches see them (see {@link KvConnectionEvent}):
   * how a shared store learns of an outage its watch resumes from by itself. Hot, changes only (no
   * current value: a backend starts connected). Optional: without it, a store only learns of
   * outages from failed calls and failed watches.
   */
  readonly connection$?: Observable<KvConnectionEvent>;
  /** Ends the session (see {@link KvCloseOptions}) and releases connections. Idempotent. */
  close(options?: KvCloseOptions): Observable<void>;
}
