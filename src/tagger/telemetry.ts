import type { TagStoreStep } from './tag-store-state.js';
import type { TagCardinality } from './types.js';

/** Query outcomes counted by the Tagger. */
export interface QueryCounters {
  /** Answers with at least one tag. */
  readonly found: number;
  /** Answers with no tag (unknown entity, or nothing at that cardinality). */
  readonly empty: number;
}

/**
 * A snapshot of the Tagger's counters and gauges, as a plain object (JSON-serializable).
 *
 * @example
 * ```ts
 * const t = tagger.telemetry();
 * console.log(t.entities, t.entitiesBySource.docker, t.queries.low.found);
 * ```
 */
export interface TaggerTelemetry {
  /** Gauge: entities stored. */
  readonly entities: number;
  /** Gauge: entities each source holds tags for. */
  readonly entitiesBySource: Readonly<Record<string, number>>;
  /** Gauge: entities whose delete waits for the next prune. */
  readonly pendingDeletes: number;
  /** Gauge: distinct interned tag strings. */
  readonly internedStrings: number;
  /** Gauge: entities with at least one live `tags$` subscriber. */
  readonly watchedEntities: number;
  /** TagInfo updates that changed the store. */
  readonly updates: number;
  /** TagInfo updates identical to what was stored (nothing changed, nobody woken). */
  readonly unchangedUpdates: number;
  /** Deletes requested by collectors. */
  readonly deletes: number;
  /** Prunes run, and entities they removed. */
  readonly prunes: number;
  readonly prunedEntities: number;
  /** Queries by cardinality and outcome. */
  readonly queries: Readonly<Record<TagCardinality, QueryCounters>>;
  /** Fetches on miss started, and how they ended. */
  readonly fetches: number;
  readonly fetchNotFound: number;
  readonly fetchErrors: number;
  readonly fetchTimeouts: number;
  /** Fetched TagInfo dropped because the entity's delete was pending or pruned meanwhile. */
  readonly fetchDiscarded: number;
  /** Queries answered from the not-found memory instead of fetching again. */
  readonly negativeCacheHits: number;
  /** Inputs refused, in total and by reason. */
  readonly rejected: number;
  readonly rejectedByReason: Readonly<Record<string, number>>;
  /** Errors raised by collectors' streams (each followed by a resubscription). */
  readonly collectorErrors: number;
}

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
