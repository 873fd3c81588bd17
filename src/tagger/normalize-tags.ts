/**
 * A TagInfo's tags as the store keeps them: one array, low first, then orchestrator, then high, each
 * tag once at its lowest cardinality; and the check that a source sends what it already stored.
 * Pure; internal to the store.
 */
import type { StoredSource } from './merged-tags.js';
import type { SourcePriority, TagInfo } from './types.js';

/** Up to this many tags, a linear scan beats building a Set or Map (and allocates nothing). */
export const SHORT_LIST = 16;

/** A TagInfo's tags, normalized. */
export interface Normalized {
  /** low, then orchestrator, then high; each tag once. */
  readonly tags: string[];
  readonly lowEnd: number;
  readonly orchestratorEnd: number;
}

/** One array of the TagInfo's tags, each once, at its lowest cardinality. */
export function normalize(info: TagInfo): Normalized {
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

export function sameSource(stored: StoredSource, priority: SourcePriority, next: Normalized): boolean {
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
