import { asyncScheduler, Observable } from 'rxjs';
import type { OperatorFunction, SchedulerLike, Subscription } from 'rxjs';
import type { Entry } from './entry.js';
import { InvalidPipelineOptionError } from './errors.js';
import type { PipelineTelemetry } from './telemetry.js';
import type { Logger } from '../util/logger.js';
import { consoleLogger } from '../util/logger.js';

/**
 * A batch: at most `maxItems` entries, one per uid, in the order their uids first arrived.
 *
 * @example
 * ```ts
 * const sizes = (b: Batch) => b.length;
 * ```
 */
export type Batch = readonly Entry[];

/**
 * Options of {@link batch}.
 *
 * @example
 * ```ts
 * const options: BatchOptions = { maxItems: 1000, maxTime: 500 };
 * ```
 */
export interface BatchOptions {
  /** Emit as soon as this many distinct uids are held (>= 1). */
  readonly maxItems: number;
  /** Emit when the oldest held entry is this old, in ms (>= 0), even under steady traffic. */
  readonly maxTime: number;
  /** The scheduler of the age timer (default `asyncScheduler`; a TestScheduler in tests). */
  readonly scheduler?: SchedulerLike;
  /** Counts batch sizes, and entries refused for want of a uid (`missing-uid`). */
  readonly telemetry?: PipelineTelemetry;
  /** Where refused entries are logged (default: the console at `warn`). */
  readonly logger?: Logger;
}

/**
 * The dedupe rule of a batch, as a pure function: what is held for a uid after `next` arrives.
 * The newest change wins, except that a held `delete` is kept: a delete wins over the earlier
 * changes of its uid, and a change after it (a uid is never reused, so it is stale) is dropped.
 *
 * @example
 * ```ts
 * mergeChange(add, update) === update; // newest wins
 * mergeChange(del, update) === del;    // a delete is final
 * ```
 */
export function mergeChange(held: Entry | undefined, next: Entry): Entry {
  return held?.change === 'delete' ? held : next;
}

/**
 * What a list of entries becomes once deduped by {@link mergeChange}: one entry per uid, at the
 * position where its uid first appeared. The reference model of {@link batch}.
 *
 * @example
 * ```ts
 * dedupe([add('a'), add('b'), update('a')]); // [update('a'), add('b')]
 * ```
 */
export function dedupe(entries: Iterable<Entry>): Entry[] {
  const held = new Map<string, Entry>();
  for (const entry of entries) held.set(entry.uid, mergeChange(held.get(entry.uid), entry));
  return [...held.values()];
}

/**
 * Groups entries into batches: emits when `maxItems` distinct uids are held or when the oldest
 * held entry is `maxTime` old, whichever comes first — a maximum age, not an idle debounce, so a
 * steady trickle still flushes every `maxTime`. Never emits an empty batch; flushes the last
 * partial batch when the input completes (and before passing an error on). Within a batch one
 * entry per uid, by {@link mergeChange}.
 *
 * @example
 * ```ts
 * entries$.pipe(batch({ maxItems: 1000, maxTime: 500 })).subscribe((b) => send(b));
 * ```
 *
 * @see {@link dedupe} the same rule over a whole array
 * @see {@link route} which delivers the batches to processors
 */
export function batch(options: BatchOptions): OperatorFunction<Entry, Batch> {
  const { maxItems, maxTime, scheduler = asyncScheduler, telemetry } = options;
  const logger = options.logger ?? consoleLogger('warn');
  if (!Number.isInteger(maxItems) || maxItems < 1) {
    throw new InvalidPipelineOptionError('maxItems', maxItems, 'an integer >= 1');
  }
  if (!Number.isFinite(maxTime) || maxTime < 0) {
    throw new InvalidPipelineOptionError('maxTime', maxTime, 'a finite number of ms >= 0');
  }
  return (source) =>
    new Observable<Batch>((subscriber) => {
      let held = new Map<string, Entry>();
      let timer: Subscription | undefined;
      const flush = (): void => {
        timer?.unsubscribe();
        timer = undefined;
        if (held.size === 0) return;
        const out = [...held.values()];
        held = new Map();
        telemetry?.batch(out.length);
        subscriber.next(out);
      };
      const upstream = source.subscribe({
        next: (entry) => {
          if (typeof entry.uid !== 'string' || entry.uid === '') {
            // one entry per uid is the batch's rule: an entry without one cannot be held
            telemetry?.dropped('missing-uid');
            logger.warn('batch refused an entry without uid', { kind: entry.kind, change: entry.change });
            return;
          }
          held.set(entry.uid, mergeChange(held.get(entry.uid), entry));
          if (held.size >= maxItems) flush();
          else timer ??= scheduler.schedule(flush, maxTime);
        },
        error: (err: unknown) => {
          flush();
          subscriber.error(err);
        },
        complete: () => {
          flush();
          subscriber.complete();
        },
      });
      return () => {
        timer?.unsubscribe();
        upstream.unsubscribe();
      };
    });
}
