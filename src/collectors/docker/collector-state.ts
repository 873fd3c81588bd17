import { backoffDelay } from '../../util/backoff.js';
import type { DockerCollectorError } from './errors.js';
import type { BackoffBounds } from './options.js';
import type { EmitReason } from './reconcile.js';

/**
 * The collector's connection to the daemon: `idle` while nobody subscribes, `connecting` while the
 * event stream opens and the running containers are listed, `connected` while it follows events,
 * `retrying` while it waits `delayMs` before attempt `attempt`, having lost the daemon for `reason`.
 *
 * @example
 * ```ts
 * docker.state$.subscribe((state) => {
 *   if (state.status === 'retrying') console.warn(`docker: ${state.reason.message}; retry in ${state.delayMs} ms`);
 * });
 * ```
 */
export type DockerConnectionState =
  | { readonly status: 'idle' }
  | { readonly status: 'connecting'; readonly attempt: number }
  | { readonly status: 'connected'; readonly containers: number }
  | { readonly status: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly reason: DockerCollectorError };

/**
 * What the Docker collector has done since it was created.
 *
 * @example
 * ```ts
 * const { events, inspects, inspectErrors, inspectRetries, inspectGiveUps, reconnects }: DockerCollectorCounters = docker.counters;
 * ```
 */
export interface DockerCollectorCounters {
  /** Container events received (start, die, destroy, rename). */
  readonly events: number;
  /** Event stream lines that were not JSON; skipped. */
  readonly malformedEvents: number;
  /** Container inspects sent (by the stream and by `fetch`). */
  readonly inspects: number;
  /** Container inspects (first attempts, retries and `fetch`es) that failed for another reason than "not found". */
  readonly inspectErrors: number;
  /** Retries of a failed inspect of the stream, each counted when it is scheduled. */
  readonly inspectRetries: number;
  /**
   * Inspects of the stream abandoned after their last retry failed: the container keeps what it
   * had (`fetch` on a miss still asks) until an event or a relist inspects it again.
   */
  readonly inspectGiveUps: number;
  /** Image inspects sent to name containers created from an image id. */
  readonly imageInspects: number;
  /** Reconnection attempts after the daemon went away. */
  readonly reconnects: number;
  /** Deletes sent for containers a relist no longer showed. */
  readonly vanished: number;
  /** Deletes sent for stopped containers whose grace ran out. */
  readonly expired: number;
}

/** The counters the state machine keeps (image inspects are the image cache's). */
type StreamCounters = { -readonly [K in Exclude<keyof DockerCollectorCounters, 'imageInspects'>]: number };

/**
 * The Docker collector's own state, beside the containers' (`ReconcileState`): the connection
 * (its status, the reconnection attempt, where to resume the event stream) and the counters.
 * Owned by one collector and updated in place by {@link stepDockerCollector}; never handed out
 * (`counters` and `status` are read as snapshots).
 *
 * @example
 * ```ts
 * const state = createDockerCollectorState({ reconnect: { initial: 500, max: 30_000 }, inspectRetries: 4, inspectRetry: { initial: 500, max: 4_000 } });
 * ```
 */
export interface DockerCollectorState {
  readonly reconnect: BackoffBounds;
  /** Retries of a failed inspect after its first attempt. */
  readonly inspectRetries: number;
  readonly inspectRetry: BackoffBounds;
  /** The published connection state. */
  status: DockerConnectionState;
  /** Consecutive reconnection attempts since the last complete list (0 when connected). */
  attempt: number;
  /** The daemon time (s) of the latest container event seen, if any. */
  lastEventTime: number | undefined;
  /** The daemon time (s) when the last event stream opened, if the daemon said. */
  lastOpenTime: number | undefined;
  readonly counters: StreamCounters;
}

/**
 * What the Docker collector's state machine is told.
 *
 * - `subscribed`: a first subscriber came; the connection starts afresh (attempt 0, nothing to resume from).
 * - `opening`: an event stream is being opened (`connecting`).
 * - `opened`: it opened, at `daemonTime` (s) when the daemon said.
 * - `malformedEvent`, `event` (a container event at daemon time `time`, s; 0 when unknown).
 * - `listed`: the containers are listed (`containers` running): connected, backoff reset.
 * - `lost`: the daemon went away for `reason`: wait before the next attempt.
 * - `inspectSent`, `inspectError` (an inspect failed for another reason than "not found").
 * - `inspectFailed`: the stream's inspect failed at attempt `retry` (0 first): retried while
 *   `retryable` (the daemon failed to answer) and the budget lasts, else given up.
 * - `emitted`: the reconciler emitted a TagInfo for `reason`.
 * - `unsubscribed`: the last subscriber left (`idle`).
 *
 * @example
 * ```ts
 * stepDockerCollector(state, { type: 'event', time: 1_764_200_000 });
 * ```
 */
export type DockerCollectorInput =
  | { readonly type: 'subscribed' }
  | { readonly type: 'opening' }
  | { readonly type: 'opened'; readonly daemonTime: number | undefined }
  | { readonly type: 'malformedEvent' }
  | { readonly type: 'event'; readonly time: number }
  | { readonly type: 'listed'; readonly containers: number }
  | { readonly type: 'lost'; readonly reason: DockerCollectorError }
  | { readonly type: 'inspectSent' }
  | { readonly type: 'inspectError' }
  | { readonly type: 'inspectFailed'; readonly retry: number; readonly retryable: boolean }
  | { readonly type: 'emitted'; readonly reason: EmitReason }
  | { readonly type: 'unsubscribed' };

/**
 * What the collector does after a step: nothing more (`none`; the status may have changed),
 * reconnect after `delayMs` (attempt `attempt`), retry an inspect (retry number `retry`, from 1)
 * after `delayMs`, or give the inspect up after `attempts` attempts.
 *
 * @example
 * ```ts
 * const out = stepDockerCollector(state, { type: 'inspectFailed', retry: 0, retryable: true }); // { type: 'retryInspect', retry: 1, delayMs: 500 }
 * ```
 */
export type DockerCollectorOutput =
  | { readonly type: 'none' }
  | { readonly type: 'reconnect'; readonly attempt: number; readonly delayMs: number }
  | { readonly type: 'retryInspect'; readonly retry: number; readonly delayMs: number }
  | { readonly type: 'giveUp'; readonly attempts: number };

const NONE: DockerCollectorOutput = Object.freeze({ type: 'none' });

/**
 * A fresh state: idle, every counter 0.
 *
 * @example
 * ```ts
 * const state = createDockerCollectorState({ reconnect: { initial: 500, max: 30_000 }, inspectRetries: 4, inspectRetry: { initial: 500, max: 4_000 } });
 * state.status; // { status: 'idle' }
 * ```
 */
export function createDockerCollectorState(config: {
  readonly reconnect: BackoffBounds;
  readonly inspectRetries: number;
  readonly inspectRetry: BackoffBounds;
}): DockerCollectorState {
  return {
    reconnect: config.reconnect,
    inspectRetries: config.inspectRetries,
    inspectRetry: config.inspectRetry,
    status: { status: 'idle' },
    attempt: 0,
    lastEventTime: undefined,
    lastOpenTime: undefined,
    counters: { events: 0, malformedEvents: 0, inspects: 0, inspectErrors: 0, inspectRetries: 0, inspectGiveUps: 0, reconnects: 0, vanished: 0, expired: 0 },
  };
}

/**
 * Where a new event stream resumes (`since`, daemon time in s): the latest event seen, or else
 * when the last stream opened; `undefined` for a fresh start.
 *
 * @example
 * ```ts
 * openEventStream(docker, resumeFrom(state));
 * ```
 */
export function resumeFrom(state: DockerCollectorState): number | undefined {
  return state.lastEventTime ?? state.lastOpenTime;
}

/**
 * One step of the Docker collector's connection, retry and counting rules: updates `state` in
 * place and says what to do next. A function of its inputs alone; no IO, no clock.
 *
 * Reconnections back off by `backoffDelay(attempt, reconnect.initial, reconnect.max)`, the
 * attempt counting the losses since the last complete list. A failed inspect is retried
 * `inspectRetries` times, retry `n` after `backoffDelay(n, inspectRetry.initial, inspectRetry.max)`,
 * then given up.
 *
 * @example
 * ```ts
 * stepDockerCollector(state, { type: 'lost', reason });        // { type: 'reconnect', attempt: 1, delayMs: 500 }
 * stepDockerCollector(state, { type: 'lost', reason });        // { type: 'reconnect', attempt: 2, delayMs: 1000 }
 * stepDockerCollector(state, { type: 'listed', containers: 3 }); // { type: 'none' }; state.status: connected, attempt 0
 * ```
 */
export function stepDockerCollector(state: DockerCollectorState, input: DockerCollectorInput): DockerCollectorOutput {
  const counters = state.counters;
  switch (input.type) {
    case 'subscribed':
      state.attempt = 0;
      state.lastEventTime = undefined;
      state.lastOpenTime = undefined;
      return NONE;
    case 'opening':
      state.status = { status: 'connecting', attempt: state.attempt };
      return NONE;
    case 'opened':
      state.lastOpenTime = input.daemonTime ?? state.lastOpenTime;
      return NONE;
    case 'malformedEvent':
      counters.malformedEvents += 1;
      return NONE;
    case 'event':
      counters.events += 1;
      if (input.time > 0) state.lastEventTime = Math.max(state.lastEventTime ?? 0, input.time);
      return NONE;
    case 'listed':
      state.attempt = 0;
      state.status = { status: 'connected', containers: input.containers };
      return NONE;
    case 'lost': {
      state.attempt += 1;
      counters.reconnects += 1;
      const delayMs = backoffDelay(state.attempt, state.reconnect.initial, state.reconnect.max);
      state.status = { status: 'retrying', attempt: state.attempt, delayMs, reason: input.reason };
      return { type: 'reconnect', attempt: state.attempt, delayMs };
    }
    case 'inspectSent':
      counters.inspects += 1;
      return NONE;
    case 'inspectError':
      counters.inspectErrors += 1;
      return NONE;
    case 'inspectFailed': {
      if (input.retryable && input.retry < state.inspectRetries) {
        const retry = input.retry + 1;
        counters.inspectRetries += 1;
        return { type: 'retryInspect', retry, delayMs: backoffDelay(retry, state.inspectRetry.initial, state.inspectRetry.max) };
      }
      counters.inspectGiveUps += 1;
      return { type: 'giveUp', attempts: input.retry + 1 };
    }
    case 'emitted':
      if (input.reason === 'vanished') counters.vanished += 1;
      else if (input.reason === 'expired') counters.expired += 1;
      return NONE;
    case 'unsubscribed':
      state.status = { status: 'idle' };
      return NONE;
  }
}
