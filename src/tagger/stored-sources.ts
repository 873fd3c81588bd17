/**
 * One entity's sources as the store keeps them: a source's tags stored with their low-cardinality
 * strings interned (a replaced source keeps the pooled strings it sends again), released when it
 * goes, and the priority-ordered array of an entity's sources. Internal to the store.
 */
import type { InternPool } from './intern-pool.js';
import type { StoredSource } from './merged-tags.js';
import { type Normalized, SHORT_LIST } from './normalize-tags.js';
import type { SourcePriority } from './types.js';

/** The source to store for `normalized` tags, interning its low tags (and releasing `previous`'s it does not keep). */
export function storeSource(
  pool: InternPool,
  source: string,
  priority: SourcePriority,
  normalized: Normalized,
  previous: StoredSource | undefined,
): StoredSource {
  const tags = normalized.tags;
  const lowEnd = normalized.lowEnd;
  // Only low-cardinality tags repeat across many entities; pooling the others would only cost.
  if (previous === undefined) {
    for (let i = 0; i < lowEnd; i++) tags[i] = pool.acquire(tags[i] as string);
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
        tags[i] = pool.acquire(tag);
      }
    }
    for (let j = 0; j < oldEnd; j++) if (kept[j] === 0) pool.release(old[j] as string);
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

/** Gives back the interned low tags of a source that goes. */
export function releaseSource(pool: InternPool, stored: StoredSource): void {
  for (let i = 0; i < stored.lowEnd; i++) pool.release(stored.tags[i] as string);
}

/** The index of `source` in `sources`, or -1. */
export function indexOfSource(sources: readonly StoredSource[], source: string): number {
  for (let i = 0; i < sources.length; i++) if ((sources[i] as StoredSource).source === source) return i;
  return -1;
}

/** A new sources array without the one at `at` (if any) and with `added` (if any) in priority order. */
export function replaceSource(sources: readonly StoredSource[], at: number, added: StoredSource | undefined): StoredSource[] {
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
