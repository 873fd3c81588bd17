import {
  type Observable,
  type SchedulerLike,
  type Subscription,
  EMPTY,
  Subject,
  asyncScheduler,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  finalize,
  ignoreElements,
  lastValueFrom,
  map,
  merge,
  mergeMap,
  of,
  share,
  startWith,
  takeUntil,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { sameArray } from '../util/arrays.js';
import { consoleLogger, type Logger } from '../util/logger.js';
import { ExpiringSet } from '../util/expiring-set.js';
import { KeyedListeners } from '../util/keyed-listeners.js';
import { type TaggerStatus, checkQuery } from './check-query.js';
import { AmbiguousEntityIdError, FetchTimeoutError, TaggerNotRunningError } from './errors.js';
import { collectorEvents } from './collector-events.js';
import { type SourceTagsListing, listSources } from './source-listing.js';
import { tagEvents } from './tag-events.js';
import { tagStore } from './tag-store.js';
import {
  type EntityChange,
  type EntityTags,
  type TagStoreEvent,
  type TagStoreStep,
  createTagStoreState,
  readTags,
} from './tag-store-state.js';
import { type TaggerTelemetry, createTelemetryCounters } from './telemetry.js';
import type { Collector, ShortIdRule, TagCardinality, TagInfo } from './types.js';
import { readTagInfo } from './validate-tag-info.js';

/** Options of {@link createTagger}. Every duration is in milliseconds. */
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

const MAX_RETRY_DELAY = 30_000;

/**
 * Creates a {@link Tagger}.
 *
 * @example
 * ```ts
 * const tagger = createTagger({ collectors: [streamCollector('static', of(info))], pruneInterval: 1000 });
 * tagger.start();
 * console.log(await tagger.tag('container_id://abc'));
 * ```
 */
export function createTagger(options: CreateTaggerOptions = {}): Tagger {
  return new LocalTagger(options);
}

class LocalTagger implements Tagger {
  private readonly state = createTagStoreState();
  private readonly counters = createTelemetryCounters();
  private readonly collectors: readonly Collector[];
  private readonly fetchers: readonly Collector[];
  private readonly shortIds: readonly ShortIdRule[];
  private readonly scheduler: SchedulerLike;
  private readonly logger: Logger;
  private readonly pruneInterval: number;
  private readonly fetchTimeout: number;
  private readonly notFoundTtl: number;
  private readonly fetchErrorTtl: number;
  private readonly retryDelay: number;
  private readonly misses: ExpiringSet<string>;
  private readonly inflight = new Map<string, Observable<never>>();
  private readonly fetched$ = new Subject<TagStoreEvent>();
  private readonly changes$ = new Subject<EntityChange>();
  private readonly stopped$ = new Subject<void>();
  private readonly byEntity = new KeyedListeners<string, EntityChange>();
  private subscription: Subscription | undefined;
  private status: TaggerStatus = 'created';

  constructor(options: CreateTaggerOptions) {
    this.collectors = options.collectors ?? [];
    this.fetchers = this.collectors.filter((c) => c.fetch !== undefined);
    this.shortIds = this.collectors.flatMap((c) => (c.shortIds === undefined ? [] : [c.shortIds]));
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.logger = options.logger ?? consoleLogger('warn');
    this.pruneInterval = positive(options.pruneInterval, 1000, 'pruneInterval');
    this.fetchTimeout = positive(options.fetchTimeout, 2000, 'fetchTimeout');
    this.notFoundTtl = positive(options.notFoundTtl, 30_000, 'notFoundTtl');
    this.fetchErrorTtl = positive(options.fetchErrorTtl, 5000, 'fetchErrorTtl');
    this.retryDelay = positive(options.collectorRetryDelay, 500, 'collectorRetryDelay');
    this.misses = new ExpiringSet(() => this.scheduler.now(), positive(options.maxRememberedMisses, 10_000, 'maxRememberedMisses'));
  }

  start(): void {
    if (this.status === 'running') return;
    if (this.status === 'stopped') throw new TaggerNotRunningError('stopped');
    this.status = 'running';
    const streams = this.collectors.flatMap((c) => (c.tagInfo$ === undefined ? [] : [this.collect(c, c.tagInfo$)]));
    this.subscription = merge(...streams, this.fetched$)
      .pipe(tagStore({ pruneInterval: this.pruneInterval, scheduler: this.scheduler, state: this.state }))
      .subscribe((step) => {
        this.onStep(step);
      });
  }

  stop(): void {
    if (this.status === 'stopped') return;
    this.status = 'stopped';
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.stopped$.next();
    this.stopped$.complete();
    this.byEntity.complete();
    this.changes$.complete();
  }

  tag(entity: string, cardinality: TagCardinality = 'low'): Promise<string[]> {
    const invalid = checkQuery(entity, cardinality, this.status);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (this.isShort(entity)) return lastValueFrom(this.resolved$(entity, (target) => of(this.answer(target, cardinality))));
    const due = this.fetchDue(entity);
    if (due === undefined) return Promise.resolve(this.answer(entity, cardinality));
    return lastValueFrom(concat(due, defer(() => of(this.answer(entity, cardinality)))));
  }

  tags$(entity: string, cardinality: TagCardinality = 'low'): Observable<string[]> {
    return defer(() => {
      const invalid = checkQuery(entity, cardinality, this.status);
      if (invalid !== undefined) return throwError(() => invalid);
      const live$ = (target: string): Observable<string[]> =>
        this.byEntity.observe(target).pipe(
          startWith(undefined),
          map(() => readTags(this.state, target, cardinality)),
          distinctUntilChanged(sameArray),
          map((tags) => this.count(cardinality, [...tags])),
        );
      if (this.isShort(entity)) return this.resolved$(entity, live$);
      const due = this.fetchDue(entity);
      return due === undefined ? live$(entity) : concat(due, live$(entity));
    });
  }

  events$(eventsFilter: TagEventsFilter = {}): Observable<TagEvent> {
    return tagEvents(() => this.storedEntries(), this.changes$, eventsFilter);
  }

  *storedEntries(): Generator<readonly [string, EntityTags]> {
    for (const [entity, stored] of this.state.entities) yield [entity, stored.tags];
  }

  storedTags(entity: string, cardinality: TagCardinality = 'low'): readonly string[] {
    return readTags(this.state, entity, cardinality);
  }

  list(): EntityListing[] {
    return Array.from(this.state.entities.values(), (stored) => ({
      entity: stored.entity,
      sources: stored.sources.map((s) => s.source),
      tags: stored.tags,
    }));
  }

  listSources(prefixes: readonly string[] = []): EntitySourcesListing[] {
    const listed: EntitySourcesListing[] = [];
    for (const stored of this.state.entities.values()) {
      if (prefixes.length > 0 && !prefixes.some((p) => stored.entity.startsWith(p))) continue;
      const { low, orchestrator, high } = stored.tags;
      listed.push({ entity: stored.entity, sources: stored.sources.map((s) => s.source), tags: { low, orchestrator, high }, bySource: listSources(stored) });
    }
    return listed;
  }

  telemetry(): TaggerTelemetry {
    const c = this.counters;
    return {
      ...c,
      queries: {
        low: { ...c.queries.low },
        orchestrator: { ...c.queries.orchestrator },
        high: { ...c.queries.high },
      },
      rejectedByReason: { ...c.rejectedByReason },
      entities: this.state.entities.size,
      entitiesBySource: Object.fromEntries(this.state.entitiesBySource),
      pendingDeletes: this.state.pendingDeletes.size,
      internedStrings: this.state.internedStrings,
      watchedEntities: this.byEntity.keys,
    };
  }

  private answer(entity: string, cardinality: TagCardinality): string[] {
    return this.count(cardinality, [...readTags(this.state, entity, cardinality)]);
  }

  private count(cardinality: TagCardinality, tags: string[]): string[] {
    const counters = this.counters.queries[cardinality];
    if (tags.length === 0) counters.empty += 1;
    else counters.found += 1;
    return tags;
  }

  /** A collector's stream as store events: validated, and resubscribed with backoff after an error. */
  private collect(collector: Collector, tagInfo$: Observable<TagInfo>): Observable<TagStoreEvent> {
    return collectorEvents(collector, tagInfo$, {
      accept: (info) => this.accept(info, collector.source),
      retryDelay: (error, attempt) => {
        this.counters.collectorErrors += 1;
        const wait = Math.min(this.retryDelay * 2 ** (attempt - 1), MAX_RETRY_DELAY);
        this.logger.error('collector stream failed; resubscribing', { source: collector.source, attempt, delayMs: wait, error: describe(error) });
        return wait;
      },
      scheduler: this.scheduler,
    });
  }

  /** The checked copy of `info` to store, or `undefined` when it is refused (counted and logged). */
  private accept(info: TagInfo, source: string): TagInfo | undefined {
    const read = readTagInfo(info);
    if (typeof read !== 'string') return read;
    this.counters.rejected += 1;
    this.counters.rejectedByReason[read] = (this.counters.rejectedByReason[read] ?? 0) + 1;
    // Tags are never logged: they may carry values users consider private. Ids are cut short.
    this.logger.warn('rejected TagInfo', { reason: read, collector: truncate(source), entity: entityOf(info) });
    return undefined;
  }

  /** True when `entity` is a short id that some collector declares (see `Collector.shortIds`). */
  private isShort(entity: string): boolean {
    if (this.shortIds.length === 0 || this.state.entities.has(entity)) return false;
    const at = entity.indexOf('://');
    const prefix = entity.slice(0, at);
    const id = entity.slice(at + 3);
    return this.shortIds.some((rule) => rule.prefix === prefix && rule.isShort(id));
  }

  /**
   * The one stored entity whose id begins with the short id `entity`; `undefined` when none does,
   * an error when several do. Costs a pass over the store: only short ids take it.
   */
  private resolveStored(entity: string): string | AmbiguousEntityIdError | undefined {
    if (this.state.entities.has(entity)) return entity;
    let found: string | undefined;
    let matches = 0;
    for (const stored of this.state.entities.keys()) {
      if (!stored.startsWith(entity)) continue;
      matches += 1;
      found = stored;
    }
    return matches > 1 ? new AmbiguousEntityIdError(entity, matches) : found;
  }

  /**
   * `read` of the entity a short id names: the one stored, else what the fetchers find by the short
   * id (their TagInfo names the full entity); the short id itself when nothing matches.
   */
  private resolved$<T>(entity: string, read: (target: string) => Observable<T>): Observable<T> {
    const stored = this.resolveStored(entity);
    if (stored instanceof AmbiguousEntityIdError) return throwError(() => stored);
    if (stored !== undefined) {
      const due = this.fetchDue(stored);
      return due === undefined ? read(stored) : concat(due, defer(() => read(stored)));
    }
    const after$ = defer(() => {
      const target = this.resolveStored(entity);
      return target instanceof AmbiguousEntityIdError ? throwError(() => target) : read(target ?? entity);
    });
    const due = this.fetchDue(entity);
    return due === undefined ? after$ : concat(due, after$);
  }

  private onStep(step: TagStoreStep): void {
    const counters = this.counters;
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
    // Checked first: a Subject's next costs even with no one listening, and ingest is the hot path.
    const observed = this.changes$.observed;
    for (const change of step.changes) {
      this.byEntity.emit(change.entity, change);
      if (observed) this.changes$.next(change);
    }
  }

  /** The fetches due for `entity`, merged (completing when all are done), or undefined when none is. */
  private fetchDue(entity: string): Observable<never> | undefined {
    if (this.fetchers.length === 0 || this.state.pendingDeletes.has(entity)) return undefined;
    const stored = this.state.entities.get(entity);
    let due: Observable<never>[] | undefined;
    for (const collector of this.fetchers) {
      if (stored?.sources.some((s) => s.source === collector.source) === true) continue;
      const key = missKey(collector.source, entity);
      if (this.misses.has(key)) {
        this.counters.negativeCacheHits += 1;
        continue;
      }
      (due ??= []).push(this.sharedFetch(entity, collector, key));
    }
    return due === undefined ? undefined : merge(...due);
  }

  /** One fetch per (entity, source) however many callers wait for it. */
  private sharedFetch(entity: string, collector: Collector, key: string): Observable<never> {
    let inflight = this.inflight.get(key);
    if (inflight === undefined) {
      inflight = this.runFetch(entity, collector, key).pipe(
        finalize(() => this.inflight.delete(key)),
        share(),
      );
      this.inflight.set(key, inflight);
    }
    return inflight;
  }

  private runFetch(entity: string, collector: Collector, key: string): Observable<never> {
    const fetch = collector.fetch;
    if (fetch === undefined) return EMPTY;
    return defer(() => {
      this.counters.fetches += 1;
      const generation = this.state.generation;
      let found = false;
      const deadline$ = timer(this.fetchTimeout, this.scheduler).pipe(
        mergeMap(() => throwError(() => new FetchTimeoutError(entity, collector.source, this.fetchTimeout))),
      );
      return fetch(entity).pipe(
        takeUntil(deadline$),
        tap((info) => {
          const accepted = this.accept(info, collector.source);
          if (accepted === undefined) return;
          // A fetch by a short id answers the full entity, which begins with it.
          if (accepted.entity.startsWith(entity) && hasTags(accepted)) found = true;
          this.fetched$.next({ type: 'fetched', info: accepted, priority: collector.priority, generation });
        }),
        ignoreElements(),
        tap({
          complete: () => {
            if (found) return;
            this.counters.fetchNotFound += 1;
            this.misses.add(key, this.notFoundTtl);
          },
        }),
        catchError((error: unknown) => {
          // An answer, not a failure: the short id names several entities; the query says so.
          if (error instanceof AmbiguousEntityIdError) return throwError(() => error);
          if (error instanceof FetchTimeoutError) this.counters.fetchTimeouts += 1;
          else this.counters.fetchErrors += 1;
          this.misses.add(key, this.fetchErrorTtl);
          this.logger.warn('fetch on miss failed; answering with what is stored', { entity, source: collector.source, error: describe(error) });
          return EMPTY;
        }),
        takeUntil(this.stopped$),
      );
    });
  }
}

function hasTags(info: TagInfo): boolean {
  return info.lowCardTags.length + info.orchestratorCardTags.length + info.highCardTags.length > 0;
}

function missKey(source: string, entity: string): string {
  return `${source}\u0000${entity}`;
}

/** The most characters of an id or source name a log line carries. */
const LOGGED_LENGTH = 200;

function truncate(text: string): string {
  return text.length > LOGGED_LENGTH ? `${text.slice(0, LOGGED_LENGTH)}…` : text;
}

/** The entity of a refused TagInfo, for the log line: cut short, and never a getter's throw. */
function entityOf(info: unknown): string | undefined {
  if (typeof info !== 'object' || info === null) return undefined;
  try {
    const entity = (info as { entity?: unknown }).entity;
    return typeof entity === 'string' ? truncate(entity) : undefined;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number of milliseconds, got ${String(value)}`);
  return value;
}
