import type { TagCardinality, TagInfo } from '../../tagger/types.js';

/**
 * Tags sorted by cardinality, each list without duplicates, no tag in two lists.
 *
 * @example
 * ```ts
 * const tags: CardinalityTags = { low: ['image_name:redis'], orchestrator: [], high: ['container_id:abc'] };
 * ```
 */
export interface CardinalityTags {
  readonly low: readonly string[];
  readonly orchestrator: readonly string[];
  readonly high: readonly string[];
}

const RANK: Readonly<Record<TagCardinality, number>> = { low: 0, orchestrator: 1, high: 2 };

/**
 * Collects `name:value` tags by cardinality, dropping duplicates.
 *
 * A tag added twice is kept once, at the lowest cardinality it was added at: queries are
 * cumulative (a `high` query also answers the low tags), so a tag in two lists would be answered
 * twice. Tags with an empty name or an empty value are not tags and are not added.
 *
 * @example
 * ```ts
 * const tags = new TagBuilder().addLow('image_name', 'redis').addHigh('container_id', 'abc').build();
 * // { low: ['image_name:redis'], orchestrator: [], high: ['container_id:abc'] }
 * ```
 */
export class TagBuilder {
  private readonly tags: Map<string, TagCardinality>;

  constructor(from?: TagBuilder) {
    this.tags = new Map(from?.tags);
  }

  /** Adds `name:value` at `cardinality`; ignored when the name or the value is empty. */
  add(cardinality: TagCardinality, name: string, value: string): this {
    if (name.length === 0 || value.length === 0) return this;
    return this.addTag(cardinality, `${name}:${value}`);
  }

  /** Adds a whole tag (`name:value`, or a bare name) at `cardinality`; ignored when empty. */
  addTag(cardinality: TagCardinality, tag: string): this {
    if (tag.length === 0) return this;
    const current = this.tags.get(tag);
    if (current === undefined || RANK[cardinality] < RANK[current]) this.tags.set(tag, cardinality);
    return this;
  }

  /** Adds a low-cardinality tag. */
  addLow(name: string, value: string): this {
    return this.add('low', name, value);
  }

  /** Adds an orchestrator-cardinality tag. */
  addOrchestrator(name: string, value: string): this {
    return this.add('orchestrator', name, value);
  }

  /** Adds a high-cardinality tag. */
  addHigh(name: string, value: string): this {
    return this.add('high', name, value);
  }

  /** Adds at high when the name starts with '+' (the '+' dropped), at low otherwise. */
  addAuto(name: string, value: string): this {
    return name.startsWith('+') ? this.addHigh(name.slice(1), value) : this.addLow(name, value);
  }

  /** An independent copy: adding to it leaves this builder unchanged. */
  copy(): TagBuilder {
    return new TagBuilder(this);
  }

  /** The tags collected so far, in the order they were first added. */
  build(): CardinalityTags {
    const low: string[] = [];
    const orchestrator: string[] = [];
    const high: string[] = [];
    const lists: Readonly<Record<TagCardinality, string[]>> = { low, orchestrator, high };
    for (const [tag, cardinality] of this.tags) lists[cardinality].push(tag);
    return { low, orchestrator, high };
  }

  /** The tags collected so far as a TagInfo for `entity` from `source`. */
  toTagInfo(entity: string, source: string): TagInfo {
    const { low, orchestrator, high } = this.build();
    return { entity, source, lowCardTags: low, orchestratorCardTags: orchestrator, highCardTags: high };
  }
}
