import type { EntityTags } from '../tagger/tag-store-state.js';
import type { TagCardinality } from '../tagger/types.js';
import { sameArray } from '../util/arrays.js';
import type { EventLine } from './protocol.js';

/** What a mirror holds of one entity: its tags at each cardinality, frozen. */
export type MirrorEntry = EntityTags;

/**
 * A client's copy of a server's store, rebuilt from the event stream. Owned by its reducer and
 * updated in place; readers get frozen arrays.
 */
export interface MirrorState {
  /** What the mirror answers with. */
  readonly entities: Map<string, MirrorEntry>;
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
    else state.incoming.set(input.entity, entryOf(input.tags, input.levels));
    return [];
  }
  if (!state.synced) return [];
  const before = state.entities.get(input.entity);
  if (input.type === 'deleted') {
    if (before === undefined) return [];
    state.entities.delete(input.entity);
    return [{ entity: input.entity, before, after: undefined }];
  }
  const after = entryOf(input.tags, input.levels);
  if (before !== undefined && sameEntry(before, after)) return [];
  state.entities.set(input.entity, after);
  return [{ entity: input.entity, before, after }];
}

function replace(state: MirrorState): MirrorChange[] {
  const incoming = state.incoming;
  if (incoming === undefined) return [];
  state.incoming = undefined;
  state.synced = true;
  const changes: MirrorChange[] = [];
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
    changes.push({ entity, before, after });
  }
  return changes;
}

function entryOf(tags: readonly string[], levels: { readonly low: number; readonly orchestrator: number }): MirrorEntry {
  const high = Object.isFrozen(tags) ? tags : Object.freeze([...tags]);
  return {
    low: levels.low === high.length ? high : Object.freeze(high.slice(0, levels.low)),
    orchestrator: levels.orchestrator === high.length ? high : Object.freeze(high.slice(0, levels.orchestrator)),
    high,
  };
}

function sameEntry(a: MirrorEntry, b: MirrorEntry): boolean {
  return sameArray(a.high, b.high) && a.low.length === b.low.length && a.orchestrator.length === b.orchestrator.length;
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
