import type { SchedulerLike } from 'rxjs';
import { consoleLogger, type Logger } from '../util/logger.js';
import { numberOption } from '../util/options.js';
import { DEFAULT_STREAM_STATE_CACHE_EXPIRE } from './cache.js';
import type { Coordinator } from './coordinator.js';
import type { Storage } from './storage.js';

/** The default number of messages, and of entries of one message, worked on at once. */
export const DEFAULT_MAX_MESSAGE_WORKERS = 4;

/** Options of `createLogCollector`. */
export interface LogCollectorOptions {
  /** The stream registry. The collector wraps it in `cachingCoordinator` (see below). */
  readonly coordinator: Coordinator;
  readonly storage: Storage;
  /** Messages in flight in `collect`, and entries of one message worked on at once: a positive integer. Default 4. */
  readonly maxMessageWorkers?: number;
  /**
   * How long a stream's coordinator state is cached, in ms. Default 10 minutes. 0 turns the cache
   * off (every bundle entry asks the coordinator: for a coordinator that caches itself).
   */
  readonly streamStateCacheExpire?: number;
  /** The most streams the cache holds: a positive integer. Default 1,048,576. */
  readonly streamStateCacheSize?: number;
  /** Default `consoleLogger('warn')`. */
  readonly logger?: Logger;
  /** The cache's clock (`now()`). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/** {@link LogCollectorOptions} checked, with the defaults filled in (internal to the collector). */
export interface CollectorSettings {
  readonly coordinator: Coordinator;
  readonly storage: Storage;
  readonly workers: number;
  /** 0: no cache. */
  readonly streamStateCacheExpire: number;
  /** Undefined: the cache's default. */
  readonly streamStateCacheSize: number | undefined;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike | undefined;
}

/**
 * Checks the options of `createLogCollector` and fills in the defaults; throws a `RangeError`
 * naming the option and the value.
 *
 * @example
 * ```ts
 * resolveCollectorSettings({ coordinator, storage }).workers; // 4
 * resolveCollectorSettings({ coordinator, storage, maxMessageWorkers: 0 });
 * // RangeError: maxMessageWorkers must be a positive integer, got 0
 * ```
 */
export function resolveCollectorSettings(options: LogCollectorOptions): CollectorSettings {
  return {
    coordinator: options.coordinator,
    storage: options.storage,
    workers: numberOption('maxMessageWorkers', options.maxMessageWorkers, DEFAULT_MAX_MESSAGE_WORKERS, { integer: true }),
    streamStateCacheExpire: numberOption('streamStateCacheExpire', options.streamStateCacheExpire, DEFAULT_STREAM_STATE_CACHE_EXPIRE, {
      min: 'non-negative',
      unit: 'milliseconds',
    }),
    streamStateCacheSize:
      options.streamStateCacheSize === undefined ? undefined : numberOption('streamStateCacheSize', options.streamStateCacheSize, 0, { integer: true }),
    logger: options.logger ?? consoleLogger('warn'),
    scheduler: options.scheduler,
  };
}
