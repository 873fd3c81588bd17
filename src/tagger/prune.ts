import { type OperatorFunction, type SchedulerLike, asyncScheduler, bufferTime, filter, map, pipe } from 'rxjs';
import type { TagStoreEvent } from './tag-store-state.js';

/** Options of {@link prune}. */
export interface PruneOptions {
  /** The length of a delete window, in milliseconds. */
  readonly pruneInterval: number;
  /** The scheduler of the window timer (virtual time in tests). Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Buffers deleted entity ids over `pruneInterval` windows and turns each non-empty window into one
 * `prune` event for the store. Batching deletes is what makes a delete win over an add that lands
 * in its window, before or after it.
 *
 * @example
 * ```ts
 * deletedEntities$.pipe(prune({ pruneInterval: 1000 }));
 * // -a-b------|  =>  ----(prune [a, b])--|
 * ```
 * @see tagStore
 */
export function prune(options: PruneOptions): OperatorFunction<string, TagStoreEvent> {
  const scheduler = options.scheduler ?? asyncScheduler;
  return pipe(
    bufferTime(options.pruneInterval, null, Number.POSITIVE_INFINITY, scheduler),
    filter((entities) => entities.length > 0),
    map((entities): TagStoreEvent => ({ type: 'prune', entities })),
  );
}
