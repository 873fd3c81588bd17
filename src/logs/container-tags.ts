import { containerId, isEntityId } from '../tagger/entity-id.js';
import type { Tagger } from '../tagger/contract.js';
import type { TagCardinality } from '../tagger/types.js';
import { consoleLogger, type Logger } from '../util/logger.js';
import { createLogCollector, type LogCollector, type LogCollectorOptions } from './collector.js';
import type { Coordinator } from './coordinator.js';
import type { LogStreamDescriptor } from './types.js';
import { tagError } from './validate.js';

/** The descriptor tag that names a stream's container, by default. */
export const CONTAINER_ID_TAG = 'container_id';

/** Options of {@link containerTagsCoordinator}. */
export interface ContainerTagsOptions {
  /** Where the container's tags come from: a `Tagger` (only its `tag` is used). */
  readonly tagger: Pick<Tagger, 'tag'>;
  /** The descriptor tag holding the container id (a raw id or `container_id://…`). Default `container_id`. */
  readonly containerIdTag?: string;
  /** The cardinality asked for. Default 'high' (logs are per container). */
  readonly cardinality?: TagCardinality;
  /** Default `consoleLogger('warn')`. */
  readonly logger?: Logger;
}

/**
 * Adds tagger tags (`key:value`) to descriptor tags: the producer's own tags win, several values of
 * one key are joined with ',', and tags that would make the descriptor invalid are left out.
 * Answers the tags and how many were left out.
 *
 * @example
 * ```ts
 * mergeTags({ container_id: 'a' }, ['image_name:redis', 'env:prod', 'env:dev']);
 * // { tags: { container_id: 'a', image_name: 'redis', env: 'prod,dev' }, skipped: 0 }
 * ```
 */
export function mergeTags(
  own: Readonly<Record<string, string>>,
  tags: readonly string[],
): { tags: Record<string, string>; skipped: number } {
  const added = new Map<string, string[]>();
  for (const tag of tags) {
    const at = tag.indexOf(':');
    const key = at < 0 ? tag : tag.slice(0, at);
    const value = at < 0 ? '' : tag.slice(at + 1);
    if (Object.hasOwn(own, key)) continue;
    const values = added.get(key);
    if (values === undefined) added.set(key, [value]);
    else if (!values.includes(value)) values.push(value);
  }
  const merged: Record<string, string> = { ...own };
  let skipped = 0;
  for (const [key, values] of added) {
    const value = values.join(',');
    if (tagError(key, value) === undefined) merged[key] = value;
    else skipped++;
  }
  return { tags: merged, skipped };
}

/**
 * Wraps a {@link Coordinator} so that a stream whose descriptor tags name a container is
 * registered with that container's tags (from a `Tagger`) added to its descriptor. Put it under
 * the cache — as {@link createTaggedLogCollector} does — so the tagger is asked once per stream
 * registration, not once per bundle. A tagger failure is logged and the stream is registered with
 * the producer's tags alone: logs matter more than their tags.
 *
 * @example
 * ```ts
 * const coordinator = containerTagsCoordinator(memoryCoordinator(), { tagger });
 * ```
 */
export function containerTagsCoordinator(inner: Coordinator, options: ContainerTagsOptions): Coordinator {
  const tagKey = options.containerIdTag ?? CONTAINER_ID_TAG;
  const cardinality = options.cardinality ?? 'high';
  const logger = options.logger ?? consoleLogger('warn');

  async function describe(descriptor: LogStreamDescriptor): Promise<LogStreamDescriptor> {
    const id = descriptor.tags[tagKey];
    if (id === undefined || id === '') return descriptor;
    const entity = isEntityId(id) ? id : containerId(id);
    let tags: string[];
    try {
      tags = await options.tagger.tag(entity, cardinality);
    } catch (error) {
      logger.warn('logs: no container tags for a log stream; registered with its own tags', {
        entity,
        error: String(error),
      });
      return descriptor;
    }
    const merged = mergeTags(descriptor.tags, tags);
    if (merged.skipped > 0) {
      logger.debug('logs: container tags left out of a descriptor (invalid key or value)', {
        entity,
        skipped: merged.skipped,
      });
    }
    return { ...descriptor, tags: merged.tags };
  }

  return {
    registerStream: async (state, descriptor) => inner.registerStream(state, await describe(descriptor)),
    terminateStream: (request) => inner.terminateStream(request),
  };
}

/** Options of {@link createTaggedLogCollector}: the collector's, with a tagger. */
export type TaggedLogCollectorOptions = LogCollectorOptions & Omit<ContainerTagsOptions, 'logger'>;

/**
 * A log collector for the tagger world: streams whose descriptor tags carry a container id are
 * registered with the container's tags added (see {@link containerTagsCoordinator}).
 *
 * @example
 * ```ts
 * const collector = createTaggedLogCollector({ tagger, coordinator: memoryCoordinator(), storage });
 * ```
 */
export function createTaggedLogCollector(options: TaggedLogCollectorOptions): LogCollector {
  const { tagger, containerIdTag, cardinality, coordinator, ...rest } = options;
  return createLogCollector({
    ...rest,
    coordinator: containerTagsCoordinator(coordinator, {
      tagger,
      ...(containerIdTag === undefined ? {} : { containerIdTag }),
      ...(cardinality === undefined ? {} : { cardinality }),
      ...(rest.logger === undefined ? {} : { logger: rest.logger }),
    }),
  });
}
