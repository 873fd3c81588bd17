import { hostname } from 'node:os';
import type { SchedulerLike } from 'rxjs';
import { consoleLogger, type Logger } from '../util/logger.js';
import { numberOption, type NumberOptionRule } from '../util/options.js';
import type { KvBackend } from './backend.js';
import type { KeyCodec } from './codec.js';
import { defaultMemoryBackend } from './default-backend.js';
import { KvConfigError } from './errors.js';

/** Options of {@link joinSharedStore}. Every duration is in milliseconds. */
export interface JoinSharedStoreOptions<K> {
  /** The store's key prefix: collaborators with the same prefix on the same backend share the store. Required. */
  readonly prefix: string;
  /** How keys are named, encoded and decoded. Required. */
  readonly codec: KeyCodec<K>;
  /**
   * The backend. Default: a client of the process-wide in-memory store, closed with the store.
   * A backend given here is not closed by the store: close it after `close()` or `release()`.
   */
  readonly backend?: KvBackend;
  /** How often the local keys are written again where they differ or lost their lease. Default: 300000 (5 min). */
  readonly synchronizationInterval?: number;
  /** This collaborator's name, for logs. Default: `<hostname>-<pid>`. */
  readonly name?: string;
  /** How long a remote key's delete waits for the key to come back before it is delivered. Default: 5000. */
  readonly deleteGracePeriod?: number;
  /** How long the initial list may take before the join rejects with `KvJoinTimeoutError`. Default: 60000. */
  readonly joinTimeout?: number;
  /**
   * The first delay before a failed list or watch, or a failed write or delete of a local key, is
   * tried again; it doubles (per failure in a row) up to 30 s. Default: 500.
   */
  readonly retryDelay?: number;
  /** How many writes a synchronization runs at once. Default: 16. */
  readonly writeConcurrency?: number;
  /**
   * The most queued keys (`updateLocalKeySync`, `updateLocalKeysSync`) written together (one etcd
   * transaction: keep it at most etcd's `--max-txn-ops`, 128 by default). Default: 128.
   */
  readonly writeBatchSize?: number;
  /**
   * The most batches of queued writes under way at once (16 x 128 = 2,048 keys): enough that etcd
   * has the next batches while this process handles the watch events of the last ones. Default: 16.
   */
  readonly maxWritesInFlight?: number;
  /** Batches of queued writes started per second, at most. Default: 100. */
  readonly writeQps?: number;
  /** `writeQps` during the first minute after the join, when a collaborator writes all its keys. Default: 1000. */
  readonly bootstrapWriteQps?: number;
  /** The scheduler of every timer. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
  /** Where errors are reported. Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
}

/** The options of a shared store once checked, with every default filled in. */
export interface SharedStoreConfig<K> {
  /** The prefix, without a trailing '/'. */
  readonly prefix: string;
  readonly codec: KeyCodec<K>;
  readonly backend: KvBackend;
  /** The store made its backend (none was given): it closes it. */
  readonly ownsBackend: boolean;
  /** `synchronizationInterval`. */
  readonly interval: number;
  readonly name: string;
  /** `deleteGracePeriod`. */
  readonly grace: number;
  readonly joinTimeout: number;
  readonly retryDelay: number;
  /** `writeConcurrency`. */
  readonly concurrency: number;
  /** `writeBatchSize`, a whole number. */
  readonly batchSize: number;
  /** `maxWritesInFlight`, a whole number. */
  readonly maxInFlight: number;
  /** `writeQps`. */
  readonly qps: number;
  /** `bootstrapWriteQps`. */
  readonly bootstrapQps: number;
  readonly scheduler: SchedulerLike | undefined;
  readonly logger: Logger;
}

/** A bad option is a `KvConfigError` naming it: `invalid shared store configuration: joinTimeout must be a positive number, got -1`. */
const positive: NumberOptionRule = { error: (option, problem) => new KvConfigError(option, problem) };
const nonNegative: NumberOptionRule = { ...positive, min: 'non-negative' };

/**
 * Checks the options of {@link joinSharedStore} and fills in the defaults: a missing prefix or
 * codec, a codec without its methods, or a duration or count that is not a positive number (the
 * delete grace period may be 0) is a `KvConfigError`.
 *
 * @example
 * ```ts
 * const config = checkSharedStoreOptions({ prefix: 'nodes/', codec });
 * config.prefix; // 'nodes'
 * config.retryDelay; // 500
 * checkSharedStoreOptions({ prefix: 'nodes', codec, joinTimeout: 0 });
 * // KvConfigError: invalid shared store configuration: joinTimeout must be a positive number, got 0
 * ```
 */
export function checkSharedStoreOptions<K>(options: JoinSharedStoreOptions<K>): SharedStoreConfig<K> {
  const given = options as Partial<JoinSharedStoreOptions<K>> | undefined;
  if (given === undefined || typeof given !== 'object') throw new KvConfigError('options', 'are required');
  const rawPrefix: unknown = given.prefix;
  if (typeof rawPrefix !== 'string' || rawPrefix.replace(/\/+$/, '') === '') throw new KvConfigError('prefix', 'is required (a non-empty string)');
  const codec = given.codec as Partial<KeyCodec<K>> | undefined;
  if (codec === undefined || typeof codec !== 'object') throw new KvConfigError('codec', 'is required');
  for (const method of ['keyName', 'encode', 'decode'] as const) {
    if (typeof codec[method] !== 'function') throw new KvConfigError(`codec.${method}`, 'must be a function');
  }
  const backend = given.backend;
  return {
    prefix: rawPrefix.replace(/\/+$/, ''),
    codec: codec as KeyCodec<K>,
    backend: backend ?? defaultMemoryBackend(options.scheduler),
    ownsBackend: backend === undefined,
    interval: numberOption('synchronizationInterval', given.synchronizationInterval, 300_000, positive),
    name: given.name ?? `${hostname()}-${process.pid}`,
    grace: numberOption('deleteGracePeriod', given.deleteGracePeriod, 5000, nonNegative),
    joinTimeout: numberOption('joinTimeout', given.joinTimeout, 60_000, positive),
    retryDelay: numberOption('retryDelay', given.retryDelay, 500, positive),
    concurrency: numberOption('writeConcurrency', given.writeConcurrency, 16, positive),
    batchSize: Math.floor(numberOption('writeBatchSize', given.writeBatchSize, 128, positive)),
    maxInFlight: Math.floor(numberOption('maxWritesInFlight', given.maxWritesInFlight, 16, positive)),
    qps: numberOption('writeQps', given.writeQps, 100, positive),
    bootstrapQps: numberOption('bootstrapWriteQps', given.bootstrapWriteQps, 1000, positive),
    scheduler: given.scheduler,
    logger: given.logger ?? consoleLogger('warn'),
  };
}
