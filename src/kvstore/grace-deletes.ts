import { type MonoTypeOperatorFunction, Observable, type SchedulerLike, type Subscription } from 'rxjs';
import type { CacheChange } from './cache-state.js';
import { scheduleAfter } from '../util/unref-timer.js';

/** A cache change on its way to consumers; `immediate` deletes skip the grace period. */
export type PendingChange<K> = CacheChange<K> & { readonly immediate?: boolean };

/** Options of {@link graceDeletes}. */
export interface GraceDeletesOptions {
  /** How long a delete waits, in ms, for its key to come back. 0 delivers deletes at once. */
  readonly grace: number;
  /** The scheduler of the waits. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
}

/**
 * Holds each delete back for `grace` ms and drops it if its key comes back meanwhile, so that a
 * flapping peer does not flap consumers. A key that comes back with the value consumers last saw
 * is not announced again; with another value it is an update. Immediate deletes (a collaborator's
 * own) go through at once; a delete of a key consumers never saw is dropped. Deletes still waiting
 * when the source completes are delivered then.
 *
 * It keeps, per key, only the value last delivered (and a timer while a delete waits): a store of
 * many keys costs a map entry per key, not a subscription per key.
 *
 * @example
 * ```ts
 * changes$.pipe(graceDeletes({ grace: 5000 })).subscribe((change) => console.log(change.type, change.name));
 * ```
 */
export function graceDeletes<K>(options: GraceDeletesOptions): MonoTypeOperatorFunction<PendingChange<K>> {
  const { grace, scheduler } = options;
  // A map of timers keyed by name: groupBy + switchMap would say it, at a subscription per key.
  return (source) =>
    new Observable<PendingChange<K>>((subscriber) => {
      const waiting = new Map<string, { readonly change: PendingChange<K>; readonly timer: Subscription }>();
      const shown = new Map<string, string>();
      const deliver = (change: PendingChange<K>): void => {
        if (change.type === 'update') {
          if (shown.get(change.name) === change.value) return;
          shown.set(change.name, change.value);
        } else {
          if (!shown.delete(change.name)) return;
        }
        subscriber.next(change);
      };
      const subscription = source.subscribe({
        next: (change) => {
          const before = waiting.get(change.name);
          if (before !== undefined) {
            before.timer.unsubscribe();
            waiting.delete(change.name);
          }
          if (change.type === 'update' || change.immediate === true || grace <= 0) {
            deliver(change);
            return;
          }
          const timer = scheduleAfter(
            grace,
            () => {
              waiting.delete(change.name);
              deliver(change);
            },
            scheduler,
          );
          waiting.set(change.name, { change, timer });
        },
        error: (error: unknown) => {
          subscriber.error(error);
        },
        complete: () => {
          for (const { change, timer } of [...waiting.values()]) {
            timer.unsubscribe();
            deliver(change);
          }
          waiting.clear();
          subscriber.complete();
        },
      });
      return () => {
        subscription.unsubscribe();
        for (const { timer } of waiting.values()) timer.unsubscribe();
        waiting.clear();
      };
    });
}
