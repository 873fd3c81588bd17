import type { CompletenessTelemetry, DelayHistogram, TaggerTelemetry } from './contract.js';
import type { TagStoreStep } from './tag-store-state.js';
import type { TagCardinality } from './types.js';

// Named here too for the modules that import them from this file.

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends Readonly<Record<string, infer V>> ? Record<string, V> : T[K] };

/** The Tagger's live counters (internal; {@link snapshotTelemetry} hands out copies). */
export type TelemetryCounters = Omit<
  Mutable<TaggerTelemetry>,
  'entities' | 'entitiesBySource' | 'pendingDeletes' | 'internedStrings' | 'watchedEntities' | 'queries' | 'completeness'
> & { queries: Record<TagCardinality, { found: number; empty: number }>; completeness: CompletenessCounters };

/** The completeness counters (the gauge `incompleteEntities` comes with the snapshot). */
export interface CompletenessCounters {
  /** Cumulative counts per bucket of {@link COMPLETENESS_DELAY_BUCKETS}, with the count and sum, by prefix. */
  readonly delayMs: Map<string, { readonly counts: number[]; count: number; sum: number }>;
  earlyAsks: number;
  reasks: number;
  lookupsIncompleteAtDeadline: number;
}

/**
 * The upper bounds (ms) of the completeness-delay buckets: from 10 ms (the runtime and the
 * orchestrator's agent both on time) to 60 s (a list period missed many times).
 */
export const COMPLETENESS_DELAY_BUCKETS: readonly number[] = Object.freeze([10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000]);

/** Counts one completeness delay of an entity of `prefix`. */
export function countCompletenessDelay(counters: TelemetryCounters, prefix: string, delay: number): void {
  const byPrefix = counters.completeness.delayMs;
  let histogram = byPrefix.get(prefix);
  if (histogram === undefined) {
    histogram = { counts: COMPLETENESS_DELAY_BUCKETS.map(() => 0), count: 0, sum: 0 };
    byPrefix.set(prefix, histogram);
  }
  for (let i = COMPLETENESS_DELAY_BUCKETS.length - 1; i >= 0 && delay <= (COMPLETENESS_DELAY_BUCKETS[i] ?? 0); i--) {
    histogram.counts[i] = (histogram.counts[i] ?? 0) + 1;
  }
  histogram.count += 1;
  histogram.sum += delay;
}

/** Fresh zeroed counters. */
export function createTelemetryCounters(): TelemetryCounters {
  return {
    updates: 0,
    unchangedUpdates: 0,
    deletes: 0,
    prunes: 0,
    prunedEntities: 0,
    queries: { low: { found: 0, empty: 0 }, orchestrator: { found: 0, empty: 0 }, high: { found: 0, empty: 0 } },
    fetches: 0,
    fetchNotFound: 0,
    fetchErrors: 0,
    fetchTimeouts: 0,
    fetchDiscarded: 0,
    negativeCacheHits: 0,
    rejected: 0,
    rejectedByReason: {},
    collectorErrors: 0,
    completeness: { delayMs: new Map(), earlyAsks: 0, reasks: 0, lookupsIncompleteAtDeadline: 0 },
  };
}

/**
 * Counts one step of the store: an update, an unchanged update, a delete, a prune, or a fetched
 * answer dropped because its entity was deleted meanwhile.
 */
export function countStep(counters: TelemetryCounters, step: TagStoreStep): void {
  const event = step.event;
  if (event.type === 'prune') {
    counters.prunes += 1;
    counters.prunedEntities += step.changes.length;
  } else if (event.type === 'markDelete' || event.info.deleteEntity === true) {
    counters.deletes += 1;
  } else if (step.ignored === 'unchanged') {
    counters.unchangedUpdates += 1;
  } else if (step.ignored === 'delete-pending' || step.ignored === 'deleted-since-fetch') {
    counters.fetchDiscarded += 1;
  } else if (step.changes.length > 0) {
    counters.updates += 1;
  }
}

/** Counts one answer to a query at `cardinality` (found, or empty) and returns it. */
export function countAnswer<T extends readonly string[]>(counters: TelemetryCounters, cardinality: TagCardinality, tags: T): T {
  const query = counters.queries[cardinality];
  if (tags.length === 0) query.empty += 1;
  else query.found += 1;
  return tags;
}

/** Counts one refused TagInfo. */
export function countRejection(counters: TelemetryCounters, reason: string): void {
  counters.rejected += 1;
  counters.rejectedByReason[reason] = (counters.rejectedByReason[reason] ?? 0) + 1;
}

/** The gauges a telemetry snapshot adds to the counters. */
export type TelemetryGauges = Pick<TaggerTelemetry, 'entities' | 'entitiesBySource' | 'pendingDeletes' | 'internedStrings' | 'watchedEntities'> & {
  /** Default: 0 (a store that does not track completeness). */
  readonly incompleteEntities?: number;
};

/** A snapshot: copies of the counters, and the gauges. */
export function snapshotTelemetry(counters: TelemetryCounters, gauges: TelemetryGauges): TaggerTelemetry {
  return {
    ...counters,
    queries: {
      low: { ...counters.queries.low },
      orchestrator: { ...counters.queries.orchestrator },
      high: { ...counters.queries.high },
    },
    rejectedByReason: { ...counters.rejectedByReason },
    entities: gauges.entities,
    entitiesBySource: gauges.entitiesBySource,
    pendingDeletes: gauges.pendingDeletes,
    internedStrings: gauges.internedStrings,
    watchedEntities: gauges.watchedEntities,
    completeness: snapshotCompleteness(counters.completeness, gauges.incompleteEntities ?? 0),
  };
}

function snapshotCompleteness(counters: CompletenessCounters, incompleteEntities: number): CompletenessTelemetry {
  const delayMs: Record<string, DelayHistogram> = {};
  for (const [prefix, h] of counters.delayMs) delayMs[prefix] = { le: COMPLETENESS_DELAY_BUCKETS, counts: [...h.counts], count: h.count, sum: h.sum };
  return {
    incompleteEntities,
    delayMs,
    earlyAsks: counters.earlyAsks,
    reasks: counters.reasks,
    lookupsIncompleteAtDeadline: counters.lookupsIncompleteAtDeadline,
  };
}
