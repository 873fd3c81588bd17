import { TaggerError } from '../../tagger/errors.js';

/**
 * Why a task metadata request gave no task.
 *
 * @example
 * ```ts
 * const reason: EcsMetadataFailure = 'timeout';
 * ```
 */
export type EcsMetadataFailure = 'unavailable' | 'http-status' | 'timeout' | 'invalid-document';

/**
 * A task metadata request that gave no task: the endpoint could not be reached, answered with an
 * error status, did not answer in time, or answered something that is not a task document.
 * The ECS collector never throws it into callers: it is logged and counted, and the look-up
 * is a miss.
 *
 * @example
 * ```ts
 * if (error instanceof EcsMetadataError && error.reason === 'timeout') retryLater();
 * ```
 */
export class EcsMetadataError extends TaggerError {
  readonly tag = 'EcsMetadata';
  override readonly name = 'EcsMetadataError';
  constructor(
    readonly reason: EcsMetadataFailure,
    readonly url: string,
    readonly detail: string,
    readonly status?: number,
    options?: { readonly cause?: unknown },
  ) {
    super(`ECS task metadata ${url}: ${detail}`, options);
  }
}

/**
 * An {@link ecsCollector} option out of range; thrown by `ecsCollector()` itself, at creation.
 *
 * @example
 * ```ts
 * try { ecsCollector({ fetchTimeout: 0 }); } catch (e) { if (e instanceof EcsCollectorOptionError) e.option; }
 * ```
 */
export class EcsCollectorOptionError extends TaggerError {
  readonly tag = 'EcsCollectorOption';
  override readonly name = 'EcsCollectorOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid ecsCollector option ${option}=${String(value)}: expected ${expected}`);
  }
}
