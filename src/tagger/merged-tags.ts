/**
 * An entity's merged tags: what its sources stored, merged by the TagStore's rules (exact
 * duplicates once; a tag name served only from the highest-priority sources that give it), computed
 * when first read and then kept. Pure; internal to the store.
 */
import type { EntityTags } from './contract.js';
import type { SourcePriority } from './types.js';

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

const EMPTY: readonly string[] = Object.freeze([]);

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
export class MergedTags implements EntityTags {
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
