/**
 * The options of `createTagger`, checked once and completed with their defaults. Pure.
 */
import { type SchedulerLike, asyncScheduler } from 'rxjs';
import { type Logger, consoleLogger } from '../util/logger.js';
import { numberOption } from '../util/options.js';
import type { CreateTaggerOptions } from './contract.js';
import type { Collector } from './types.js';

/** {@link CreateTaggerOptions} with every default filled in. */
export interface TaggerSettings {
  readonly collectors: readonly Collector[];
  readonly pruneInterval: number;
  readonly fetchTimeout: number;
  readonly notFoundTtl: number;
  readonly fetchErrorTtl: number;
  readonly maxRememberedMisses: number;
  readonly collectorRetryDelay: number;
  readonly completenessRetryDelays: readonly number[];
  readonly scheduler: SchedulerLike;
  readonly logger: Logger;
}

/** The longest wait before a failed collector stream is resubscribed. */
export const MAX_COLLECTOR_RETRY_DELAY = 30_000;

const MS = { unit: 'milliseconds' } as const;

/** The default of `completenessRetryDelays`: ask again 250 ms, then 1 s, after a "not found". */
export const DEFAULT_COMPLETENESS_RETRY_DELAYS: readonly number[] = Object.freeze([250, 1000]);

/**
 * The settings of a Tagger. A duration or bound that is not a positive number throws a `RangeError`
 * naming the option (`pruneInterval must be a positive number of milliseconds, got 0`).
 *
 * @example
 * ```ts
 * taggerSettings({ pruneInterval: 200 }).fetchTimeout; // 2000
 * ```
 */
export function taggerSettings(options: CreateTaggerOptions): TaggerSettings {
  return {
    collectors: options.collectors ?? [],
    pruneInterval: numberOption('pruneInterval', options.pruneInterval, 1000, MS),
    fetchTimeout: numberOption('fetchTimeout', options.fetchTimeout, 2000, MS),
    notFoundTtl: numberOption('notFoundTtl', options.notFoundTtl, 30_000, MS),
    fetchErrorTtl: numberOption('fetchErrorTtl', options.fetchErrorTtl, 5000, MS),
    maxRememberedMisses: numberOption('maxRememberedMisses', options.maxRememberedMisses, 10_000),
    collectorRetryDelay: numberOption('collectorRetryDelay', options.collectorRetryDelay, 500, MS),
    completenessRetryDelays: Object.freeze(
      (options.completenessRetryDelays ?? DEFAULT_COMPLETENESS_RETRY_DELAYS).map((delay, i) =>
        numberOption(`completenessRetryDelays[${String(i)}]`, delay, 0, { unit: 'milliseconds', min: 'non-negative' }),
      ),
    ),
    scheduler: options.scheduler ?? asyncScheduler,
    logger: options.logger ?? consoleLogger('warn'),
  };
}
