import { backoffDelay } from '../util/backoff.js';

/** The longest backoff of the store's retries (lists, watches, failed writes, overload), in ms. */
export const MAX_RETRY_DELAY = 30_000;

/** How long writes that etcd answers "overloaded" are retried without a success before their callers are told. */
export const OVERLOAD_PATIENCE = 30_000;

/** How long after the join writes start at `bootstrapWriteQps`. */
export const BOOTSTRAP_PERIOD = 60_000;

/** What the writer of a shared store's queued writes (`updateLocalKeySync`) is bound by. */
export interface WriterConfig {
  /** The most batches under way at once (`maxWritesInFlight`). */
  readonly maxInFlight: number;
  /** Batches started per second, at most (`writeQps`). */
  readonly qps: number;
  /** `qps` in the first `BOOTSTRAP_PERIOD` after the join (`bootstrapWriteQps`). */
  readonly bootstrapQps: number;
  /** The first backoff after an overloaded answer; it doubles up to `MAX_RETRY_DELAY` (`retryDelay`). */
  readonly retryDelay: number;
  /** When the store joined, on the scheduler's clock. */
  readonly joinedAt: number;
}

/** Where the writer stands. Times are on the scheduler's clock, in ms. */
export interface WriterState {
  /** Batches under way. */
  readonly inFlight: number;
  /** When the next batch may start: the pacing, and the backoff after an overloaded answer. */
  readonly nextWriteAt: number;
  /** Overloaded answers in a row. */
  readonly overloads: number;
  /** Since when writes have been answered "overloaded" without a success. */
  readonly overloadedSince: number | undefined;
}

/**
 * What happens to the writer:
 * - `started`: a batch was taken from the queue at `now`;
 * - `succeeded`: a batch was written;
 * - `overloaded`: etcd answered that it is overloaded or slow (see {@link isOverloaded}) at `now`;
 * - `settled`: a batch is no longer under way (after any of the others).
 */
export type WriterEvent =
  | { readonly type: 'started'; readonly now: number }
  | { readonly type: 'succeeded' }
  | { readonly type: 'overloaded'; readonly now: number }
  | { readonly type: 'settled' };

/** What the writer may do now: start a batch, wait `delay` ms for the pacing or a backoff, or nothing until a batch settles. */
export type WriterAction = { readonly type: 'start' } | { readonly type: 'wait'; readonly delay: number } | { readonly type: 'full' };

/** A writer with nothing under way. */
export const initialWriterState: WriterState = { inFlight: 0, nextWriteAt: 0, overloads: 0, overloadedSince: undefined };

/**
 * The state machine of a shared store's writer, pure: `(state, event) => state`. No IO, no timers:
 * the store takes batches from its {@link WriteQueue} when {@link nextWriterAction} says `start`,
 * and feeds this what the backend answered.
 *
 * - Each batch started pushes the next start `1000 / qps` ms later (`bootstrapQps` in the first
 *   minute after the join).
 * - An overloaded answer pushes the next start back by a backoff: `retryDelay` doubling per
 *   overloaded answer in a row, up to 30 s, while within `OVERLOAD_PATIENCE` of the first one
 *   (see {@link withinOverloadPatience}: after it the batch fails). A success resets both.
 *
 * @example
 * ```ts
 * const config = { maxInFlight: 4, qps: 100, bootstrapQps: 1000, retryDelay: 500, joinedAt: 0 };
 * let state = reduceWriter(initialWriterState, { type: 'started', now: 0 }, config);
 * nextWriterAction(state, 0, config); // { type: 'wait', delay: 1 }
 * state = reduceWriter(state, { type: 'overloaded', now: 0 }, config);
 * nextWriterAction(state, 0, config); // { type: 'wait', delay: 500 }
 * ```
 */
export function reduceWriter(state: WriterState, event: WriterEvent, config: WriterConfig): WriterState {
  switch (event.type) {
    case 'started': {
      const qps = event.now - config.joinedAt < BOOTSTRAP_PERIOD ? config.bootstrapQps : config.qps;
      return { ...state, inFlight: state.inFlight + 1, nextWriteAt: event.now + 1000 / qps };
    }
    case 'succeeded':
      return state.overloads === 0 && state.overloadedSince === undefined ? state : { ...state, overloads: 0, overloadedSince: undefined };
    case 'overloaded': {
      const overloadedSince = state.overloadedSince ?? event.now;
      // Past the patience the batch fails: nothing to wait for.
      if (event.now - overloadedSince >= OVERLOAD_PATIENCE) return { ...state, overloadedSince };
      const overloads = state.overloads + 1;
      return { ...state, overloads, overloadedSince, nextWriteAt: Math.max(state.nextWriteAt, event.now + overloadBackoff(overloads, config)) };
    }
    case 'settled':
      return { ...state, inFlight: state.inFlight - 1 };
  }
}

/** The wait before the next batch after `overloads` overloaded answers in a row: `retryDelay` doubling, up to 30 s. */
export function overloadBackoff(overloads: number, config: Pick<WriterConfig, 'retryDelay'>): number {
  return backoffDelay(overloads, config.retryDelay, MAX_RETRY_DELAY);
}

/**
 * True while overloaded answers are retried: less than `OVERLOAD_PATIENCE` (30 s) since the first
 * of them without a success. After it, the callers of the batches are told.
 *
 * @example
 * ```ts
 * withinOverloadPatience({ ...initialWriterState, overloadedSince: 0 }, 29_999); // true
 * ```
 */
export function withinOverloadPatience(state: WriterState, now: number): boolean {
  return now - (state.overloadedSince ?? now) < OVERLOAD_PATIENCE;
}

/**
 * What the writer may do at `now` (with writes queued): `full` while `maxInFlight` batches are
 * under way, `wait` until the pacing or a backoff allows the next start, else `start`.
 *
 * @example
 * ```ts
 * nextWriterAction(initialWriterState, 0, config); // { type: 'start' }
 * ```
 */
export function nextWriterAction(state: WriterState, now: number, config: WriterConfig): WriterAction {
  if (state.inFlight >= config.maxInFlight) return { type: 'full' };
  if (now < state.nextWriteAt) return { type: 'wait', delay: state.nextWriteAt - now };
  return { type: 'start' };
}

/**
 * True when the backend answered that it is overloaded or slow rather than gone: etcd's "too many
 * requests" and "request timed out", a deadline that passed, a leader election under way.
 *
 * @example
 * ```ts
 * isOverloaded(new Error('etcdserver: too many requests')); // true
 * ```
 */
export function isOverloaded(error: Error): boolean {
  return /too many requests|request timed out|deadline exceeded|leader changed|no leader/i.test(error.message);
}
