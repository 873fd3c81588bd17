import type { EntityListing } from '../tagger/contract.js';
import type { KeyCodec } from './codec.js';

/**
 * One entity's tags as a host publishes them in a shared store: by cardinality, each list holding
 * only the tags of its own cardinality (not cumulative).
 */
export interface TagKey {
  /** The publishing host (the store collaborator's name). */
  readonly host: string;
  /** The entity id, `prefix://id`. */
  readonly entity: string;
  readonly low: readonly string[];
  readonly orchestrator: readonly string[];
  readonly high: readonly string[];
}

/**
 * The codec of {@link TagKey}s: JSON values, named `<host>/<entity>`, checked field by field when read.
 *
 * @example
 * ```ts
 * const store = await joinSharedStore({ prefix: 'tagstream/tags/v1', codec: tagKeyCodec, backend });
 * ```
 */
export const tagKeyCodec: KeyCodec<TagKey> = Object.freeze({
  keyName: (key: TagKey) => `${key.host}/${key.entity}`,
  encode: (key: TagKey) => JSON.stringify({ host: key.host, entity: key.entity, low: key.low, orchestrator: key.orchestrator, high: key.high }),
  decode: (value: string, name: string): TagKey => {
    const parsed = JSON.parse(value) as unknown;
    if (typeof parsed !== 'object' || parsed === null) throw new TypeError('a tag key must be a JSON object');
    const record = parsed as Record<string, unknown>;
    const host = record.host;
    const entity = record.entity;
    if (typeof host !== 'string' || host === '') throw new TypeError('a tag key needs a non-empty host');
    if (typeof entity !== 'string' || !entity.includes('://')) throw new TypeError('a tag key needs an entity id prefix://id');
    if (name !== `${host}/${entity}`) throw new TypeError(`a tag key named ${JSON.stringify(name)} holds ${JSON.stringify(`${host}/${entity}`)}`);
    return { host, entity, low: tagList(record.low, 'low'), orchestrator: tagList(record.orchestrator, 'orchestrator'), high: tagList(record.high, 'high') };
  },
});

function tagList(value: unknown, field: string): readonly string[] {
  if (!Array.isArray(value) || !value.every((tag): tag is string => typeof tag === 'string')) {
    throw new TypeError(`a tag key's ${field} must be an array of strings`);
  }
  return value;
}

/** What {@link desiredTagKeys} publishes. */
export interface DesiredTagKeysOptions {
  /** The publishing host. */
  readonly host: string;
  /** Only entities whose id starts with this prefix (or one of these). Default: all. */
  readonly prefix?: string | readonly string[];
  /** Only entities this accepts. Default: all. */
  readonly filter?: (entity: EntityListing) => boolean;
  /**
   * Sources that do not make an entity this host's: an entity only they hold (another host's,
   * through {@link sharedStoreCollector}) is not published. Default: `['kvstore']`.
   */
  readonly excludeSources?: readonly string[];
}

/**
 * The keys a host publishes for a tagger's entities: one per entity that passes the prefix, the
 * filter and has a source of its own, with its tags split by cardinality. Pure.
 *
 * @example
 * ```ts
 * desiredTagKeys(tagger.list(), { host: 'node-a', prefix: 'container_id://' });
 * // Map { 'node-a/container_id://3f' => { host: 'node-a', entity: 'container_id://3f', low: [...], ... } }
 * ```
 */
export function desiredTagKeys(listing: Iterable<EntityListing>, options: DesiredTagKeysOptions): Map<string, TagKey> {
  const prefixes = options.prefix === undefined ? [] : typeof options.prefix === 'string' ? [options.prefix] : options.prefix;
  const excluded = new Set(options.excludeSources ?? ['kvstore']);
  const keys = new Map<string, TagKey>();
  for (const entity of listing) {
    if (prefixes.length > 0 && !prefixes.some((p) => entity.entity.startsWith(p))) continue;
    if (!entity.sources.some((source) => !excluded.has(source))) continue;
    if (options.filter !== undefined && !options.filter(entity)) continue;
    const low = entity.tags.low;
    const lowSet = new Set(low);
    const orchestrator = entity.tags.orchestrator.filter((tag) => !lowSet.has(tag));
    const upToOrchestrator = new Set(entity.tags.orchestrator);
    const high = entity.tags.high.filter((tag) => !upToOrchestrator.has(tag));
    const key: TagKey = { host: options.host, entity: entity.entity, low, orchestrator, high };
    keys.set(tagKeyCodec.keyName(key), key);
  }
  return keys;
}

/** What changes between two sets of published keys. */
export interface TagKeysDiff {
  /** Keys new or with other tags. */
  readonly upserts: readonly TagKey[];
  /** Keys no longer published. */
  readonly deletes: readonly TagKey[];
}

/**
 * The writes that take the published keys from `before` to `after`. Pure.
 *
 * @example
 * ```ts
 * const { upserts, deletes } = diffTagKeys(published, desiredTagKeys(tagger.list(), { host }));
 * ```
 */
export function diffTagKeys(before: ReadonlyMap<string, TagKey>, after: ReadonlyMap<string, TagKey>): TagKeysDiff {
  const upserts: TagKey[] = [];
  const deletes: TagKey[] = [];
  for (const [name, key] of after) {
    const previous = before.get(name);
    if (previous === undefined || tagKeyCodec.encode(previous) !== tagKeyCodec.encode(key)) upserts.push(key);
  }
  for (const [name, key] of before) if (!after.has(name)) deletes.push(key);
  return { upserts, deletes };
}
