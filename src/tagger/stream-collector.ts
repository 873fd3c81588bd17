import type { Observable } from 'rxjs';
import { type Collector, SourcePriority, type TagInfo } from './types.js';

/** Options of {@link streamCollector}. */
export interface StreamCollectorOptions {
  /** Default: `SourcePriority.NodeRuntime`. */
  readonly priority?: SourcePriority;
  /** A look-up for cache misses (see {@link Collector.fetch}). */
  readonly fetch?: (entity: string) => Observable<TagInfo>;
}

/**
 * Makes a stream collector out of any Observable of TagInfo — for your own sources and for tests.
 *
 * @example
 * ```ts
 * const updates = new Subject<TagInfo>();
 * const tagger = createTagger({ collectors: [streamCollector('my-source', updates)] });
 * tagger.start();
 * updates.next(tagInfo({ entity: containerId('a'), source: 'my-source', low: ['team:core'] }));
 * ```
 */
export function streamCollector(
  source: string,
  tagInfo$: Observable<TagInfo>,
  options: StreamCollectorOptions = {},
): Collector {
  const base = { source, priority: options.priority ?? SourcePriority.NodeRuntime, mode: 'stream' as const, tagInfo$ };
  return options.fetch === undefined ? base : { ...base, fetch: options.fetch };
}

/** The fields of {@link tagInfo}. */
export interface TagInfoInit {
  readonly entity: string;
  readonly source: string;
  readonly low?: readonly string[];
  readonly orchestrator?: readonly string[];
  readonly high?: readonly string[];
}

/**
 * Builds a TagInfo with empty lists for the cardinalities not given.
 *
 * @example
 * ```ts
 * tagInfo({ entity: containerId('a'), source: 'docker', low: ['image_name:redis'] });
 * ```
 */
export function tagInfo(init: TagInfoInit): TagInfo {
  return {
    entity: init.entity,
    source: init.source,
    lowCardTags: init.low ?? [],
    orchestratorCardTags: init.orchestrator ?? [],
    highCardTags: init.high ?? [],
  };
}

/**
 * A TagInfo that deletes `entity` (every source's tags) at the next prune.
 *
 * @example
 * ```ts
 * updates.next(deleteEntityInfo(containerId('a'), 'docker'));
 * ```
 */
export function deleteEntityInfo(entity: string, source: string): TagInfo {
  return { entity, source, lowCardTags: [], orchestratorCardTags: [], highCardTags: [], deleteEntity: true };
}
