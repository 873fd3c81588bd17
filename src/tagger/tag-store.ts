import {
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
  connect,
  filter,
  map,
  merge,
  pipe,
  scan,
} from 'rxjs';
import { prune } from './prune.js';
import {
  type TagStoreEvent,
  type TagStoreState,
  type TagStoreStep,
  createTagStoreState,
  reduceTagStore,
} from './tag-store-state.js';

/** Options of {@link tagStore}. */
export interface TagStoreOptions {
  /** How long deletes are buffered before a prune applies them, in milliseconds. */
  readonly pruneInterval: number;
  /** The scheduler of the prune timer. Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** The state to reduce into (a fresh empty one by default). */
  readonly state?: TagStoreState;
}

const isDelete = (event: TagStoreEvent): boolean =>
  event.type === 'markDelete' || (event.type === 'upsert' && event.info.deleteEntity === true);

const deletedEntity = (event: TagStoreEvent): string =>
  event.type === 'markDelete' ? event.entity : event.type === 'prune' ? '' : event.info.entity;

/**
 * The TagStore as an operator: upserts are applied as they come; deletes mark their entity at once
 * and are buffered by {@link prune} into one prune per window; every event is reduced by `scan`
 * with {@link reduceTagStore}. Emits one step per event, with the entities it changed (often none:
 * filter on `changes.length` to be woken only by changes).
 *
 * @example
 * ```ts
 * const steps$ = events$.pipe(tagStore({ pruneInterval: 1000 }));
 * steps$.subscribe(({ changes }) => changes.forEach((c) => console.log(c.type, c.entity)));
 * ```
 */
export function tagStore(options: TagStoreOptions): OperatorFunction<TagStoreEvent, TagStoreStep> {
  const pruneOptions =
    options.scheduler === undefined
      ? { pruneInterval: options.pruneInterval }
      : { pruneInterval: options.pruneInterval, scheduler: options.scheduler };
  return (events$: Observable<TagStoreEvent>) => {
    const state = options.state ?? createTagStoreState();
    const seed: TagStoreStep = { state, event: { type: 'prune', entities: [] }, changes: [] };
    return events$.pipe(
      connect((shared) =>
        merge(
          shared,
          shared.pipe(filter(isDelete), map(deletedEntity), prune(pruneOptions)),
        ),
      ),
      scan((step: TagStoreStep, event: TagStoreEvent) => reduceTagStore(step.state, event), seed),
    );
  };
}

/** Keeps only the steps that changed at least one entity. */
export function storeChanges(): OperatorFunction<TagStoreStep, TagStoreStep> {
  return pipe(filter((step) => step.changes.length > 0));
}
