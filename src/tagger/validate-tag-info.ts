import type { TagInfo } from './types.js';

/** The longest tag accepted, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 200;

/** Why a TagInfo was refused. Stable strings: they name telemetry counters. */
export type TagInfoRejection =
  | 'not-an-object'
  | 'empty-entity'
  | 'empty-source'
  | 'tags-not-an-array'
  | 'tag-not-a-string'
  | 'empty-tag'
  | 'tag-too-long';

function checkTags(tags: unknown): TagInfoRejection | undefined {
  if (!Array.isArray(tags)) return 'tags-not-an-array';
  for (const tag of tags as readonly unknown[]) {
    if (typeof tag !== 'string') return 'tag-not-a-string';
    if (tag.length === 0) return 'empty-tag';
    if (tag.length > MAX_TAG_LENGTH) return 'tag-too-long';
  }
  return undefined;
}

/**
 * Checks a TagInfo that came from outside the type system (a collector, a socket, JSON) and names
 * what is wrong with it, or returns `undefined` when it is sound.
 *
 * A delete (`deleteEntity: true`) needs only its entity and source.
 *
 * @example
 * ```ts
 * validateTagInfo({ entity: '', source: 'docker', lowCardTags: [], orchestratorCardTags: [], highCardTags: [] });
 * // 'empty-entity'
 * ```
 */
export function validateTagInfo(info: unknown): TagInfoRejection | undefined {
  if (typeof info !== 'object' || info === null) return 'not-an-object';
  const candidate = info as Partial<Record<keyof TagInfo, unknown>>;
  if (typeof candidate.entity !== 'string' || candidate.entity.length === 0) return 'empty-entity';
  if (typeof candidate.source !== 'string' || candidate.source.length === 0) return 'empty-source';
  if (candidate.deleteEntity === true) return undefined;
  return (
    checkTags(candidate.lowCardTags) ??
    checkTags(candidate.orchestratorCardTags) ??
    checkTags(candidate.highCardTags)
  );
}
