/**
 * The log collector's state machine, as pure functions: the collector's own state (open or closed,
 * its counters) as a reducer, and what becomes of a bundle entry once the coordinator has answered
 * for its stream. The collector (collector.ts) holds one {@link CollectorState} and replaces it with
 * `reduceCollectorState(state, event)` at each thing that happens; `stats()` is a view of it.
 *
 * ```
 *   open ──closed──> closed        (a closed collector takes no message; those in flight finish)
 * ```
 */
import type { LogStreamState } from './coordinator.js';
import { type DecodeFailure, MAX_SAMPLE_ERRORS } from './errors.js';

/** Counters since the collector was made. */
export interface LogCollectorStats {
  /** Messages taken by `process`. */
  readonly messages: number;
  /** Messages dropped because they could not be decoded, by reason. */
  readonly dropped: Readonly<Record<DecodeFailure, number>>;
  /** Bundle entries seen. */
  readonly bundleEntries: number;
  /** Non-terminal bundle entries without logs, skipped. */
  readonly skippedEntries: number;
  /** Bundle entries refused by a rule (permanent). */
  readonly invalidEntries: number;
  /** Bundle entries dropped because their secret is not the stream's. */
  readonly wrongSecret: number;
  /** Bundle entries dropped because their stream is archived or purged. */
  readonly archived: number;
  /** Log entries newly stored. */
  readonly logsStored: number;
  /** Messages rejected with a transient error. */
  readonly transientErrors: number;
  /** Messages rejected with a permanent error. */
  readonly permanentErrors: number;
  /** Messages being processed now. */
  readonly inFlight: number;
}

/** The collector's whole state: whether it is closed, and its counters. */
export interface CollectorState {
  readonly closed: boolean;
  readonly stats: LogCollectorStats;
}

/** Why a bundle entry was dropped (not failed) after its stream was registered. */
export type EntryDrop = 'wrong-secret' | 'archived';

/** What happens to the collector. */
export type CollectorEvent =
  /** `close()`: no more messages are taken. */
  | { readonly type: 'closed' }
  /** `process` took a message. */
  | { readonly type: 'message-started' }
  /** A message could not be decoded: dropped. */
  | { readonly type: 'message-dropped'; readonly reason: DecodeFailure }
  /** A message's bundle was read: it holds `entries` entries. */
  | { readonly type: 'bundle-read'; readonly entries: number }
  /** A non-terminal entry without logs was skipped. */
  | { readonly type: 'entry-skipped' }
  /** An entry broke a rule. */
  | { readonly type: 'entry-refused' }
  /** An entry was dropped: its stream holds another secret, or is archived or purged. */
  | { readonly type: 'entry-dropped'; readonly why: EntryDrop }
  /** `count` log entries were newly stored. */
  | { readonly type: 'logs-stored'; readonly count: number }
  /** A message rejected. */
  | { readonly type: 'message-failed'; readonly transient: boolean }
  /** A message is done, however it ended. */
  | { readonly type: 'message-settled' };

/**
 * The state of a collector just made: open, every counter zero.
 *
 * @example
 * ```ts
 * initialCollectorState().stats.messages; // 0
 * ```
 */
export function initialCollectorState(): CollectorState {
  return {
    closed: false,
    stats: {
      messages: 0,
      dropped: { frame: 0, metadata: 0, 'content-type': 0, compression: 0, 'too-large': 0, 'unknown-version': 0, bundle: 0 },
      bundleEntries: 0,
      skippedEntries: 0,
      invalidEntries: 0,
      wrongSecret: 0,
      archived: 0,
      logsStored: 0,
      transientErrors: 0,
      permanentErrors: 0,
      inFlight: 0,
    },
  };
}

/**
 * The collector's state after `event`. Pure: the state given is not changed. Once closed, the
 * collector stays closed; the messages in flight still count.
 *
 * @example
 * ```ts
 * let state = initialCollectorState();
 * state = reduceCollectorState(state, { type: 'message-started' });
 * state.stats.inFlight; // 1
 * ```
 */
export function reduceCollectorState(state: CollectorState, event: CollectorEvent): CollectorState {
  if (event.type === 'closed') return state.closed ? state : { ...state, closed: true };
  return { ...state, stats: countEvent(state.stats, event) };
}

function countEvent(stats: LogCollectorStats, event: Exclude<CollectorEvent, { type: 'closed' }>): LogCollectorStats {
  switch (event.type) {
    case 'message-started':
      return { ...stats, messages: stats.messages + 1, inFlight: stats.inFlight + 1 };
    case 'message-dropped':
      return { ...stats, dropped: { ...stats.dropped, [event.reason]: stats.dropped[event.reason] + 1 } };
    case 'bundle-read':
      return { ...stats, bundleEntries: stats.bundleEntries + event.entries };
    case 'entry-skipped':
      return { ...stats, skippedEntries: stats.skippedEntries + 1 };
    case 'entry-refused':
      return { ...stats, invalidEntries: stats.invalidEntries + 1 };
    case 'entry-dropped':
      return event.why === 'wrong-secret' ? { ...stats, wrongSecret: stats.wrongSecret + 1 } : { ...stats, archived: stats.archived + 1 };
    case 'logs-stored':
      return { ...stats, logsStored: stats.logsStored + event.count };
    case 'message-failed':
      return event.transient ? { ...stats, transientErrors: stats.transientErrors + 1 } : { ...stats, permanentErrors: stats.permanentErrors + 1 };
    case 'message-settled':
      return { ...stats, inFlight: Math.max(0, stats.inFlight - 1) };
  }
}

/**
 * What becomes of a bundle entry once the coordinator answered `stream` for it:
 *
 * - `wrong-secret`: the stream holds another secret than the bundle's (someone else's stream): dropped;
 * - `archived`: the stream is archived or purged (`status` says which): it takes no more entries, dropped;
 * - `store`: the entry's logs are stored, and a terminal entry's index is sent; `terminalMismatch`
 *   when the entry's terminal index is not the one the coordinator holds (logged, not refused).
 */
export type StreamVerdict =
  | { readonly kind: 'wrong-secret' }
  | { readonly kind: 'archived'; readonly status: 'archived' | 'purged' }
  | { readonly kind: 'store'; readonly terminalMismatch: boolean };

/**
 * Judges a bundle entry by its stream's state as the coordinator answered it.
 *
 * @example
 * ```ts
 * streamVerdict(answer, bundle.secret, { terminal: true, terminalIndex: 9 });
 * // { kind: 'store', terminalMismatch: false }
 * ```
 */
export function streamVerdict(
  stream: Pick<LogStreamState, 'secret' | 'archived' | 'purged' | 'terminalIndex'>,
  secret: Uint8Array,
  entry: { readonly terminal: boolean; readonly terminalIndex: number },
): StreamVerdict {
  if (!equalBytes(stream.secret, secret)) return { kind: 'wrong-secret' };
  if (stream.archived || stream.purged) return { kind: 'archived', status: stream.archived ? 'archived' : 'purged' };
  return { kind: 'store', terminalMismatch: entry.terminal && stream.terminalIndex >= 0 && stream.terminalIndex !== entry.terminalIndex };
}

/** Entries of one message dropped (not failed), by why: the first few of each are logged, then a summary. */
export type MessageDrops = Readonly<Record<EntryDrop, number>>;

/** No entry of the message dropped yet. */
export const NO_DROPS: MessageDrops = Object.freeze({ 'wrong-secret': 0, archived: 0 });

/**
 * Counts one more drop of a message; `log` is true for the first {@link MAX_SAMPLE_ERRORS} of each
 * kind (each logged), false after (summed up once the message is done, see {@link dropSummary}).
 *
 * @example
 * ```ts
 * const { drops, log } = countDrop(NO_DROPS, 'archived'); // log: true
 * ```
 */
export function countDrop(drops: MessageDrops, why: EntryDrop): { readonly drops: MessageDrops; readonly log: boolean } {
  const count = drops[why] + 1;
  return { drops: { ...drops, [why]: count }, log: count <= MAX_SAMPLE_ERRORS };
}

/**
 * The summary line a message owes once it is done, when more drops of a kind happened than were
 * logged one by one; undefined otherwise.
 *
 * @example
 * ```ts
 * dropSummary({ 'wrong-secret': 200, archived: 0 }); // { wrongSecret: 200, archived: 0 }
 * ```
 */
export function dropSummary(drops: MessageDrops): { readonly wrongSecret: number; readonly archived: number } | undefined {
  const wrongSecret = drops['wrong-secret'];
  const archived = drops.archived;
  return wrongSecret > MAX_SAMPLE_ERRORS || archived > MAX_SAMPLE_ERRORS ? { wrongSecret, archived } : undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
