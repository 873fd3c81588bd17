import { TaggerError } from '../../tagger/errors.js';

/**
 * What went wrong talking to the Docker daemon.
 *
 * - `events-unavailable`: the event stream could not be opened.
 * - `events-ended`: the event stream ended or broke (the daemon stopped, the socket closed).
 * - `list-failed`: listing the running containers failed.
 * - `inspect-failed`: inspecting a container failed for another reason than "not found".
 *
 * @example
 * ```ts
 * const reason: DockerFailure = 'events-ended';
 * ```
 */
export type DockerFailure = 'events-unavailable' | 'events-ended' | 'list-failed' | 'inspect-failed';

/**
 * A failed exchange with the Docker daemon. The collector's stream never fails with it: it is the
 * `reason` of a `retrying` connection state, and what `fetch` fails with when the daemon cannot
 * answer (the Tagger then answers with what it has stored).
 *
 * @example
 * ```ts
 * collector.state$.subscribe((state) => {
 *   if (state.status === 'retrying' && state.reason.reason === 'events-ended') console.warn('docker went away');
 * });
 * ```
 */
export class DockerCollectorError extends TaggerError {
  readonly tag = 'DockerCollector';
  override readonly name = 'DockerCollectorError';
  constructor(
    readonly reason: DockerFailure,
    readonly detail: string,
    /** The container concerned, for `inspect-failed`. */
    readonly containerId?: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`docker: ${detail}`, options);
  }
}

/**
 * A {@link dockerCollector} option out of range; thrown by `dockerCollector()` itself, at creation.
 *
 * @example
 * ```ts
 * try { dockerCollector({ inspectConcurrency: 0 }); } catch (e) { if (e instanceof DockerCollectorOptionError) e.option; }
 * ```
 */
export class DockerCollectorOptionError extends TaggerError {
  readonly tag = 'DockerCollectorOption';
  override readonly name = 'DockerCollectorOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid dockerCollector option ${option}=${String(value)}: expected ${expected}`);
  }
}
