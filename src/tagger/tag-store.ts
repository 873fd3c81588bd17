import {
  type Observable,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  defer,
  filter,
  finalize,
  merge,
  pipe,
  scan,
  tap,
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
  /** The state to reduce into: a fresh empty one by default, or the `state` of a step to go on from it. */
  readonly state?: TagStoreState;
}

/** The entity an event marks for deletion, or undefined when it marks none. */
function markedForDeletion(event: TagStoreEvent): string | undefined {
  switch (event.type) {
    case 'markDelete':
      return event.entity;
    case 'upsert':
    case 'fetched':
      return event.info.deleteEntity === true ? event.info.entity : undefined;
    case 'prune':
      return undefined;
  }
}

/**
 * The TagStore as an operator: upserts are applied as they come; deletes mark their entity at once
 * and are buffered by {@link prune} into one prune per window; every event is reduced by `scan`
 * with the store's reducer. Emits one step per event, with the entities it changed (often none:
 * filter on `changes.length` to be woken only by changes); `readTags(step.state, entity, cardinality)`
 * reads the store a step leaves.
 *
 * When `events$` completes, the deletes still buffered are pruned, then the steps complete.
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
  return (events$: Observable<TagStoreEvent>) =>
    defer(() => {
      const state = options.state ?? createTagStoreState();
      const seed: TagStoreStep = { state, event: { type: 'prune', entities: [] }, changes: [] };
      // Marked entities loop back through the prune window into the same scan. A tap after the
      // scan (rather than a second subscriber splitting events$) keeps the upsert path one hop
      // shorter: ingest is the hot path.
      const marked$ = new Subject<string>();
      return merge(
        events$.pipe(finalize(() => {
          marked$.complete();
        })),
        marked$.pipe(prune(pruneOptions)),
      ).pipe(
        scan((step: TagStoreStep, event: TagStoreEvent) => reduceTagStore(step.state, event), seed),
        tap((step) => {
          const entity = markedForDeletion(step.event);
          if (entity !== undefined) marked$.next(entity);
        }),
      );
    });
}

/** Keeps only the steps that changed at least one entity. */
export function storeChanges(): OperatorFunction<TagStoreStep, TagStoreStep> {
  return pipe(filter((step) => step.changes.length > 0));
}
