import type { TaggerTelemetry } from './contract.js';
import type { TagStoreStep } from './tag-store-state.js';
import type { TagCardinality } from './types.js';

// Named here too for the modules that import them from this file.
export type { QueryCounters, TaggerTelemetry } from './contract.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] extends Readonly<Record<string, infer V>> ? Record<string, V> : T[K] };

/** The Tagger's live counters (internal; {@link snapshotTelemetry} hands out copies). */
export type TelemetryCounters = Omit<
  Mutable<TaggerTelemetry>,
  'entities' | 'entitiesBySource' | 'pendingDeletes' | 'internedStrings' | 'watchedEntities' | 'queries'
> & { queries: Record<TagCardinality, { found: number; empty: number }> };

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
export type TelemetryGauges = Pick<TaggerTelemetry, 'entities' | 'entitiesBySource' | 'pendingDeletes' | 'internedStrings' | 'watchedEntities'>;

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
  };
}
