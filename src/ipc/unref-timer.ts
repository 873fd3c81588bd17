import { Observable, type SchedulerLike, timer } from 'rxjs';

/**
 * `timer(due, period)` on `scheduler` when one is given (so tests run on virtual time); otherwise on
 * Node timers that are `unref()`'d, so that a server's keep-alive or a client's backoff never keeps a
 * process alive by itself.
 *
 * @example
 * ```ts
 * unrefTimer(15_000, 15_000).subscribe(() => writeKeepAlive());
 * ```
 */
export function unrefTimer(due: number, period?: number, scheduler?: SchedulerLike): Observable<number> {
  if (scheduler !== undefined) return period === undefined ? timer(due, scheduler) : timer(due, period, scheduler);
  // Node's timers have unref(); RxJS's asyncScheduler does not expose it.
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
