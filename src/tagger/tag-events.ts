import { type Observable, concat, defer, filter, from, map, throwError } from 'rxjs';
import { sameArray } from '../util/arrays.js';
import { InvalidCardinalityError } from './errors.js';
import type { EntityTags } from './contract.js';
import type { TagEvent, TagEventsFilter } from './contract.js';
import { type TagCardinality, isCardinality } from './types.js';

/** How one entity's tags changed (absent before: added; absent after: deleted). */
export interface TagChange {
  readonly entity: string;
  readonly before: EntityTags | undefined;
  readonly after: EntityTags | undefined;
  /** The entity became complete in this change (its tags may be the same). */
  readonly completed?: boolean;
}

/**
 * The `events$` of a store (a local one, or a client's mirror): on subscribe, an `added` burst of
 * every entity `entries()` holds that matches the filter (none with `burst: false`), then each change of `changes$` as seen at
 * the filter's cardinality (`modified` only when the tags at that cardinality differ, or when the
 * entity became complete). `isComplete` says whether an entity is complete when its event is made;
 * without it (a store that cannot know), or where it answers `undefined` (not known for that
 * entity), events carry no `complete`.
 *
 * @example
 * ```ts
 * tagEvents(() => store.entries(), changes$, { prefix: 'container_id://', cardinality: 'high' });
 * ```
 */
export function tagEvents(
  entries: () => Iterable<readonly [string, EntityTags]>,
  changes$: Observable<TagChange>,
  eventsFilter: TagEventsFilter = {},
  isComplete?: (entity: string) => boolean | undefined,
): Observable<TagEvent> {
  const cardinality = eventsFilter.cardinality ?? 'low';
  const prefixes =
    eventsFilter.prefix === undefined ? [] : typeof eventsFilter.prefix === 'string' ? [eventsFilter.prefix] : eventsFilter.prefix;
  const matches = (entity: string): boolean => prefixes.length === 0 || prefixes.some((p) => entity.startsWith(p));
  return defer(() => {
    if (!isCardinality(cardinality)) return throwError(() => new InvalidCardinalityError(cardinality));
    const burst: TagEvent[] = [];
    if (eventsFilter.burst !== false) {
      for (const [entity, tags] of entries()) {
        if (matches(entity)) burst.push(withCompleteness({ type: 'added', entity, tags: tags[cardinality] }, isComplete));
      }
    }
    const live$ = changes$.pipe(
      filter((change) => matches(change.entity)),
      map((change) => toEvent(change, cardinality, isComplete)),
      filter((event): event is TagEvent => event !== undefined),
    );
    return concat(from(burst), live$);
  });
}

function toEvent(change: TagChange, cardinality: TagCardinality, isComplete: ((entity: string) => boolean | undefined) | undefined): TagEvent | undefined {
  const entity = change.entity;
  if (change.after === undefined) return isComplete === undefined ? { type: 'deleted', entity, tags: [] } : { type: 'deleted', entity, tags: [], complete: false };
  const tags = change.after[cardinality];
  if (change.before === undefined) return withCompleteness({ type: 'added', entity, tags }, isComplete);
  if (change.completed !== true && sameArray(change.before[cardinality], tags)) return undefined;
  return withCompleteness({ type: 'modified', entity, tags }, isComplete);
}

function withCompleteness(event: TagEvent, isComplete: ((entity: string) => boolean | undefined) | undefined): TagEvent {
  const complete = isComplete?.(event.entity);
  return complete === undefined ? event : { ...event, complete };
}
