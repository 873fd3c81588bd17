import { InternPool } from './intern-pool.js';
import type { SourcePriority, TagCardinality, TagInfo } from './types.js';

/** An entity's tags, cumulative by cardinality; frozen arrays, computed once per change. */
export interface EntityTags {
  readonly low: readonly string[];
  /** low + orchestrator */
  readonly orchestrator: readonly string[];
  /** low + orchestrator + high */
  readonly high: readonly string[];
}

/**
 * What one source stored for one entity: its tags in one array, low first, then orchestrator,
 * then high, without duplicates (a tag given at two cardinalities is kept at the lower). Never
 * changed once stored; frozen when first read through the entity's merged tags.
 */
export interface StoredSource {
  readonly source: string;
  readonly priority: SourcePriority;
  readonly tags: readonly string[];
  /** `tags.slice(0, lowEnd)` are the low-cardinality tags. */
  readonly lowEnd: number;
  /** `tags.slice(lowEnd, orchestratorEnd)` are the orchestrator-cardinality tags; the rest are high. */
  readonly orchestratorEnd: number;
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
  /** Replaced, never mutated: a change's `before` keeps the old array. */
  sources: readonly StoredSource[];
  tags: MergedTags;
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
/** Up to this many tags, a linear scan beats building a Set or Map (and allocates nothing). */
const SHORT_LIST = 16;

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
    for (const source of stored.sources) {
      dropSource(state, source);
      countSource(state, source.source, -1);
    }
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
  const added = empty ? undefined : addSource(state, info.source, priority, normalized, previous);
  if (previous === undefined) countSource(state, info.source, 1);
  else if (added === undefined) countSource(state, info.source, -1);
  if (stored === undefined) {
    const sources = [added as StoredSource];
    const record: MutableEntity = { entity, sources, tags: new MergedTags(sources) };
    state.entities.set(entity, record);
    return { state, event, changes: [{ type: 'added', entity, before: undefined, after: record.tags }] };
  }

  if (previous !== undefined && added === undefined) dropSource(state, previous);
  const sources = replaceSource(stored.sources, at, added);
  const before = stored.tags;
  if (sources.length === 0) {
    state.entities.delete(entity);
    return { state, event, changes: [{ type: 'deleted', entity, before, after: undefined }] };
  }
  stored.sources = sources;
  stored.tags = new MergedTags(sources);
  // The merged tags are computed when first read: a change of a source may leave them equal, and
  // readers that compare (tags$, events$) see that; only an identical source update is dropped here.
  return { state, event, changes: [{ type: 'modified', entity, before, after: stored.tags }] };
}

interface Normalized {
  /** low, then orchestrator, then high; each tag once. */
  readonly tags: string[];
  readonly lowEnd: number;
  readonly orchestratorEnd: number;
}

/** One array of the TagInfo's tags, each once, at its lowest cardinality. */
function normalize(info: TagInfo): Normalized {
  const low = info.lowCardTags;
  const orchestrator = info.orchestratorCardTags;
  const high = info.highCardTags;
  const total = low.length + orchestrator.length + high.length;
  // Sized once: the array is kept for as long as the source's tags are, and a pushed array keeps
  // half again its length in spare capacity.
  const tags = new Array<string>(total);
  const seen = total > SHORT_LIST ? new Set<string>() : undefined;
  let n = appendNew(tags, 0, low, seen);
  const lowEnd = n;
  n = appendNew(tags, n, orchestrator, seen);
  const orchestratorEnd = n;
  n = appendNew(tags, n, high, seen);
  if (n < total) tags.length = n;
  return { tags, lowEnd, orchestratorEnd };
}

/**
 * Writes the tags of `from` that `to[0, n)` lacks from index `n` on and returns the new count (a
 * linear scan for short lists, else `seen`).
 */
function appendNew(to: string[], n: number, from: readonly string[], seen: Set<string> | undefined): number {
  let count = n;
  for (let i = 0; i < from.length; i++) {
    const tag = from[i] as string;
    if (seen === undefined) {
      let j = 0;
      while (j < count && to[j] !== tag) j++;
      if (j < count) continue;
    } else {
      if (seen.has(tag)) continue;
      seen.add(tag);
    }
    to[count++] = tag;
  }
  return count;
}

function addSource(
  state: MutableState,
  source: string,
  priority: SourcePriority,
  normalized: Normalized,
  previous: StoredSource | undefined,
): StoredSource {
  const tags = normalized.tags;
  const lowEnd = normalized.lowEnd;
  // Only low-cardinality tags repeat across many entities; pooling the others would only cost.
  if (previous === undefined) {
    for (let i = 0; i < lowEnd; i++) tags[i] = state.pool.acquire(tags[i] as string);
  } else {
    // Replacing a source: a tag it sends again keeps its pooled instance and its reference (no
    // release and acquire pair); the others are acquired, and the previous ones not kept released.
    const old = previous.tags;
    const oldEnd = previous.lowEnd;
    const kept = new Uint8Array(oldEnd);
    const find = oldEnd <= SHORT_LIST ? undefined : indexOfLow(old, oldEnd);
    for (let i = 0; i < lowEnd; i++) {
      const tag = tags[i] as string;
      const j = find === undefined ? scan(old, oldEnd, tag) : (find.get(tag) ?? -1);
      if (j >= 0) {
        tags[i] = old[j] as string;
        kept[j] = 1;
      } else {
        tags[i] = state.pool.acquire(tag);
      }
    }
    for (let j = 0; j < oldEnd; j++) if (kept[j] === 0) state.pool.release(old[j] as string);
  }
  // Frozen when first read (see MergedTags): most stored arrays are replaced before anyone reads them.
  return { source, priority, tags, lowEnd, orchestratorEnd: normalized.orchestratorEnd };
}

/** The index of `tag` in `tags[0, end)`, or -1. */
function scan(tags: readonly string[], end: number, tag: string): number {
  for (let j = 0; j < end; j++) if (tags[j] === tag) return j;
  return -1;
}

/** Tag -> index for `tags[0, end)` (a stored source holds each tag once): replacing stays linear. */
function indexOfLow(tags: readonly string[], end: number): Map<string, number> {
  const index = new Map<string, number>();
  for (let j = 0; j < end; j++) index.set(tags[j] as string, j);
  return index;
}

function dropSource(state: MutableState, stored: StoredSource): void {
  for (let i = 0; i < stored.lowEnd; i++) state.pool.release(stored.tags[i] as string);
}

function countSource(state: MutableState, source: string, delta: 1 | -1): void {
  const count = (state.entitiesBySource.get(source) ?? 0) + delta;
  if (count <= 0) state.entitiesBySource.delete(source);
  else state.entitiesBySource.set(source, count);
}

function indexOfSource(sources: readonly StoredSource[], source: string): number {
  for (let i = 0; i < sources.length; i++) if ((sources[i] as StoredSource).source === source) return i;
  return -1;
}

/** A new sources array without the one at `at` (if any) and with `added` (if any) in priority order. */
function replaceSource(sources: readonly StoredSource[], at: number, added: StoredSource | undefined): StoredSource[] {
  const next: StoredSource[] = [];
  let placed = added === undefined;
  for (let i = 0; i < sources.length; i++) {
    if (i === at) continue;
    const other = sources[i] as StoredSource;
    if (!placed && added !== undefined && (other.priority < added.priority || (other.priority === added.priority && other.source > added.source))) {
      next.push(added);
      placed = true;
    }
    next.push(other);
  }
  if (!placed && added !== undefined) next.push(added);
  return next;
}

/** True when the segment [from, to) of both arrays holds the same tags, in any order. */
function sameSegment(a: readonly string[], b: readonly string[], from: number, to: number): boolean {
  if (to - from <= SHORT_LIST) {
    for (let i = from; i < to; i++) {
      const tag = b[i] as string;
      let found = false;
      for (let j = from; j < to && !found; j++) found = a[j] === tag;
      if (!found) return false;
    }
    return true;
  }
  const set = new Set(a.slice(from, to));
  for (let i = from; i < to; i++) if (!set.has(b[i] as string)) return false;
  return true;
}

function sameSource(stored: StoredSource, priority: SourcePriority, next: Normalized): boolean {
  return (
    stored.priority === priority &&
    stored.tags.length === next.tags.length &&
    stored.lowEnd === next.lowEnd &&
    stored.orchestratorEnd === next.orchestratorEnd &&
    sameSegment(stored.tags, next.tags, 0, next.lowEnd) &&
    sameSegment(stored.tags, next.tags, next.lowEnd, next.orchestratorEnd) &&
    sameSegment(stored.tags, next.tags, next.orchestratorEnd, next.tags.length)
  );
}

/** The part of a tag before its first ':' (the whole tag when it has none). */
export function tagName(tag: string): string {
  const colon = tag.indexOf(':');
  return colon < 0 ? tag : tag.slice(0, colon);
}

/**
 * An entity's merged tags, computed from its sources when first read and then kept (frozen).
 * Merging: exact duplicates once; where sources give tags of the same name, only the values of the
 * highest-priority sources that give it; within a source, every value.
 */
class MergedTags implements EntityTags {
  private all: readonly string[] | undefined;
  private lowEnd = 0;
  private orchestratorEnd = 0;
  private lowView: readonly string[] | undefined;
  private orchestratorView: readonly string[] | undefined;

  constructor(private readonly sources: readonly StoredSource[]) {}

  get high(): readonly string[] {
    return this.all ?? this.merge();
  }

  get low(): readonly string[] {
    return (this.lowView ??= this.slice(this.high, this.lowEnd));
  }

  get orchestrator(): readonly string[] {
    return (this.orchestratorView ??= this.slice(this.high, this.orchestratorEnd));
  }

  private slice(all: readonly string[], end: number): readonly string[] {
    return end === all.length ? all : end === 0 ? EMPTY : Object.freeze(all.slice(0, end));
  }

  private merge(): readonly string[] {
    const sources = this.sources;
    const only = sources.length === 1 ? sources[0] : undefined;
    if (only !== undefined) {
      this.lowEnd = only.lowEnd;
      this.orchestratorEnd = only.orchestratorEnd;
      return (this.all = Object.freeze(only.tags));
    }
    // Sources come highest priority first: a name belongs to the first priority level giving it.
    const owner = new Map<string, SourcePriority>();
    for (const source of sources) {
      for (const tag of source.tags) {
        const name = tagName(tag);
        if (!owner.has(name)) owner.set(name, source.priority);
      }
    }
    const all: string[] = [];
    const seen = new Set<string>();
    const pick = (from: (s: StoredSource) => number, to: (s: StoredSource) => number): number => {
      for (const source of sources) {
        for (let i = from(source); i < to(source); i++) {
          const tag = source.tags[i] as string;
          if (seen.has(tag) || owner.get(tagName(tag)) !== source.priority) continue;
          seen.add(tag);
          all.push(tag);
        }
      }
      return all.length;
    };
    this.lowEnd = pick(() => 0, (s) => s.lowEnd);
    this.orchestratorEnd = pick((s) => s.lowEnd, (s) => s.orchestratorEnd);
    pick((s) => s.orchestratorEnd, (s) => s.tags.length);
    return (this.all = Object.freeze(all));
  }
}
