import { Observable, type SchedulerLike, Subscription, timer } from 'rxjs';

/**
 * `timer(due, period)` on `scheduler` when one is given (so tests run on virtual time); otherwise
 * on Node timers that are `unref()`'d, so that a forgotten store, lease, keep-alive or backoff never
 * keeps a process alive by itself.
 *
 * @example
 * ```ts
 * unrefTimer(1000, 1000).subscribe((n) => console.log('tick', n)); // does not hold the process open
 * ```
 */
export function unrefTimer(due: number, period?: number, scheduler?: SchedulerLike): Observable<number> {
  if (scheduler !== undefined) return period === undefined ? timer(due, scheduler) : timer(due, period, scheduler);
  return new Observable<number>((subscriber) => {
    let n = 0;
    let interval: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      subscriber.next(n++);
      if (period === undefined) {
        subscriber.complete();
        return;
      }
      interval = setInterval(() => {
        subscriber.next(n++);
      }, period);
      interval.unref();
    }, due);
    first.unref();
    return () => {
      clearTimeout(first);
      if (interval !== undefined) clearInterval(interval);
    };
  });
}

/**
 * Runs `work` once after `due` ms on `scheduler`, or on an `unref()`'d Node timer when none is
 * given; unsubscribing the returned Subscription cancels it.
 *
 * @example
 * ```ts
 * const pending = scheduleAfter(5000, () => console.log('grace period over'));
 * pending.unsubscribe(); // changed my mind
 * ```
 */
export function scheduleAfter(due: number, work: () => void, scheduler?: SchedulerLike): Subscription {
  if (scheduler !== undefined) return scheduler.schedule(work, due);
  const handle = setTimeout(work, due);
  handle.unref();
  return new Subscription(() => {
    clearTimeout(handle);
  });
}
