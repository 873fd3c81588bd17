/**
 * What a shared store is to its users: the `SharedStore` that `joinSharedStore` resolves, its
 * events and its counters. The store itself (`shared-store.ts`) is the IO around its state
 * machines (`cache-state.ts`, `store-health.ts`, `writer-state.ts`).
 */
import type { Observable } from 'rxjs';
import type { KvError } from './errors.js';
import type { SharedStoreHealth } from './store-health.js';

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
  /** Writes and deletes that failed (each is retried: see `retries`). */
  readonly writeErrors: number;
  /**
   * Writes and deletes of local keys tried again after they failed, before the next
   * synchronization: after a backoff (`retryDelay`, doubling up to 30 s), or at once when the
   * backend's connection is back.
   */
  readonly retries: number;
  /** Times the backend's connection was lost while the store was synced (see {@link SharedStoreHealth}). */
  readonly disconnects: number;
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
  /**
   * Takes `key` as a local key, to be written at the next synchronization — or sooner: when the
   * backend's connection comes back after an outage, or at the retry of a failed
   * `updateLocalKeySync` of the same key (how `publishTags` keeps a write that failed).
   */
  updateLocalKey(key: K): void;
  /**
   * Writes `key` now, bound to the session lease; it becomes a local key only if the write
   * succeeded. If it fails, the promise rejects; a key taken as local afterwards with
   * `updateLocalKey` is written by the store's retry (after `retryDelay`, doubling up to 30 s, or at
   * once when the connection is back).
   */
  updateLocalKeySync(key: K): Promise<void>;
  /**
   * {@link updateLocalKeySync} for many keys with one promise: it resolves once every key is
   * written and rejects with the first failure (the other keys are still written, and each key
   * written becomes a local key). Every key is encoded first: one that does not encode rejects the
   * call with `KvEncodeError` and none is queued. The way to write thousands of keys at once (a
   * promise per key costs more than its write, which shares a transaction with 127 others).
   *
   * @example
   * ```ts
   * await store.updateLocalKeysSync(nodes); // written in 128-key transactions
   * ```
   */
  updateLocalKeysSync(keys: Iterable<K>): Promise<void>;
  /** Writes `key` now, bound to the session lease, without taking it as a local key. */
  updateKeySync(key: K): Promise<void>;
  /**
   * Stops owning `key` and deletes it; its delete is delivered at once. If the delete fails, the
   * promise rejects and the delete is tried again until it succeeds: after `retryDelay` (doubling
   * up to 30 s), at once when the backend's connection is back, and at each synchronization.
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
   * True when the cache holds a complete list of the prefix and the watch is running (its health
   * is `synced`); false before the initial list, while the backend's connection is lost (an etcd
   * outage) and until the store has written its local keys again after it, and while listing
   * again after a failed watch. Current value first; changes only.
   */
  readonly synced$: Observable<boolean>;
  /**
   * The store's health ({@link SharedStoreHealth}): `synced$` with the state and the last error.
   * Current value first; a new value at each change of state or of the last error. Completes at
   * `close()` / `release()` (after `closed`).
   */
  readonly health$: Observable<SharedStoreHealth>;
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
