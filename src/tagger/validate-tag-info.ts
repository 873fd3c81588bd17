import { MAX_ENTITY_ID_LENGTH, isEntityId } from './entity-id.js';
import type { TagInfo } from './types.js';

/** The longest tag accepted, in UTF-16 code units. */
export const MAX_TAG_LENGTH = 200;

/** The longest source name accepted, in UTF-16 code units. */
export const MAX_SOURCE_LENGTH = 4096;

/** Why a TagInfo was refused. Stable strings: they name telemetry counters. */
export type TagInfoRejection =
  | 'not-an-object'
  | 'unreadable'
  | 'empty-entity'
  | 'invalid-entity'
  | 'entity-too-long'
  | 'empty-source'
  | 'source-too-long'
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
 * what is wrong with it, or returns `undefined` when it is sound. The entity must be `prefix://id`
 * of at most `MAX_ENTITY_ID_LENGTH` characters, the source at most {@link MAX_SOURCE_LENGTH}; a
 * property that throws when read makes it `'unreadable'`.
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
  const read = readTagInfo(info);
  return typeof read === 'string' ? read : undefined;
}

/**
 * Reads a TagInfo from outside the type system once: a plain copy of its fields (the tag arrays
 * are the same arrays), or why it was refused (see {@link validateTagInfo}). What is stored is the
 * copy, so that a getter is never read again where its throw would stop the store.
 *
 * @example
 * ```ts
 * const read = readTagInfo(untrusted);
 * if (typeof read === 'string') console.warn('rejected', read);
 * ```
 */
export function readTagInfo(info: unknown): TagInfo | TagInfoRejection {
  if (typeof info !== 'object' || info === null) return 'not-an-object';
  try {
    return readFields(info);
  } catch {
    // A getter or a proxy threw: the TagInfo cannot be read, which is a rejection like any other.
    return 'unreadable';
  }
}

function readFields(candidate: Partial<Record<keyof TagInfo, unknown>>): TagInfo | TagInfoRejection {
  const entity = candidate.entity;
  if (typeof entity !== 'string' || entity.length === 0) return 'empty-entity';
  if (entity.length > MAX_ENTITY_ID_LENGTH) return 'entity-too-long';
  if (!isEntityId(entity)) return 'invalid-entity';
  const source = candidate.source;
  if (typeof source !== 'string' || source.length === 0) return 'empty-source';
  if (source.length > MAX_SOURCE_LENGTH) return 'source-too-long';
  if (candidate.deleteEntity === true) return { entity, source, lowCardTags: [], orchestratorCardTags: [], highCardTags: [], deleteEntity: true };
  const lowCardTags = candidate.lowCardTags;
  const orchestratorCardTags = candidate.orchestratorCardTags;
  const highCardTags = candidate.highCardTags;
  const rejection = checkTags(lowCardTags) ?? checkTags(orchestratorCardTags) ?? checkTags(highCardTags);
  if (rejection !== undefined) return rejection;
  return {
    entity,
    source,
    lowCardTags: lowCardTags as readonly string[],
    orchestratorCardTags: orchestratorCardTags as readonly string[],
    highCardTags: highCardTags as readonly string[],
  };
}
