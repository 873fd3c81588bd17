/**
 * The tagger's contract: what a Tagger is and answers, whatever its implementation (the local one of
 * `createTagger`, or the IPC client of another process's tagger). Types only; implementations and
 * the modules that serve or read a Tagger import it from here.
 */
import type { Observable, SchedulerLike } from 'rxjs';
import type { Logger } from '../util/logger.js';
import type { Collector, SourcePriority, TagCardinality } from './types.js';

/**
 * An entity's tags, cumulative by cardinality; frozen arrays, computed once per change.
 *
 * @example
 * ```ts
 * const { low, orchestrator, high } = tagger.list()[0]?.tags ?? { low: [], orchestrator: [], high: [] };
 * ```
 */
export interface EntityTags {
  readonly low: readonly string[];
  /** low + orchestrator */
  readonly orchestrator: readonly string[];
  /** low + orchestrator + high */
  readonly high: readonly string[];
}

/** Options of `createTagger`. Every duration is in milliseconds. */
export interface CreateTaggerOptions {
  /** The collectors to run. Default: none (tags can still come from fetch-only collectors). */
  readonly collectors?: readonly Collector[];
  /** How long deletes are buffered before they are applied together. Default: 1000. */
  readonly pruneInterval?: number;
  /** The longest a fetch on miss may take before the query answers with what is stored. Default: 2000. */
  readonly fetchTimeout?: number;
  /** How long "not found" is remembered for an (entity, source), so it is not fetched on every call. Default: 30000. */
  readonly notFoundTtl?: number;
  /** How long a failed or timed-out fetch is remembered before it is tried again. Default: 5000. */
  readonly fetchErrorTtl?: number;
  /** The most (entity, source) misses remembered; the oldest goes first. Default: 10000. */
  readonly maxRememberedMisses?: number;
  /** The first delay before a failed collector stream is resubscribed; it doubles up to 30 s. Default: 500. */
  readonly collectorRetryDelay?: number;
  /**
   * When an early ask (see {@link Tagger.lookup}) of an expected source answers "not found", or
   * fails, for an entity still incomplete: the delays after which it is asked again, one ask per
   * entry, each counted from the previous answer. A "not found" is final (the source counts as
   * reported) only when it answers the last of these asks; `[]` makes the first one final.
   * Default: `[250, 1000]`.
   */
  readonly completenessRetryDelays?: readonly number[];
  /** The scheduler of every timer (prune windows, fetch timeouts, retries, expiries). Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Where rejections and errors are reported. Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
}

/** A change of one entity, as seen at one cardinality. */
export interface TagEvent {
  readonly type: 'added' | 'modified' | 'deleted';
  readonly entity: string;
  /** The entity's tags at the stream's cardinality (`[]` for `deleted`). */
  readonly tags: readonly string[];
  /**
   * True when every source expected for the entity has reported it (see {@link Tagger.lookup});
   * false for `deleted`. An entity that becomes complete without a change of its tags gets a
   * `modified` event with the same tags and `complete: true`. Set by the local Tagger, and by an IPC
   * client whose server puts it on its event lines; absent where it is not known (a client of an
   * older server): read absent as "not known to be complete".
   */
  readonly complete?: boolean;
}

/** Options of {@link Tagger.lookup}. */
export interface LookupOptions {
  /** The cardinality of the tags (cumulative). Default: 'low'. */
  readonly cardinality?: TagCardinality;
  /**
   * The longest to wait, in milliseconds from the call, for the entity to be complete (a fetch on
   * miss included). The answer comes as soon as it is complete, else at this deadline with what is
   * stored then. Default: no wait (answers as `tag()` does, after any fetch on miss).
   */
  readonly waitForComplete?: number;
}

/**
 * An entity's tags with its completeness.
 *
 * @example
 * ```ts
 * const answer: TagLookup = { tags: ['image_name:redis'], complete: false, missing: ['kubelet'] };
 * ```
 */
export interface TagLookup {
  readonly tags: string[];
  /** Every source expected for the entity has reported it (an entity not stored is never complete). */
  readonly complete: boolean;
  /**
   * The expected sources that have not reported it yet (`[]` when complete). `['unknown']` where
   * they cannot be known (an IPC client of an older server; an IPC client's `lookup$`, whose event
   * stream says whether an entity is complete, not what it misses).
   */
  readonly missing: readonly string[];
}

/** What {@link Tagger.events$} streams. */
export interface TagEventsFilter {
  /** Only entities whose id starts with this prefix (or with one of these). Default: all. */
  readonly prefix?: string | readonly string[];
  /** The cardinality of the tags in each event. Default: 'low'. */
  readonly cardinality?: TagCardinality;
  /**
   * `false`: no initial `added` burst, only the changes from now on (pair with
   * {@link Tagger.storedEntries} to read what is stored at a pace of one's own). Default: true.
   */
  readonly burst?: boolean;
}

/** One stored entity, as listed by {@link Tagger.list}. */
export interface EntityListing {
  readonly entity: string;
  /** The sources holding tags for it, highest priority first. */
  readonly sources: readonly string[];
  readonly tags: EntityTags;
}

/**
 * One stored entity with what each of its sources gave, as listed by {@link Tagger.listSources}.
 *
 * @example
 * ```ts
 * for (const e of tagger.listSources(['container_id://'])) console.log(e.entity, e.bySource.map((s) => s.source));
 * ```
 */
export interface EntitySourcesListing extends EntityListing {
  /** Each source's tags by cardinality and which of them lose their name, highest priority first. */
  readonly bySource: readonly SourceTagsListing[];
}

/**
 * Whether an entity is complete and which expected sources have not reported it yet: the part of
 * a {@link TagLookup} that {@link Tagger.storedCompleteness} answers.
 *
 * @example
 * ```ts
 * const state: EntityCompleteness = { complete: false, missing: ['kubernetes'] };
 * ```
 */
export type EntityCompleteness = Pick<TagLookup, 'complete' | 'missing'>;

/**
 * The Tagger: runs collectors into a TagStore and answers queries, fetching what the store lacks.
 *
 * @example
 * ```ts
 * const tagger = createTagger({ collectors: [dockerCollector()] });
 * tagger.start();
 * const tags = await tagger.tag(containerId(id), 'high');
 * tagger.tags$(containerId(id)).subscribe((tags) => console.log(tags));
 * tagger.stop();
 * ```
 */
export interface Tagger {
  /** Subscribes to every collector. Idempotent; a stopped tagger cannot be started again. */
  start(): void;
  /** Tears every subscription down and completes every live stream. Idempotent. */
  stop(): void;
  /**
   * The entity's tags at `cardinality` (cumulative; default 'low'). Fetches first when a fetching
   * collector has not answered for the entity yet. A short id that a collector declares (see
   * `Collector.shortIds`) answers the one entity whose id it begins. Rejects with a typed error for
   * a malformed entity id or cardinality, an ambiguous short id (`AmbiguousEntityIdError`), or when
   * the tagger is not running; never for a failed fetch.
   */
  tag(entity: string, cardinality?: TagCardinality): Promise<string[]>;
  /**
   * The entity's tags now (after a fetch on miss, if one is due), then each distinct change; `[]`
   * once it is deleted. Completes when the tagger stops.
   */
  tags$(entity: string, cardinality?: TagCardinality): Observable<string[]>;
  /**
   * Changes of every entity (or those matching `filter.prefix`): first an `added` burst for
   * everything stored, then `added` / `modified` / `deleted` as they happen.
   */
  events$(filter?: TagEventsFilter): Observable<TagEvent>;
  /**
   * The entity's tags and whether it is complete — every collector that covers its prefix (see
   * `Collector.covers`) has reported it — waiting up to `options.waitForComplete` ms for that.
   * Never rejects for incompleteness: at the deadline it answers `complete: false` with the
   * `missing` sources. Rejects as `tag()` does (a malformed id or cardinality, an ambiguous short id,
   * a stopped tagger); a negative or non-finite `waitForComplete` rejects with a `RangeError`. The
   * IPC client asks its server, which waits (up to its `maxQueryWait`); a server older than the
   * `wait` parameter, or one it cannot reach, gives `complete: false, missing: ['unknown']`.
   *
   * @example
   * ```ts
   * const { tags, complete, missing } = await tagger.lookup(containerId(id), { cardinality: 'high', waitForComplete: 500 });
   * if (!complete) console.warn('tags without', missing);
   * ```
   */
  lookup(entity: string, options?: LookupOptions): Promise<TagLookup>;
  /**
   * The live form of {@link Tagger.lookup}: the entity's tags and completeness now (after a fetch on
   * miss, if one is due), then at each change of either. Completes when the tagger stops.
   *
   * @example
   * ```ts
   * tagger.lookup$(containerId(id), 'high').pipe(first((l) => l.complete)).subscribe(({ tags }) => console.log(tags));
   * ```
   */
  lookup$(entity: string, cardinality?: TagCardinality): Observable<TagLookup>;
  /**
   * Whether a stored entity is complete now and which expected sources it misses, synchronously,
   * without fetching or waiting; `undefined` where that is not known (an IPC client whose server
   * does not say, or an entity its mirror lacks). Optional: a Tagger of one's own may leave it out.
   * The IPC server reads it to put `complete` on the lines of its event stream.
   *
   * @example
   * ```ts
   * tagger.storedCompleteness?.(containerId(id)); // { complete: false, missing: ['kubelet'] }
   * ```
   */
  storedCompleteness?(entity: string): Pick<TagLookup, 'complete' | 'missing'> | undefined;
  /** What is stored now, without fetching: frozen arrays, no copy. */
  storedTags(entity: string, cardinality?: TagCardinality): readonly string[];
  /**
   * Every stored entity with its tags at each cardinality, read lazily from the live store as the
   * iterator is advanced (no copy of the store is made): an entity added before the iterator
   * reaches the end is visited, one deleted before it is visited is not, and an entity's tags are
   * those it has when it is visited.
   */
  storedEntries(): Iterable<readonly [string, EntityTags]>;
  /** Every stored entity with its sources and tags. */
  list(): EntityListing[];
  /**
   * Every stored entity whose id starts with one of `prefixes` (all when none), with its merged
   * tags and what each source gave (`tagstream list --sources`).
   */
  listSources(prefixes?: readonly string[]): EntitySourcesListing[];
  /** A snapshot of the counters and gauges. */
  telemetry(): TaggerTelemetry;
}

/**
 * The name of a {@link SourcePriority} value.
 *
 * @example
 * ```ts
 * const name: SourcePriorityName = 'NodeRuntime';
 * ```
 */
export type SourcePriorityName = keyof typeof SourcePriority;

/**
 * A tag of a source that is not served from it: a higher-priority source gives a tag of the same
 * name, and its values win.
 *
 * @example
 * ```ts
 * const lost: OverriddenTag = { tag: 'team:payments', by: ['kubelet'] };
 * ```
 */
export interface OverriddenTag {
  readonly tag: string;
  /** The sources whose values of the name are served (the highest priority giving it). */
  readonly by: readonly string[];
}

/**
 * What one source stored for one entity.
 *
 * @example
 * ```ts
 * const docker: SourceTagsListing = { source: 'docker', priority: 0, priorityName: 'NodeRuntime', low: ['team:payments'], orchestrator: [], high: ['container_name:cache'], overridden: [] };
 * ```
 */
export interface SourceTagsListing {
  readonly source: string;
  readonly priority: SourcePriority;
  readonly priorityName: SourcePriorityName;
  /** The tags this source gave at each cardinality (each level alone, not cumulative). */
  readonly low: readonly string[];
  readonly orchestrator: readonly string[];
  readonly high: readonly string[];
  /** Its tags that are not served: their name is given by a higher-priority source. */
  readonly overridden: readonly OverriddenTag[];
}

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
  /** Completeness: delays, asks, and lookups that hit their deadline. */
  readonly completeness: CompletenessTelemetry;
}

/**
 * A histogram of durations in milliseconds, Prometheus style: `counts[i]` counts the observations
 * `<= le[i]` (cumulative); `count` is every observation (the `+Inf` bucket), `sum` their total.
 *
 * @example
 * ```ts
 * const h: DelayHistogram = { le: [10, 25], counts: [1, 3], count: 4, sum: 95 };
 * ```
 */
export interface DelayHistogram {
  readonly le: readonly number[];
  readonly counts: readonly number[];
  readonly count: number;
  readonly sum: number;
}

/**
 * The completeness part of {@link TaggerTelemetry}.
 *
 * @example
 * ```ts
 * const c = tagger.telemetry().completeness;
 * console.log(c.incompleteEntities, c.delayMs.container_id?.count, c.lookupsIncompleteAtDeadline);
 * ```
 */
export interface CompletenessTelemetry {
  /** Gauge: stored entities that still miss an expected source. */
  readonly incompleteEntities: number;
  /**
   * From an entity's first report to complete, by entity prefix; only entities some collector is
   * expected for (an entity completed by its first report counts 0).
   */
  readonly delayMs: Readonly<Record<string, DelayHistogram>>;
  /** Expected sources asked for an entity without a query (its first report by another source). */
  readonly earlyAsks: number;
  /** Of those, asks again after a "not found" or a failure (`completenessRetryDelays`). */
  readonly reasks: number;
  /** `lookup()` calls with `waitForComplete` answered incomplete at their deadline. */
  readonly lookupsIncompleteAtDeadline: number;
}
