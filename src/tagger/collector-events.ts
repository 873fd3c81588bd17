import { Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { TagStoreEvent } from './tag-store-state.js';
import type { Collector, TagInfo } from './types.js';

/** What {@link collectorEvents} asks of its caller. */
export interface CollectorEventsOptions {
  /**
   * The TagInfo to store (a checked copy), or `undefined` to refuse it (the caller counts and logs
   * it); the stream goes on.
   */
  readonly accept: (info: TagInfo) => TagInfo | undefined;
  /** The delay before resubscribing after the `attempt`-th consecutive error, in milliseconds. */
  readonly retryDelay: (error: unknown, attempt: number) => number;
  readonly scheduler: SchedulerLike;
}

/**
 * A collector's stream as store events: each accepted TagInfo becomes an `upsert` at the
 * collector's priority, and after an error the stream is resubscribed (the attempt count resets
 * with each value, as `retry({ resetOnSuccess: true })` does).
 *
 * It is `filter` + `map` + `retry` in one subscriber: every TagInfo of every collector passes
 * here, and each operator hop costs on the ingest path.
 *
 * Internal to the tagger; not exported from the package.
 */
export function collectorEvents(
  collector: Collector,
  tagInfo$: Observable<TagInfo>,
  options: CollectorEventsOptions,
): Observable<TagStoreEvent> {
  const priority = collector.priority;
  const { accept, retryDelay, scheduler } = options;
  return new Observable<TagStoreEvent>((subscriber) => {
    let attempt = 0;
    let source: Subscription | undefined;
    const subscribeSource = (): void => {
      source = tagInfo$.subscribe({
        next: (info) => {
          attempt = 0;
          const accepted = accept(info);
          if (accepted !== undefined) subscriber.next({ type: 'upsert', info: accepted, priority });
        },
        error: (error: unknown) => {
          attempt += 1;
          const retry = scheduler.schedule(() => {
            subscriber.remove(retry);
            subscribeSource();
          }, retryDelay(error, attempt));
          subscriber.add(retry);
        },
        complete: () => {
          subscriber.complete();
        },
      });
    };
    subscribeSource();
    return () => source?.unsubscribe();
  });
}
