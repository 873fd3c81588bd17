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
import type { CreateTaggerOptions, EntityListing, EntitySourcesListing, TagEvent, TagEventsFilter, Tagger } from './contract.js';
import { listSources } from './source-listing.js';
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

// The contract lives in contract.ts; named here too for the modules that import it from this file.
export type { CreateTaggerOptions, EntityListing, EntitySourcesListing, TagEvent, TagEventsFilter, Tagger } from './contract.js';

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
