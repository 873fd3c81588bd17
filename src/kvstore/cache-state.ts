import type { KvListing, KvWatchEvent } from './backend.js';
import { KvDecodeError } from './errors.js';

/** One decoded key in a shared store's cache. */
export interface CachedKey<K> {
  readonly name: string;
  readonly key: K;
  /** The stored (encoded) value. */
  readonly value: string;
  /** The revision of the key's last put. */
  readonly revision: number;
}

/**
 * A shared store's cache: every decodable key under its prefix, by name, and the revision it is
 * current to. Read-only to everyone but {@link reduceCache}, which updates it in place.
 */
export interface CacheState<K> {
  readonly entries: ReadonlyMap<string, CachedKey<K>>;
  /** The store revision the cache reflects; watch events below it are stale. */
  readonly revision: number;
}

/** What the cache is told: a full list of the prefix, one watch event, or a batch of them (in revision order). */
export type CacheInput =
  | { readonly type: 'listed'; readonly listing: KvListing }
  | { readonly type: 'events'; readonly events: readonly KvWatchEvent[] }
  | KvWatchEvent;

/** How the cache changed for one key. */
export type CacheChange<K> =
  | { readonly type: 'update'; readonly name: string; readonly key: K; readonly value: string }
  | { readonly type: 'delete'; readonly name: string; readonly key: K; readonly value: string };

/** The changes of one step (a list, an event or a batch of events), and the values that did not decode. */
export interface CacheStep<K> {
  readonly changes: readonly CacheChange<K>[];
  readonly rejected: readonly KvDecodeError[];
}

/** What {@link reduceCache} needs to know about the store. */
export interface CacheContext<K> {
  /** The key prefix, with its trailing '/'. */
  readonly pathPrefix: string;
  /** Decodes a stored value; throws when it cannot. */
  readonly decode: (value: string, name: string) => K;
  /**
   * The key `value` decodes to when the caller already has it (a collaborator's own key, as it
   * wrote it), so that it is not decoded again; undefined otherwise.
   */
  readonly known?: (name: string, value: string) => K | undefined;
}

interface MutableCache<K> extends CacheState<K> {
  readonly entries: Map<string, CachedKey<K>>;
  revision: number;
}

/**
 * An empty cache.
 *
 * @example
 * ```ts
 * const cache = createCacheState<NodeInfo>();
 * ```
 */
export function createCacheState<K>(): CacheState<K> {
  const state: MutableCache<K> = { entries: new Map(), revision: 0 };
  return state;
}

/**
 * Applies a list, a watch event or a batch of them to the cache, in place, and says what changed
 * (a batch: every event's changes, in order, in one step).
 *
 * - A list replaces the cache: keys it lacks are deleted (the deletes a compaction or an outage
 *   hid), keys whose value differs are updated, and the cache is current to the list's revision
 *   (lower than before when the store is a new epoch: etcd restarted without its data).
 * - A watch event below the cache's revision is stale and ignored (one revision can hold several
 *   events: a lease's expiry deletes all its keys at once).
 * - A put of the value already cached changes nothing; a delete of an unknown key changes nothing.
 * - A value that does not decode is rejected, and the key leaves the cache (a delete if it was in).
 *
 * @example
 * ```ts
 * const state = createCacheState<string>();
 * const ctx = { pathPrefix: 'tags/', decode: (v: string) => v };
 * reduceCache(state, { type: 'put', key: 'tags/a', value: 'x', revision: 2 }, ctx).changes;
 * // [{ type: 'update', name: 'a', key: 'x', value: 'x' }]
 * ```
 */
export function reduceCache<K>(state: CacheState<K>, input: CacheInput, ctx: CacheContext<K>): CacheStep<K> {
  const cache = state as MutableCache<K>;
  const changes: CacheChange<K>[] = [];
  const rejected: KvDecodeError[] = [];
  if (input.type === 'listed') {
    const seen = new Set<string>();
    for (const entry of input.listing.entries) {
      if (!entry.key.startsWith(ctx.pathPrefix)) continue;
      const name = entry.key.slice(ctx.pathPrefix.length);
      seen.add(name);
      put(cache, ctx, name, entry.key, entry.value, entry.modRevision, changes, rejected);
    }
    for (const [name, cached] of cache.entries) {
      if (seen.has(name)) continue;
      cache.entries.delete(name);
      changes.push({ type: 'delete', name, key: cached.key, value: cached.value });
    }
    // The list's revision, even a lower one: after etcd lost its data, revisions start again.
    cache.revision = input.listing.revision;
    return { changes, rejected };
  }
  if (input.type === 'events') {
    for (const event of input.events) applyEvent(cache, ctx, event, changes, rejected);
  } else {
    applyEvent(cache, ctx, input, changes, rejected);
  }
  return { changes, rejected };
}

function applyEvent<K>(cache: MutableCache<K>, ctx: CacheContext<K>, event: KvWatchEvent, changes: CacheChange<K>[], rejected: KvDecodeError[]): void {
  if (event.revision < cache.revision || !event.key.startsWith(ctx.pathPrefix)) return;
  cache.revision = event.revision;
  const name = event.key.slice(ctx.pathPrefix.length);
  if (event.type === 'put') {
    put(cache, ctx, name, event.key, event.value, event.revision, changes, rejected);
    return;
  }
  const cached = cache.entries.get(name);
  if (cached !== undefined) {
    cache.entries.delete(name);
    changes.push({ type: 'delete', name, key: cached.key, value: cached.value });
  }
}

function put<K>(
  cache: MutableCache<K>,
  ctx: CacheContext<K>,
  name: string,
  path: string,
  value: string,
  revision: number,
  changes: CacheChange<K>[],
  rejected: KvDecodeError[],
): void {
  const cached = cache.entries.get(name);
  if (cached?.value === value) {
    if (cached.revision !== revision) cache.entries.set(name, { ...cached, revision });
    return;
  }
  let key: K;
  try {
    key = ctx.known?.(name, value) ?? ctx.decode(value, name);
  } catch (error: unknown) {
    rejected.push(new KvDecodeError(path, { cause: error }));
    if (cached !== undefined) {
      cache.entries.delete(name);
      changes.push({ type: 'delete', name, key: cached.key, value: cached.value });
    }
    return;
  }
  cache.entries.set(name, { name, key, value, revision });
  changes.push({ type: 'update', name, key, value });
}
