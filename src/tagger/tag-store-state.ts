/**
 * The TagStore's state and its reducer: what each source stored for each entity, the deletes
 * waiting for a prune, and the interned low-cardinality tags. The state is opaque: it is read with
 * the functions of this module ({@link readTags}, {@link storedEntity}, ...) and changed only by
 * {@link reduceTagStore}.
 */
import type { EntityTags } from './contract.js';
import { InternPool } from './intern-pool.js';
import { MergedTags, type StoredSource } from './merged-tags.js';
import { normalize, sameSource } from './normalize-tags.js';
import { indexOfSource, releaseSource, replaceSource, storeSource } from './stored-sources.js';
import type { SourcePriority, TagCardinality, TagInfo } from './types.js';

// Named here too for the modules that import it from this file.

/** One entity in the store: its sources, by priority (highest first), and its merged tags. */
export interface StoredEntity {
  readonly entity: string;
  readonly sources: readonly StoredSource[];
  readonly tags: EntityTags;
}

declare const opaque: unique symbol;

/**
 * The TagStore's state: opaque, read with {@link readTags} (and, inside the tagger, the other
 * readers of this module), changed only by the store.
 *
 * It is owned by one `scan` and updated in place, so an event costs what it changes, never what the
 * store holds; readers get frozen tag arrays.
 */
export interface TagStoreState {
  readonly [opaque]: 'TagStoreState';
}

/**
 * What the store is asked to do.
 *
 * - `upsert`: a collector's TagInfo (with `deleteEntity`, the same as `markDelete`).
 * - `fetched`: a fetch-on-miss answer, started when the store was at `generation`; dropped if its
 *   entity's delete is pending or was pruned since, and never allowed to erase tags with an empty
 *   (not found) answer.
 * - `markDelete`: the entity goes at the next prune.
 * - `prune`: the deletes buffered over one window, applied now.
 */
export type TagStoreEvent =
  | { readonly type: 'upsert'; readonly info: TagInfo; readonly priority: SourcePriority }
  | {
      readonly type: 'fetched';
      readonly info: TagInfo;
      readonly priority: SourcePriority;
      readonly generation: number;
    }
  | { readonly type: 'markDelete'; readonly entity: string }
  | { readonly type: 'prune'; readonly entities: readonly string[] };

/** How one entity changed in one step. `before`/`after` are absent when it did not / no longer exists. */
export interface EntityChange {
  readonly type: 'added' | 'modified' | 'deleted';
  readonly entity: string;
  readonly before: EntityTags | undefined;
  readonly after: EntityTags | undefined;
}

/** Why the store ignored an event that it was given. */
export type IgnoredReason = 'unchanged' | 'negative-fetch' | 'delete-pending' | 'deleted-since-fetch';

/** One step of the store: the state after an event and the entities it changed (often none). */
export interface TagStoreStep {
  readonly state: TagStoreState;
  readonly event: TagStoreEvent;
  readonly changes: readonly EntityChange[];
  /** Set when the event changed nothing, with the reason. */
  readonly ignored?: IgnoredReason;
}

interface MutableEntity {
  readonly entity: string;
  /** Replaced, never mutated: a change's `before` keeps the old array. */
  sources: readonly StoredSource[];
  tags: MergedTags;
}

/** What a {@link TagStoreState} is inside this module. */
interface MutableState {
  readonly entities: Map<string, MutableEntity>;
  /** Entities whose delete waits for the next prune, with how many deletes are pending. */
  readonly pendingDeletes: Map<string, number>;
  /** How many entities each source holds tags for. */
  readonly entitiesBySource: Map<string, number>;
  /** How many prunes have run; a fetch records it to detect deletes that happened meanwhile. */
  generation: number;
  /** The entities pruned by each of the last {@link PRUNE_HISTORY} prunes, oldest first. */
  readonly recentPrunes: ReadonlySet<string>[];
  readonly pool: InternPool;
}

/** Every state is made by {@link createTagStoreState}: this is the one place it is looked into. */
function inner(state: TagStoreState): MutableState {
  return state as unknown as MutableState;
}

function outer(state: MutableState): TagStoreState {
  return state as unknown as TagStoreState;
}

/**
 * How many prunes back a fetch's answer can be checked against. An answer older than that is
 * dropped: its entity may have been deleted in between, and the next query fetches again.
 */
export const PRUNE_HISTORY = 16;

const EMPTY: readonly string[] = Object.freeze([]);
const NO_CHANGES: readonly EntityChange[] = Object.freeze([]);

/** An empty TagStore state, to seed the `scan`. */
export function createTagStoreState(): TagStoreState {
  const state: MutableState = {
    entities: new Map(),
    pendingDeletes: new Map(),
    entitiesBySource: new Map(),
    generation: 0,
    recentPrunes: [],
    pool: new InternPool(),
  };
  return outer(state);
}

/**
 * The tags of `entity` at `cardinality` (cumulative), or an empty frozen array.
 *
 * @example
 * ```ts
 * events$.pipe(tagStore({ pruneInterval: 1000 })).subscribe((step) => console.log(readTags(step.state, 'container_id://a', 'low')));
 * ```
 */
export function readTags(state: TagStoreState, entity: string, cardinality: TagCardinality): readonly string[] {
  const stored = inner(state).entities.get(entity);
  return stored === undefined ? EMPTY : stored.tags[cardinality];
}

/** The stored entity `entity`, or undefined. */
export function storedEntity(state: TagStoreState, entity: string): StoredEntity | undefined {
  return inner(state).entities.get(entity);
}

/** Every stored entity, read live from the state as the iterator advances. */
export function storedEntities(state: TagStoreState): IterableIterator<StoredEntity> {
  return inner(state).entities.values();
}

/** True when a delete of `entity` waits for the next prune. */
export function isDeletePending(state: TagStoreState, entity: string): boolean {
  return inner(state).pendingDeletes.has(entity);
}

/** How many prunes have run: a fetch notes it, so that the store can tell a delete it missed. */
export function pruneGeneration(state: TagStoreState): number {
  return inner(state).generation;
}

/** The store's gauges, as the Tagger's telemetry reports them. */
export interface StoreGauges {
  readonly entities: number;
  readonly entitiesBySource: Readonly<Record<string, number>>;
  readonly pendingDeletes: number;
  readonly internedStrings: number;
}

/** The store's gauges now (a copy). */
export function storeGauges(state: TagStoreState): StoreGauges {
  const s = inner(state);
  return {
    entities: s.entities.size,
    entitiesBySource: Object.fromEntries(s.entitiesBySource),
    pendingDeletes: s.pendingDeletes.size,
    internedStrings: s.pool.size,
  };
}

/**
 * The TagStore reducer: applies one event to the state and says which entities changed.
 *
 * It reads and writes nothing but its arguments; the state is updated in place (see
 * {@link TagStoreState}), so the same state object comes back.
 *
 * @example
 * ```ts
 * const state = createTagStoreState();
 * const step = reduceTagStore(state, {
 *   type: 'upsert',
 *   priority: SourcePriority.NodeRuntime,
 *   info: { entity: 'container_id://a', source: 'docker', lowCardTags: ['image_name:redis'],
 *     orchestratorCardTags: [], highCardTags: [] },
 * });
 * step.changes; // [{ type: 'added', entity: 'container_id://a', ... }]
 * ```
 */
export function reduceTagStore(state: TagStoreState, event: TagStoreEvent): TagStoreStep {
  const s = inner(state);
  switch (event.type) {
    case 'upsert':
      if (event.info.deleteEntity === true) return markDelete(s, event, event.info.entity);
      return upsert(s, event, event.info, event.priority, false);
    case 'fetched': {
      const entity = event.info.entity;
      if (event.info.deleteEntity === true) return markDelete(s, event, entity);
      if (s.pendingDeletes.has(entity)) return ignored(s, event, 'delete-pending');
      if (deletedSince(s, entity, event.generation)) return ignored(s, event, 'deleted-since-fetch');
      return upsert(s, event, event.info, event.priority, true);
    }
    case 'markDelete':
      return markDelete(s, event, event.entity);
    case 'prune':
      return prune(s, event);
  }
}

function ignored(state: MutableState, event: TagStoreEvent, reason: IgnoredReason): TagStoreStep {
  return { state: outer(state), event, changes: NO_CHANGES, ignored: reason };
}

function deletedSince(state: MutableState, entity: string, generation: number): boolean {
  const missed = state.generation - generation;
  if (missed <= 0) return false;
  if (missed > state.recentPrunes.length) return true;
  const history = state.recentPrunes;
  for (let i = history.length - missed; i < history.length; i++) {
    if (history[i]?.has(entity) === true) return true;
  }
  return false;
}

function markDelete(state: MutableState, event: TagStoreEvent, entity: string): TagStoreStep {
  state.pendingDeletes.set(entity, (state.pendingDeletes.get(entity) ?? 0) + 1);
  return { state: outer(state), event, changes: NO_CHANGES };
}

function prune(state: MutableState, event: TagStoreEvent & { type: 'prune' }): TagStoreStep {
  const changes: EntityChange[] = [];
  const pruned = new Set<string>();
  for (const entity of event.entities) {
    const pending = state.pendingDeletes.get(entity);
    if (pending !== undefined) {
      if (pending <= 1) state.pendingDeletes.delete(entity);
      else state.pendingDeletes.set(entity, pending - 1);
    }
    if (pruned.has(entity)) continue;
    pruned.add(entity);
    const stored = state.entities.get(entity);
    if (stored === undefined) continue;
    for (const source of stored.sources) {
      releaseSource(state.pool, source);
      countSource(state, source.source, -1);
    }
    state.entities.delete(entity);
    changes.push({ type: 'deleted', entity, before: stored.tags, after: undefined });
  }
  state.generation += 1;
  state.recentPrunes.push(pruned);
  if (state.recentPrunes.length > PRUNE_HISTORY) state.recentPrunes.shift();
  return { state: outer(state), event, changes };
}

function upsert(
  state: MutableState,
  event: TagStoreEvent,
  info: TagInfo,
  priority: SourcePriority,
  fromFetch: boolean,
): TagStoreStep {
  const normalized = normalize(info);
  const empty = normalized.tags.length === 0;
  // A fetch that found nothing is a negative answer: it never erases what is stored.
  if (fromFetch && empty) return ignored(state, event, 'negative-fetch');

  const entity = info.entity;
  const stored = state.entities.get(entity);
  const at = stored === undefined ? -1 : indexOfSource(stored.sources, info.source);
  const previous = at < 0 ? undefined : stored?.sources[at];
  if (previous === undefined ? empty : sameSource(previous, priority, normalized)) {
    return ignored(state, event, 'unchanged');
  }

  // Interned low tags that the source sends again move to the new entry as they are.
  const added = empty ? undefined : storeSource(state.pool, info.source, priority, normalized, previous);
  if (previous === undefined) countSource(state, info.source, 1);
  else if (added === undefined) countSource(state, info.source, -1);
  if (stored === undefined) {
    const sources = [added as StoredSource];
    const record: MutableEntity = { entity, sources, tags: new MergedTags(sources) };
    state.entities.set(entity, record);
    return { state: outer(state), event, changes: [{ type: 'added', entity, before: undefined, after: record.tags }] };
  }

  if (previous !== undefined && added === undefined) releaseSource(state.pool, previous);
  const sources = replaceSource(stored.sources, at, added);
  const before = stored.tags;
  if (sources.length === 0) {
    state.entities.delete(entity);
    return { state: outer(state), event, changes: [{ type: 'deleted', entity, before, after: undefined }] };
  }
  stored.sources = sources;
  stored.tags = new MergedTags(sources);
  // The merged tags are computed when first read: a change of a source may leave them equal, and
  // readers that compare (tags$, events$) see that; only an identical source update is dropped here.
  return { state: outer(state), event, changes: [{ type: 'modified', entity, before, after: stored.tags }] };
}

function countSource(state: MutableState, source: string, delta: 1 | -1): void {
  const count = (state.entitiesBySource.get(source) ?? 0) + delta;
  if (count <= 0) state.entitiesBySource.delete(source);
  else state.entitiesBySource.set(source, count);
}
