import type { KvError, KvUnavailableError } from './errors.js';

/**
 * Where a shared store stands (see {@link SharedStore.health$}):
 * - `joining`: the initial list is not in the cache yet;
 * - `synced`: the cache holds a complete list and the watch runs: it is current;
 * - `disconnected`: the backend lost its connection (etcd is down or unreachable); the cache is
 *   stale, and the watch resumes from its last revision by itself when the connection is back;
 * - `resyncing`: the connection is back: the store writes its local keys again (and retries its
 *   failed deletes) before it says `synced`;
 * - `relisting`: the watch failed (a compaction, a new epoch of the store, an error the backend does not resume from): the
 *   store lists the prefix again, with backoff;
 * - `closed`: after `close()` / `release()`.
 *
 * @example
 * ```ts
 * const state: SharedStoreState = 'disconnected';
 * ```
 */
export type SharedStoreState = 'joining' | 'synced' | 'disconnected' | 'resyncing' | 'relisting' | 'closed';

/**
 * A shared store's health: its {@link SharedStoreState} and, while not synced, the backend's
 * newest error (the one that took it out of `synced`, then the newest failed reconnect or list).
 *
 * @example
 * ```ts
 * store.health$.subscribe((h) => console.log(h.state, h.lastError?.message ?? ''));
 * // synced
 * // disconnected kvstore watch of "nodes/" failed: connect ECONNREFUSED 127.0.0.1:2379 (...)
 * // resyncing
 * // synced
 * ```
 */
export interface SharedStoreHealth {
  readonly state: SharedStoreState;
  /** The backend's newest error while not synced; undefined when synced or closed, and while joining before any error. */
  readonly lastError?: KvError;
}

/**
 * What a shared store's health follows: the facts its IO reports, each a flag. The store's
 * {@link SharedStoreHealth} is derived from them ({@link storeHealthOf}); only
 * {@link reduceStoreHealth} changes them.
 */
export interface StoreHealthState {
  /** The initial list is in the cache (the join is done). */
  readonly joined: boolean;
  /** The cache holds a list and the watch runs (false while listing again after a failed watch). */
  readonly listed: boolean;
  /** The backend's connection is up, as its `connection$` says (a store starts connected). */
  readonly connected: boolean;
  /** The local keys are being written again after the connection came back. */
  readonly resyncing: boolean;
  /** `close()` or `release()` was called: nothing changes any more. */
  readonly closed: boolean;
  /** The backend's newest error while not synced; cleared when synced. */
  readonly lastError: KvError | undefined;
}

/**
 * What happens to a shared store, as its IO reports it:
 * - `listed`: a list of the prefix is in the cache and the watch starts;
 * - `watchFailed`: the list or the watch failed; the store lists again after a backoff;
 * - `disconnected` / `connected`: the backend's `connection$` (any watch event also says `connected`);
 * - `resynced`: the local keys were written again after the connection came back;
 * - `closed`: `close()` or `release()`.
 */
export type StoreHealthEvent =
  | { readonly type: 'listed' }
  | { readonly type: 'watchFailed'; readonly error: KvError }
  | { readonly type: 'disconnected'; readonly error: KvUnavailableError }
  | { readonly type: 'connected' }
  | { readonly type: 'resynced' }
  | { readonly type: 'closed' };

/**
 * What the store must do after a transition, besides publishing its health:
 * - `reportDisconnect`: the connection was lost while synced (count it and report it, once per outage);
 * - `resync`: the connection is back after the join: write every local key again (and retry the
 *   failed deletes at once), then say `resynced`.
 */
export type StoreHealthEffect = 'reportDisconnect' | 'resync';

/** The state after an event, and what the store must do about it. */
export interface StoreHealthTransition {
  readonly state: StoreHealthState;
  readonly effect?: StoreHealthEffect;
}

/**
 * A store before its join: not listed, connected, no error.
 *
 * @example
 * ```ts
 * storeHealthOf(initialStoreHealth); // { state: 'joining' }
 * ```
 */
export const initialStoreHealth: StoreHealthState = { joined: false, listed: false, connected: true, resyncing: false, closed: false, lastError: undefined };

/**
 * The state machine of a shared store's health, pure: `(state, event) => state`, and the effect
 * the store must run. No IO, no timers: the store ({@link joinSharedStore}) feeds it what its list,
 * watch, backend connection and resync report, and publishes {@link storeHealthOf} the result.
 *
 * - A lost connection keeps the first error of an outage while its message stays the same (each
 *   failed reconnect says it again), and asks for `reportDisconnect` only when the store was synced.
 * - A connection back after the join asks for `resync` and is `resyncing` until `resynced`.
 * - Being `synced` clears the last error. After `closed`, nothing changes.
 *
 * @example
 * ```ts
 * let step = reduceStoreHealth(initialStoreHealth, { type: 'listed' });
 * storeHealthOf(step.state); // { state: 'synced' }
 * step = reduceStoreHealth(step.state, { type: 'disconnected', error });
 * step.effect; // 'reportDisconnect'
 * step = reduceStoreHealth(step.state, { type: 'connected' });
 * step.effect; // 'resync'
 * storeHealthOf(step.state).state; // 'resyncing'
 * ```
 */
export function reduceStoreHealth(state: StoreHealthState, event: StoreHealthEvent): StoreHealthTransition {
  if (state.closed) return { state };
  switch (event.type) {
    case 'listed':
      return settle({ ...state, joined: true, listed: true });
    case 'watchFailed':
      return settle({ ...state, listed: false, lastError: event.error });
    case 'disconnected': {
      const wasSynced = storeHealthOf(state).state === 'synced';
      // The same error again (each failed reconnect): keep the one already published.
      const lastError = state.lastError?.message === event.error.message ? state.lastError : event.error;
      const next = settle({ ...state, connected: false, lastError });
      return wasSynced ? { ...next, effect: 'reportDisconnect' } : next;
    }
    case 'connected': {
      if (state.connected) return { state };
      if (!state.joined) return settle({ ...state, connected: true });
      return { ...settle({ ...state, connected: true, resyncing: true }), effect: 'resync' };
    }
    case 'resynced':
      return settle({ ...state, resyncing: false });
    case 'closed':
      return { state: { ...state, closed: true, lastError: undefined } };
  }
}

/** Synced clears the last error. */
function settle(state: StoreHealthState): StoreHealthTransition {
  return { state: state.lastError !== undefined && storeHealthOf(state).state === 'synced' ? { ...state, lastError: undefined } : state };
}

/**
 * The health a store publishes for `state`: the first of `closed`, `joining` (before the initial
 * list), `disconnected`, `relisting`, `resyncing` that holds, else `synced`; with the last error
 * unless synced or closed.
 *
 * @example
 * ```ts
 * storeHealthOf({ ...initialStoreHealth, joined: true, listed: true, connected: false, lastError });
 * // { state: 'disconnected', lastError }
 * ```
 */
export function storeHealthOf(state: StoreHealthState): SharedStoreHealth {
  let health: SharedStoreState;
  if (state.closed) return { state: 'closed' };
  if (!state.joined) health = 'joining';
  else if (!state.connected) health = 'disconnected';
  else if (!state.listed) health = 'relisting';
  else if (state.resyncing) health = 'resyncing';
  else return { state: 'synced' };
  return state.lastError === undefined ? { state: health } : { state: health, lastError: state.lastError };
}
