import type Dockerode from 'dockerode';
import { asyncScheduler } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { numberOption } from '../../util/options.js';
import type { NumberOptionRule } from '../../util/options.js';
import type { MetadataAsTags } from '../shared/metadata-as-tags.js';
import { DockerCollectorOptionError } from './errors.js';
import { DEFAULT_STOPPED_GRACE } from './reconcile.js';

/**
 * The part of a dockerode client the collector uses; a `new Docker(...)` is one.
 *
 * @example
 * ```ts
 * const docker: DockerClient = new Docker({ socketPath: '/var/run/docker.sock' });
 * ```
 */
export type DockerClient = Pick<Dockerode, 'listContainers' | 'getContainer' | 'getImage' | 'getEvents'>;

/**
 * The delays between reconnection attempts: `base` first, doubling up to `max` (ms).
 *
 * @example
 * ```ts
 * const delay: DockerReconnectDelay = { base: 250, max: 10_000 };
 * ```
 */
export interface DockerReconnectDelay {
  /** The first delay, in ms. Default 500. */
  readonly base?: number;
  /** The longest delay, in ms. Default 30 000. */
  readonly max?: number;
}

/**
 * How a failed container inspect is retried while the connection stays up: up to `retries` more
 * times, `base` ms after the first failure, doubling up to `max` ms. A "not found" answer is
 * never retried (the container is gone); a reconnection's relist inspects every container anew.
 *
 * @example
 * ```ts
 * const retry: DockerInspectRetry = { retries: 5, base: 250, max: 2_000 }; // 250, 500, 1000, 2000, 2000 ms
 * const never: DockerInspectRetry = { retries: 0 };
 * ```
 */
export interface DockerInspectRetry {
  /** The most retries of one inspect after it first failed; 0 never retries. Default 4. */
  readonly retries?: number;
  /** The delay before the first retry, in ms. Default 500. */
  readonly base?: number;
  /** The longest delay between two retries, in ms. Default 4 000. */
  readonly max?: number;
}

/**
 * Options of {@link dockerCollector}.
 *
 * @example
 * ```ts
 * const options: DockerCollectorOptions = {
 *   docker: new Docker({ socketPath: '/run/docker.sock' }),
 *   labelsAsTags: { 'com.example.team': 'team' },
 *   inspectConcurrency: 16,
 * };
 * ```
 */
export interface DockerCollectorOptions {
  /**
   * The dockerode client. Default `dockerClient()`: `DOCKER_HOST`, or the default socket, never
   * following a redirect.
   */
  readonly docker?: DockerClient;
  /** Label name -> tag name (see `extractDockerTags`). */
  readonly labelsAsTags?: MetadataAsTags;
  /** Environment variable name -> tag name (see `extractDockerTags`). */
  readonly envAsTags?: MetadataAsTags;
  /** The most container inspects in flight. Default 8. */
  readonly inspectConcurrency?: number;
  /** The backoff between reconnection attempts. Default `{ base: 500, max: 30_000 }`. */
  readonly reconnectDelay?: DockerReconnectDelay;
  /** The retries of a failed inspect while connected. Default `{ retries: 4, base: 500, max: 4_000 }`. */
  readonly inspectRetry?: DockerInspectRetry;
  /** The most image ids whose names are kept. Default 256. */
  readonly imageCacheSize?: number;
  /**
   * How long (ms) a stopped container keeps its tags, counted from when it stopped: Docker keeps
   * a container's id across `restart` and stop/start, and a container's last log lines are read
   * after it died. A `start` within the grace keeps the tags; `destroy` deletes them at once.
   * Default 300 000 (5 minutes).
   */
  readonly stoppedGrace?: number;
  /** The source written into every TagInfo. Default 'docker'. */
  readonly source?: string;
  /**
   * The scheduler of the reconnection delays, the inspect retry delays and the graces of stopped
   * containers (its `now()` is compared with the daemon's `FinishedAt`). Default `asyncScheduler`.
   */
  readonly scheduler?: SchedulerLike;
  /** Where connections, failures and malformed input are reported. Default: silent. */
  readonly logger?: Logger;
}

/** A backoff: the first delay and the longest, in ms (see `backoffDelay`). */
export interface BackoffBounds {
  readonly initial: number;
  readonly max: number;
}

/**
 * The options of {@link dockerCollector} checked, with every default filled in (the client
 * excepted: it is built by the collector, so that checking options opens no socket).
 *
 * @example
 * ```ts
 * const { inspectConcurrency, reconnect } = resolveDockerOptions({ inspectConcurrency: 4 });
 * // 4, { initial: 500, max: 30000 }
 * ```
 */
export interface ResolvedDockerOptions {
  readonly docker: DockerClient | undefined;
  readonly source: string;
  readonly logger: Logger;
  readonly scheduler: SchedulerLike;
  readonly inspectConcurrency: number;
  /** Between reconnection attempts. */
  readonly reconnect: BackoffBounds;
  /** Retries of a failed inspect after its first attempt. */
  readonly inspectRetries: number;
  /** Between the retries of a failed inspect. */
  readonly inspectRetry: BackoffBounds;
  readonly imageCacheSize: number;
  readonly stoppedGrace: number;
  readonly labelsAsTags: MetadataAsTags | undefined;
  readonly envAsTags: MetadataAsTags | undefined;
}

/** `numberOption` throwing the collector's own error, whose `expected` says what the rule wants. */
function checked(option: string, value: number | undefined, fallback: number, rule: NumberOptionRule): number {
  return numberOption(option, value, fallback, {
    ...rule,
    // The problem reads `must be <expected>, got <value>`: the error keeps the value itself.
    error: (name, problem) => new DockerCollectorOptionError(name, value, /^must be (.+), got /.exec(problem)?.[1] ?? problem),
  });
}

const MILLISECONDS: NumberOptionRule = { unit: 'milliseconds' };
const POSITIVE_INTEGER: NumberOptionRule = { integer: true };

/** `max` of a backoff, checked not to be below `initial`. */
function atLeast(option: string, max: number, baseOption: string, base: number): number {
  if (max < base) throw new DockerCollectorOptionError(option, max, `at least ${baseOption} (${base})`);
  return max;
}

/**
 * Checks the options of {@link dockerCollector} and fills in the defaults. Throws
 * {@link DockerCollectorOptionError} when `inspectConcurrency` or `imageCacheSize` is not a
 * positive integer, a `reconnectDelay` or `inspectRetry` bound or `stoppedGrace` is not a positive
 * number (or `max < base`), or `inspectRetry.retries` is not a non-negative integer.
 *
 * @example
 * ```ts
 * resolveDockerOptions({ inspectConcurrency: 0 }); // DockerCollectorOptionError: option 'inspectConcurrency'
 * ```
 */
export function resolveDockerOptions(options: DockerCollectorOptions): ResolvedDockerOptions {
  const inspectConcurrency = checked('inspectConcurrency', options.inspectConcurrency, 8, POSITIVE_INTEGER);
  const reconnectBase = checked('reconnectDelay.base', options.reconnectDelay?.base, 500, MILLISECONDS);
  const reconnectMax = atLeast(
    'reconnectDelay.max',
    checked('reconnectDelay.max', options.reconnectDelay?.max, 30_000, MILLISECONDS),
    'reconnectDelay.base',
    reconnectBase,
  );
  const inspectRetries = checked('inspectRetry.retries', options.inspectRetry?.retries, 4, { min: 'non-negative', integer: true });
  const retryBase = checked('inspectRetry.base', options.inspectRetry?.base, 500, MILLISECONDS);
  const retryMax = atLeast('inspectRetry.max', checked('inspectRetry.max', options.inspectRetry?.max, 4_000, MILLISECONDS), 'inspectRetry.base', retryBase);
  const imageCacheSize = checked('imageCacheSize', options.imageCacheSize, 256, POSITIVE_INTEGER);
  const stoppedGrace = checked('stoppedGrace', options.stoppedGrace, DEFAULT_STOPPED_GRACE, MILLISECONDS);
  return {
    docker: options.docker,
    source: options.source ?? 'docker',
    logger: options.logger ?? silentLogger,
    scheduler: options.scheduler ?? asyncScheduler,
    inspectConcurrency,
    reconnect: { initial: reconnectBase, max: reconnectMax },
    inspectRetries,
    inspectRetry: { initial: retryBase, max: retryMax },
    imageCacheSize,
    stoppedGrace,
    labelsAsTags: options.labelsAsTags,
    envAsTags: options.envAsTags,
  };
}
