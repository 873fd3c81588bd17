/**
 * Completeness: which of the sources expected for an entity have reported it. Pure state, owned by
 * the local Tagger and updated in place beside the TagStore (as the store is): the expected sources
 * of an entity are the collectors whose `covers` names its prefix; an entity is complete once every
 * one of them has reported it (with tags, or with a final "not found").
 *
 * The per-entity cost is small and only paid while an entity is incomplete: an entry (its first
 * report time and a bit mask of the expected sources that reported) is created at the entity's
 * first report when some expected source is still missing, and dropped once it is complete or
 * deleted. A stored entity without an entry is complete; an entity nobody expects is complete at
 * its first report and never gets one.
 */
import type { Collector } from './types.js';

/** The sources expected for one entity prefix, each with its bit. */
interface Expectation {
  readonly sources: readonly string[];
  readonly bits: ReadonlyMap<string, number>;
  readonly full: number;
}

interface Progress {
  /** When the first source reported the entity (the scheduler's clock). */
  readonly first: number;
  /** The expected sources that reported, one bit each (see {@link Expectation.bits}). */
  reported: number;
}

declare const opaque: unique symbol;

/** The completeness state: opaque, read and changed with the functions of this module. */
export interface CompletenessState {
  readonly [opaque]: 'CompletenessState';
}

interface MutableState {
  readonly byPrefix: ReadonlyMap<string, Expectation>;
  /** The stored entities still incomplete. */
  readonly incomplete: Map<string, Progress>;
}

function inner(state: CompletenessState): MutableState {
  return state as unknown as MutableState;
}

/** At most this many sources may be expected for one prefix (one bit each in a small integer). */
export const MAX_EXPECTED_SOURCES = 30;

const NONE: readonly string[] = Object.freeze([]);

/**
 * An empty completeness state for `collectors`: a collector is expected for the prefixes its
 * `covers` lists. Throws a `RangeError` when more than {@link MAX_EXPECTED_SOURCES} collectors cover
 * one prefix.
 *
 * @example
 * ```ts
 * const state = createCompletenessState([{ ...docker, covers: ['container_id'] }, { ...kubelet, covers: ['container_id'] }]);
 * expectedSources(state, 'container_id://a'); // ['docker', 'kubelet']
 * ```
 */
export function createCompletenessState(collectors: readonly Collector[]): CompletenessState {
  const lists = new Map<string, string[]>();
  for (const collector of collectors) {
    for (const prefix of collector.covers ?? []) {
      const list = lists.get(prefix) ?? [];
      if (!list.includes(collector.source)) list.push(collector.source);
      lists.set(prefix, list);
    }
  }
  const byPrefix = new Map<string, Expectation>();
  for (const [prefix, sources] of lists) {
    if (sources.length > MAX_EXPECTED_SOURCES) {
      throw new RangeError(`at most ${String(MAX_EXPECTED_SOURCES)} collectors may cover one entity prefix, got ${String(sources.length)} for ${prefix}`);
    }
    const bits = new Map(sources.map((source, i) => [source, 1 << i] as const));
    byPrefix.set(prefix, { sources: Object.freeze([...sources]), bits, full: (1 << sources.length) - 1 });
  }
  const state: MutableState = { byPrefix, incomplete: new Map() };
  return state as unknown as CompletenessState;
}

/** True when some collector declares what it covers (else completeness costs nothing). */
export function tracksCompleteness(state: CompletenessState): boolean {
  return inner(state).byPrefix.size > 0;
}

/** The sources expected for `entity` (by its prefix), in the collectors' order; `[]` when none. */
export function expectedSources(state: CompletenessState, entity: string): readonly string[] {
  return expectationOf(inner(state), entity)?.sources ?? NONE;
}

function expectationOf(state: MutableState, entity: string): Expectation | undefined {
  if (state.byPrefix.size === 0) return undefined;
  const prefix = entityPrefix(entity);
  return prefix === undefined ? undefined : state.byPrefix.get(prefix);
}

/** What a report did to an entity's completeness. */
export type ReportOutcome =
  /** The entity was not known (its first report) and is complete with it. */
  | { readonly type: 'complete-at-first'; readonly expected: boolean }
  /** The entity was not known and still misses some expected source (see {@link missingSources}). */
  | { readonly type: 'first' }
  /** The report completed the entity, `delay` after its first report. */
  | { readonly type: 'completed'; readonly delay: number }
  /** Nothing changed (already complete, or still incomplete). */
  | { readonly type: 'unchanged' };

// The frequent outcomes are shared constants: a report is on the ingest path.
const UNCHANGED: ReportOutcome = Object.freeze({ type: 'unchanged' });
const FIRST: ReportOutcome = Object.freeze({ type: 'first' });
const COMPLETE_AT_FIRST: ReportOutcome = Object.freeze({ type: 'complete-at-first', expected: true });
const NOT_EXPECTED: ReportOutcome = Object.freeze({ type: 'complete-at-first', expected: false });

/**
 * `source` reported `entity` at `now`: with tags, or with a final "not found". `first` says it is the
 * entity's first report (the store has just added it); otherwise a report of an entity without an
 * entry is one of a complete entity and changes nothing.
 *
 * @example
 * ```ts
 * reportSource(state, 'container_id://a', 'docker', { first: true, now: 0 }); // { type: 'first' }: kubelet is missing
 * reportSource(state, 'container_id://a', 'kubelet', { first: false, now: 40 }); // { type: 'completed', delay: 40 }
 * ```
 */
export function reportSource(state: CompletenessState, entity: string, source: string, at: { readonly first: boolean; readonly now: number }): ReportOutcome {
  const s = inner(state);
  if (at.first) {
    const expectation = expectationOf(s, entity);
    if (expectation === undefined) return NOT_EXPECTED;
    const reported = expectation.bits.get(source) ?? 0;
    if (reported === expectation.full) return COMPLETE_AT_FIRST;
    s.incomplete.set(entity, { first: at.now, reported });
    return FIRST;
  }
  const progress = s.incomplete.get(entity);
  if (progress === undefined) return UNCHANGED;
  const expectation = expectationOf(s, entity);
  const bit = expectation?.bits.get(source) ?? 0;
  if (expectation === undefined || (progress.reported & bit) !== 0 || bit === 0) return UNCHANGED;
  progress.reported |= bit;
  if (progress.reported !== expectation.full) return UNCHANGED;
  s.incomplete.delete(entity);
  return { type: 'completed', delay: at.now - progress.first };
}

/** The entity is gone from the store: its entry goes (a later report is a first report again). */
export function forgetEntity(state: CompletenessState, entity: string): void {
  inner(state).incomplete.delete(entity);
}

/**
 * The expected sources that have not reported `entity`: `[]` for a complete entity, every expected
 * source for one not stored (`stored` false).
 */
export function missingSources(state: CompletenessState, entity: string, stored: boolean): readonly string[] {
  const s = inner(state);
  const expectation = expectationOf(s, entity);
  if (expectation === undefined) return NONE;
  if (!stored) return expectation.sources;
  const progress = s.incomplete.get(entity);
  return progress === undefined ? NONE : missingOf(expectation, progress.reported);
}

/** True when `source` is expected for `entity` and has not reported it (the entity being stored). */
export function isMissing(state: CompletenessState, entity: string, source: string): boolean {
  const s = inner(state);
  const progress = s.incomplete.get(entity);
  if (progress === undefined) return false;
  const bit = expectationOf(s, entity)?.bits.get(source) ?? 0;
  return bit !== 0 && (progress.reported & bit) === 0;
}

/** True when `entity` is stored and every source expected for it has reported. */
export function isComplete(state: CompletenessState, entity: string, stored: boolean): boolean {
  return stored && !inner(state).incomplete.has(entity);
}

/** Gauge: the stored entities still incomplete. */
export function incompleteCount(state: CompletenessState): number {
  return inner(state).incomplete.size;
}

/** The part of an entity id before `://`. */
function entityPrefix(entity: string): string | undefined {
  const at = entity.indexOf('://');
  return at < 0 ? undefined : entity.slice(0, at);
}

function missingOf(expectation: Expectation, reported: number): readonly string[] {
  return expectation.sources.filter((source) => ((expectation.bits.get(source) ?? 0) & reported) === 0);
}
