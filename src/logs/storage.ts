import {
  asyncScheduler,
  concat,
  defer,
  EMPTY,
  exhaustMap,
  from,
  mergeMap,
  type Observable,
  retry,
  type SchedulerLike,
  startWith,
  takeWhile,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { backoffDelay } from '../util/backoff.js';
import { isTransient } from './errors.js';

/** One stored entry: its stream index and the encoded `LogEntry` (see `decodeLogEntry`). */
export interface StoredEntry {
  readonly index: number;
  readonly data: Uint8Array;
}

/** Entries `index`, `index + 1`, ... of a stream, to store. */
export interface PutRequest {
  readonly project: string;
  readonly path: string;
  /** The stream index of `entries[0]`. */
  readonly index: number;
  readonly entries: readonly Uint8Array[];
}

/** A read of a stream, in index order. */
export interface GetRequest {
  readonly project: string;
  readonly path: string;
  /** The first index wanted. Default 0. */
  readonly index?: number;
  /** The most entries answered. Default: all. */
  readonly limit?: number;
}

/** A read that follows a stream as entries arrive. */
export interface FollowRequest {
  readonly project: string;
  readonly path: string;
  /** The first index wanted. Default 0. */
  readonly index?: number;
  /** The last index wanted (say, the stream's terminal index): completes after emitting it. */
  readonly until?: number;
}

/**
 * The storage port: where the collector stows entries for streaming retrieval.
 *
 * - `put` is atomic and idempotent by index: an index already stored keeps what it holds, and
 *   that is not an error (a redelivered message never duplicates an entry). It answers how many
 *   entries were new.
 * - `get` answers stored entries from `index` on, in order; there may be gaps where entries have
 *   not arrived.
 * - `tail` answers the last entry of the contiguous run from index 0 (what a reader can show
 *   without a gap), or undefined.
 * - `follow$` emits entries from `index` on in order and without gaps, waiting for missing
 *   ones, as they are stored.
 *
 * Failures reject with a `StorageError` whose `transient` says whether a retry may succeed.
 */
export interface Storage {
  put(request: PutRequest): Promise<number>;
  get(request: GetRequest): Promise<StoredEntry[]>;
  tail(project: string, path: string): Promise<StoredEntry | undefined>;
  follow$(request: FollowRequest): Observable<StoredEntry>;
}

/** How many entries `follow$` reads at a time. */
export const FOLLOW_BATCH = 1000;

/**
 * How {@link followEntries} retries a read that failed transiently (a backend restarting): after
 * `initialDelay` ms, doubling up to `maxDelay`, for as long as it is subscribed; the first read
 * that succeeds resets the delay. A permanent failure still ends the follow with its error.
 *
 * @example
 * ```ts
 * followEntries(read, wake$, request, FOLLOW_BATCH, { retry: { initialDelay: 100, maxDelay: 5000 } });
 * ```
 */
export interface FollowRetry {
  /** Default 100 ms. */
  readonly initialDelay?: number;
  /** Default 5000 ms. */
  readonly maxDelay?: number;
  /** The scheduler of the delays. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/** Options of {@link followEntries}. */
export interface FollowEntriesOptions {
  /** Retry reads that fail transiently (see {@link FollowRetry}). Default: no retry. */
  readonly retry?: FollowRetry;
}

/**
 * Builds `follow$` from a ranged read and a signal that the stream may have changed: reads from
 * the next wanted index, emits the contiguous run it finds, and reads again when woken. A wake
 * that arrives during a read makes it read once more, so none is lost. With `options.retry`, a
 * read that fails transiently is retried (with backoff) from the next wanted index instead of
 * ending the follow.
 *
 * @example
 * ```ts
 * followEntries((index, limit) => storage.get({ project, path, index, limit }), changes$, { project, path });
 * ```
 */
export function followEntries(
  read: (index: number, limit: number) => Promise<StoredEntry[]>,
  wake$: Observable<unknown>,
  request: FollowRequest,
  batch = FOLLOW_BATCH,
  options: FollowEntriesOptions = {},
): Observable<StoredEntry> {
  const first = request.index ?? 0;
  const until = request.until;
  if (until !== undefined && first > until) return EMPTY;
  const retryOptions = options.retry;
  const initialDelay = retryOptions?.initialDelay ?? 100;
  const maxDelay = retryOptions?.maxDelay ?? 5000;
  const scheduler = retryOptions?.scheduler ?? asyncScheduler;
  return defer(() => {
    let next = first;
    let wakes = 0;
    // A failed read emitted nothing and moved nothing: retrying it reads again from `next`, the
    // index after the last one delivered, so the follow resumes with no gap and no duplicate.
    const readOnce = defer(async () => {
      const seen = wakes;
      return { seen, entries: await read(next, batch) };
    });
    const reading =
      retryOptions === undefined
        ? readOnce
        : readOnce.pipe(
            retry({
              resetOnSuccess: true,
              delay: (error: unknown, count: number) =>
                isTransient(error)
                  ? timer(backoffDelay(count, initialDelay, maxDelay), scheduler)
                  : throwError(() => error),
            }),
          );
    const drain = (): Observable<StoredEntry> =>
      reading.pipe(
        mergeMap(({ seen, entries }) => {
          const run: StoredEntry[] = [];
          for (const entry of entries) {
            if (entry.index !== next) break;
            run.push(entry);
            next++;
          }
          const full = entries.length === batch && run.length === entries.length;
          return concat(
            from(run),
            defer(() => (full || wakes !== seen ? drain() : EMPTY)),
          );
        }),
      );
    return wake$.pipe(
      tap(() => {
        wakes++;
      }),
      startWith(undefined),
      exhaustMap(drain),
      takeWhile((entry) => until === undefined || entry.index < until, true),
    );
  });
}
