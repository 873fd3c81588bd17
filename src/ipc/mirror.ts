import type { EntityCompleteness, EntityTags } from '../tagger/contract.js';
import type { StoreReader } from '../tagger/read-side.js';
import type { TagCardinality } from '../tagger/types.js';
import { sameArray } from '../util/arrays.js';
import type { EventLine } from './protocol.js';

/**
 * What a mirror holds of one entity: its tags at each cardinality, frozen, and whether the server
 * says it is complete (`undefined`: a server that does not say).
 */
export interface MirrorEntry extends EntityTags {
  readonly complete?: boolean | undefined;
}

/**
 * A client's copy of a server's store, rebuilt from the event stream. Owned by its reducer and
 * updated in place; readers get frozen arrays.
 */
export interface MirrorState {
  /** What the mirror answers with (the map itself is replaced by a first burst, when it was empty). */
  entities: Map<string, MirrorEntry>;
  /** The burst of the current connection, until its `synced` line; then it replaces `entities`. */
  incoming: Map<string, MirrorEntry> | undefined;
  /** True between a connection's `synced` line and the end of that connection. */
  synced: boolean;
}

/** What the mirror is told: a connection begins, or a line of its stream arrived. */
export type MirrorInput =
  | { readonly type: 'connecting' }
  | { readonly type: 'disconnected' }
  | { readonly type: 'synced' }
  | (EventLine & { readonly levels: NonNullable<EventLine['levels']> });

/** A change of one entity in the mirror. */
export interface MirrorChange {
  readonly entity: string;
  readonly before: MirrorEntry | undefined;
  readonly after: MirrorEntry | undefined;
  /** The server now says the entity is complete, and said otherwise before (its tags may be the same). */
  readonly completed?: boolean;
}

const EMPTY: readonly string[] = Object.freeze([]);

/**
 * A fresh, empty mirror.
 *
 * @example
 * ```ts
 * const mirror = createMirrorState();
 * reduceMirror(mirror, { type: 'connecting' });
 * ```
 */
export function createMirrorState(): MirrorState {
  return { entities: new Map(), incoming: undefined, synced: false };
}

/**
 * Applies one input to the mirror and returns the entities it changed. A connection's burst is
 * gathered apart and replaces the whole mirror at its `synced` line — an entity the server no longer
 * has is reported deleted, so nothing stale survives an outage; after that, events apply one by one.
 * Until the burst is complete, the mirror keeps answering with what it had.
 *
 * @example
 * ```ts
 * reduceMirror(mirror, { type: 'connecting' });
 * reduceMirror(mirror, { type: 'added', entity: 'container_id://a', tags: ['env:prod'], levels: { low: 1, orchestrator: 1 } });
 * reduceMirror(mirror, { type: 'synced' }); // [{ entity: 'container_id://a', before: undefined, after: {...} }]
 * ```
 */
export function reduceMirror(state: MirrorState, input: MirrorInput): MirrorChange[] {
  switch (input.type) {
    case 'connecting':
      state.incoming = new Map();
      state.synced = false;
      return [];
    case 'disconnected':
      state.incoming = undefined;
      state.synced = false;
      return [];
    case 'synced':
      return replace(state);
    default:
      break;
  }
  if (state.incoming !== undefined) {
    if (input.type === 'deleted') state.incoming.delete(input.entity);
    else state.incoming.set(input.entity, entryOf(input.tags, input.levels, input.complete));
    return [];
  }
  if (!state.synced) return [];
  const before = state.entities.get(input.entity);
  if (input.type === 'deleted') {
    if (before === undefined) return [];
    state.entities.delete(input.entity);
    return [{ entity: input.entity, before, after: undefined }];
  }
  const after = entryOf(input.tags, input.levels, input.complete);
  if (before !== undefined && sameEntry(before, after)) return [];
  state.entities.set(input.entity, after);
  return [change(input.entity, before, after)];
}

function replace(state: MirrorState): MirrorChange[] {
  const incoming = state.incoming;
  if (incoming === undefined) return [];
  state.incoming = undefined;
  state.synced = true;
  const changes: MirrorChange[] = [];
  if (state.entities.size === 0) {
    // Nothing to compare with: the burst becomes the mirror as it is.
    state.entities = incoming;
    for (const [entity, after] of incoming) changes.push({ entity, before: undefined, after });
    return changes;
  }
  for (const [entity, before] of state.entities) {
    if (!incoming.has(entity)) {
      state.entities.delete(entity);
      changes.push({ entity, before, after: undefined });
    }
  }
  for (const [entity, after] of incoming) {
    const before = state.entities.get(entity);
    if (before !== undefined && sameEntry(before, after)) continue;
    state.entities.set(entity, after);
    changes.push(change(entity, before, after));
  }
  return changes;
}

function change(entity: string, before: MirrorEntry | undefined, after: MirrorEntry): MirrorChange {
  return before !== undefined && after.complete === true && before.complete !== true ? { entity, before, after, completed: true } : { entity, before, after };
}

/**
 * A mirror entry as the stream gives it: the `high` tags and how many of them the narrower answers
 * take. The narrower arrays are cut on first read (a sync of many entities cuts none up front).
 */
class LevelTags implements MirrorEntry {
  private lowTags: readonly string[] | undefined;
  private orchestratorTags: readonly string[] | undefined;

  constructor(
    readonly high: readonly string[],
    readonly lowCount: number,
    readonly orchestratorCount: number,
    readonly complete: boolean | undefined,
  ) {}

  get low(): readonly string[] {
    return (this.lowTags ??= firstTags(this.high, this.lowCount));
  }

  get orchestrator(): readonly string[] {
    return (this.orchestratorTags ??= firstTags(this.high, this.orchestratorCount));
  }
}

function firstTags(high: readonly string[], count: number): readonly string[] {
  return count === high.length ? high : Object.freeze(high.slice(0, count));
}

function entryOf(tags: readonly string[], levels: { readonly low: number; readonly orchestrator: number }, complete: boolean | undefined): MirrorEntry {
  const high = Object.isFrozen(tags) ? tags : Object.freeze([...tags]);
  return new LevelTags(high, levels.low, levels.orchestrator, complete);
}

function sameEntry(a: MirrorEntry, b: MirrorEntry): boolean {
  if (!sameArray(a.high, b.high) || a.complete !== b.complete) return false;
  if (a instanceof LevelTags && b instanceof LevelTags) return a.lowCount === b.lowCount && a.orchestratorCount === b.orchestratorCount;
  return a.low.length === b.low.length && a.orchestrator.length === b.orchestrator.length;
}

/**
 * The entity's tags in the mirror at `cardinality`, or an empty frozen array.
 *
 * @example
 * ```ts
 * readMirror(mirror, 'container_id://a', 'low'); // ['env:prod']
 * ```
 */
export function readMirror(state: MirrorState, entity: string, cardinality: TagCardinality): readonly string[] {
  return state.entities.get(entity)?.[cardinality] ?? EMPTY;
}

const COMPLETE: EntityCompleteness = Object.freeze({ complete: true, missing: Object.freeze([]) });
/** The stream says an entity is incomplete, not which sources it misses. */
const INCOMPLETE: EntityCompleteness = Object.freeze({ complete: false, missing: Object.freeze(['unknown']) });

/**
 * The entity's completeness as the server's stream last said it: `undefined` when the mirror lacks
 * the entity or the server does not say (older than `complete` on event lines); `missing` is
 * `['unknown']` when incomplete (the stream does not say which sources).
 *
 * @example
 * ```ts
 * mirrorCompleteness(mirror, 'container_id://a'); // { complete: true, missing: [] }
 * ```
 */
export function mirrorCompleteness(state: MirrorState, entity: string): EntityCompleteness | undefined {
  const complete = state.entities.get(entity)?.complete;
  return complete === undefined ? undefined : complete ? COMPLETE : INCOMPLETE;
}

/**
 * The mirror as a Tagger's read side reads it: tags at each cardinality and completeness as the
 * stream says it, no sources (the stream does not carry them; `TaggerClient.entitySources$()` asks
 * the server for them).
 *
 * @example
 * ```ts
 * const reads = new ReadSide(mirrorReader(mirror), counters, miss);
 * ```
 */
export function mirrorReader(state: MirrorState): StoreReader {
  return {
    read: (entity, cardinality) => readMirror(state, entity, cardinality),
    completeness: (entity) => mirrorCompleteness(state, entity),
    // `state.entities` is read at each call: the first burst replaces the map.
    entries: () => state.entities.entries(),
    sources: () => [],
    bySource: () => [],
    gauges: () => ({ entities: state.entities.size, entitiesBySource: {}, pendingDeletes: 0, internedStrings: 0 }),
  };
}
