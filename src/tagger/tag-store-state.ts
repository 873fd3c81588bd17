import { sameArray } from '../util/arrays.js';
import { InternPool } from './intern-pool.js';
import type { SourcePriority, TagCardinality, TagInfo } from './types.js';

/** An entity's tags, cumulative by cardinality; frozen, computed once per change. */
export interface EntityTags {
  readonly low: readonly string[];
  /** low + orchestrator */
  readonly orchestrator: readonly string[];
  /** low + orchestrator + high */
  readonly high: readonly string[];
}

/** What one source stored for one entity (deduplicated). */
export interface StoredSource {
  readonly source: string;
  readonly priority: SourcePriority;
  readonly low: readonly string[];
  readonly orchestrator: readonly string[];
  readonly high: readonly string[];
}

/** One entity in the store: its sources, by priority (highest first), and its merged tags. */
export interface StoredEntity {
  readonly entity: string;
  readonly sources: readonly StoredSource[];
  readonly tags: EntityTags;
}

/**
 * The TagStore's state, read-only to everyone but {@link reduceTagStore}.
 *
 * It is owned by one `scan` and updated in place, so an event costs what it changes, never what the
 * store holds; readers get frozen tag arrays.
 */
export interface TagStoreState {
  readonly entities: ReadonlyMap<string, StoredEntity>;
  /** Entities whose delete waits for the next prune, with how many deletes are pending. */
  readonly pendingDeletes: ReadonlyMap<string, number>;
  /** How many entities each source holds tags for. */
  readonly entitiesBySource: ReadonlyMap<string, number>;
  /** How many prunes have run; a fetch records it to detect deletes that happened meanwhile. */
  readonly generation: number;
  /** The number of distinct interned tag strings. */
  readonly internedStrings: number;
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
  sources: StoredSource[];
  tags: EntityTags;
}

interface MutableState extends TagStoreState {
  readonly entities: Map<string, MutableEntity>;
  readonly pendingDeletes: Map<string, number>;
  readonly entitiesBySource: Map<string, number>;
  generation: number;
  /** The entities pruned by each of the last {@link PRUNE_HISTORY} prunes, oldest first. */
  readonly recentPrunes: ReadonlySet<string>[];
  readonly pool: InternPool;
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
    get internedStrings() {
      return this.pool.size;
    },
  };
  return state;
}

/** The tags of `entity` at `cardinality` (cumulative), or an empty frozen array. */
export function readTags(state: TagStoreState, entity: string, cardinality: TagCardinality): readonly string[] {
  const stored = state.entities.get(entity);
  return stored === undefined ? EMPTY : stored.tags[cardinality];
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
  const s = state as MutableState;
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
  return { state, event, changes: NO_CHANGES, ignored: reason };
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
  return { state, event, changes: NO_CHANGES };
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
    for (const source of stored.sources) dropSource(state, source);
    state.entities.delete(entity);
    changes.push({ type: 'deleted', entity, before: stored.tags, after: undefined });
  }
  state.generation += 1;
  state.recentPrunes.push(pruned);
  if (state.recentPrunes.length > PRUNE_HISTORY) state.recentPrunes.shift();
  return { state, event, changes };
}

function upsert(
  state: MutableState,
  event: TagStoreEvent,
  info: TagInfo,
  priority: SourcePriority,
  fromFetch: boolean,
): TagStoreStep {
  const low = unique(info.lowCardTags);
  const orchestrator = unique(info.orchestratorCardTags);
  const high = unique(info.highCardTags);
  const empty = low.length === 0 && orchestrator.length === 0 && high.length === 0;
  // A fetch that found nothing is a negative answer: it never erases what is stored.
  if (fromFetch && empty) return ignored(state, event, 'negative-fetch');

  const entity = info.entity;
  const stored = state.entities.get(entity);
  const at = stored === undefined ? -1 : stored.sources.findIndex((s) => s.source === info.source);
  const previous = at < 0 ? undefined : stored?.sources[at];
  if (previous === undefined ? empty : sameSource(previous, priority, low, orchestrator, high)) {
    return ignored(state, event, 'unchanged');
  }

  if (stored === undefined) {
    // Not stored and not empty (the equality check above returned for empty).
    const record: MutableEntity = {
      entity,
      sources: [addSource(state, info.source, priority, low, orchestrator, high)],
      tags: { low: EMPTY, orchestrator: EMPTY, high: EMPTY },
    };
    record.tags = mergeTags(record.sources);
    state.entities.set(entity, record);
    return { state, event, changes: [{ type: 'added', entity, before: undefined, after: record.tags }] };
  }

  if (previous !== undefined) {
    dropSource(state, previous);
    stored.sources.splice(at, 1);
  }
  if (!empty) insertByPriority(stored.sources, addSource(state, info.source, priority, low, orchestrator, high));
  const before = stored.tags;
  if (stored.sources.length === 0) {
    state.entities.delete(entity);
    return { state, event, changes: [{ type: 'deleted', entity, before, after: undefined }] };
  }
  const after = mergeTags(stored.sources);
  if (sameTags(before, after)) return ignored(state, event, 'unchanged');
  stored.tags = after;
  return { state, event, changes: [{ type: 'modified', entity, before, after }] };
}

function addSource(
  state: MutableState,
  source: string,
  priority: SourcePriority,
  low: string[],
  orchestrator: string[],
  high: string[],
): StoredSource {
  state.entitiesBySource.set(source, (state.entitiesBySource.get(source) ?? 0) + 1);
  // High-cardinality tags are unique per entity by definition: pooling them would only cost.
  return Object.freeze({
    source,
    priority,
    low: intern(state.pool, low),
    orchestrator: intern(state.pool, orchestrator),
    high: high.length === 0 ? EMPTY : Object.freeze(high),
  });
}

function dropSource(state: MutableState, stored: StoredSource): void {
  const count = (state.entitiesBySource.get(stored.source) ?? 0) - 1;
  if (count <= 0) state.entitiesBySource.delete(stored.source);
  else state.entitiesBySource.set(stored.source, count);
  for (const tag of stored.low) state.pool.release(tag);
  for (const tag of stored.orchestrator) state.pool.release(tag);
}

function intern(pool: InternPool, tags: string[]): readonly string[] {
  if (tags.length === 0) return EMPTY;
  for (let i = 0; i < tags.length; i++) tags[i] = pool.acquire(tags[i] as string);
  return Object.freeze(tags);
}

function insertByPriority(sources: StoredSource[], added: StoredSource): void {
  let i = 0;
  while (i < sources.length) {
    const other = sources[i] as StoredSource;
    if (other.priority < added.priority || (other.priority === added.priority && other.source > added.source)) break;
    i++;
  }
  sources.splice(i, 0, added);
}

/** The tags without exact duplicates, in first-seen order (a fresh array). */
function unique(tags: readonly string[]): string[] {
  const n = tags.length;
  if (n < 2) return n === 0 ? [] : [tags[0] as string];
  if (n <= 16) {
    const out: string[] = [];
    for (const tag of tags) if (!out.includes(tag)) out.push(tag);
    return out;
  }
  return [...new Set(tags)];
}

function sameSet(stored: readonly string[], next: readonly string[]): boolean {
  if (stored.length !== next.length) return false;
  if (stored.length <= 16) {
    for (const tag of next) if (!stored.includes(tag)) return false;
    return true;
  }
  const set = new Set(stored);
  for (const tag of next) if (!set.has(tag)) return false;
  return true;
}

function sameSource(
  stored: StoredSource,
  priority: SourcePriority,
  low: readonly string[],
  orchestrator: readonly string[],
  high: readonly string[],
): boolean {
  return (
    stored.priority === priority &&
    sameSet(stored.low, low) &&
    sameSet(stored.orchestrator, orchestrator) &&
    sameSet(stored.high, high)
  );
}

function sameTags(a: EntityTags, b: EntityTags): boolean {
  return sameArray(a.low, b.low) && sameArray(a.orchestrator, b.orchestrator) && sameArray(a.high, b.high);
}

/** The part of a tag before its first ':' (the whole tag when it has none). */
export function tagName(tag: string): string {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag : tag.slice(0, colon);
}

/**
 * Merges the sources of one entity into its cumulative tags: exact duplicates once; where sources
 * give tags of the same name, only the highest-priority sources' values; within a source, every value.
 * `sources` is ordered by priority, highest first.
 */
function mergeTags(sources: readonly StoredSource[]): EntityTags {
  const first = sources[0];
  if (first === undefined) return { low: EMPTY, orchestrator: EMPTY, high: EMPTY };
  if (sources.length === 1) return cumulative(first.low, first.orchestrator, first.high);

  // Sources come highest priority first: a name is owned by the first priority level that gives it.
  const owner = new Map<string, SourcePriority>();
  for (const source of sources) {
    for (const list of [source.low, source.orchestrator, source.high]) {
      for (const tag of list) {
        const name = tagName(tag);
        if (!owner.has(name)) owner.set(name, source.priority);
      }
    }
  }
  const seen = new Set<string>();
  const pick = (select: (s: StoredSource) => readonly string[]): string[] => {
    const out: string[] = [];
    for (const source of sources) {
      for (const tag of select(source)) {
        if (seen.has(tag) || owner.get(tagName(tag)) !== source.priority) continue;
        seen.add(tag);
        out.push(tag);
      }
    }
    return out;
  };
  const low = pick((s) => s.low);
  const orchestrator = pick((s) => s.orchestrator);
  const high = pick((s) => s.high);
  return cumulative(low, orchestrator, high);
}

function cumulative(low: readonly string[], orchestrator: readonly string[], high: readonly string[]): EntityTags {
  const lowTags = low.length === 0 ? EMPTY : Object.isFrozen(low) ? low : Object.freeze([...low]);
  const orchestratorTags = extend(lowTags, orchestrator);
  const highTags = extend(orchestratorTags, high);
  return Object.freeze({ low: lowTags, orchestrator: orchestratorTags, high: highTags });
}

/** `base` followed by the tags of `extra` it lacks; `base` itself when there are none. */
function extend(base: readonly string[], extra: readonly string[]): readonly string[] {
  if (extra.length === 0) return base;
  const has =
    base.length + extra.length <= 32 ? (t: string) => base.includes(t) : ((set) => (t: string) => set.has(t))(new Set(base));
  const added = extra.filter((t) => !has(t));
  return added.length === 0 ? base : Object.freeze([...base, ...added]);
}
