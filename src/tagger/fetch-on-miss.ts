/**
 * Fetch on miss: when a query finds that a fetching collector has not answered for an entity, the
 * local Tagger asks it before answering. One fetch per (entity, source) however many wait for it,
 * cut at `fetchTimeout`; "not found" and failures remembered for a while; what a fetch finds goes
 * into the store as `fetched` events, never bringing back an entity deleted meanwhile. Short ids
 * (`Collector.shortIds`) are resolved here too: from the store, else by what the fetchers find.
 */
import {
  type Observable,
  type SchedulerLike,
  EMPTY,
  Subject,
  catchError,
  concat,
  defer,
  endWith,
  finalize,
  ignoreElements,
  map,
  merge,
  mergeMap,
  of,
  share,
  takeUntil,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { ExpiringSet } from '../util/expiring-set.js';
import type { Logger } from '../util/logger.js';
import { AmbiguousEntityIdError, FetchTimeoutError } from './errors.js';
import { describeError } from './log-fields.js';
import { type TagStoreEvent, type TagStoreState, isDeletePending, pruneGeneration, storedEntities, storedEntity } from './tag-store-state.js';
import type { TelemetryCounters } from './telemetry.js';
import type { Collector, ShortIdRule, TagInfo } from './types.js';

/** How one fetch ended: it found the entity, found nothing, or failed (an error or the timeout). */
export type FetchOutcome = 'found' | 'not-found' | 'failed';

/** What {@link FetchOnMiss} needs of its Tagger. */
export interface FetchOnMissOptions {
  readonly collectors: readonly Collector[];
  /** The store the fetches fill (read here; written through {@link FetchOnMiss.fetched$}). */
  readonly state: TagStoreState;
  readonly counters: TelemetryCounters;
  readonly fetchTimeout: number;
  readonly notFoundTtl: number;
  readonly fetchErrorTtl: number;
  readonly maxRememberedMisses: number;
  readonly scheduler: SchedulerLike;
  readonly logger: Logger;
  /** The checked copy of a fetched TagInfo to store, or `undefined` when it is refused. */
  readonly accept: (info: TagInfo, source: string) => TagInfo | undefined;
  /** Fetches still running end when it emits. */
  readonly stopped$: Observable<void>;
}

/**
 * The fetch-on-miss part of the local Tagger.
 *
 * @example
 * ```ts
 * const fetching = new FetchOnMiss({ collectors, state, counters, ...settings, accept, stopped$ });
 * merge(collectorEvents$, fetching.fetched$).pipe(tagStore({ pruneInterval, state })).subscribe();
 * fetching.readTarget$('ecs_task://a')?.subscribe((entity) => console.log(readTags(state, entity, 'low')));
 * ```
 */
export class FetchOnMiss {
  private readonly fetchers: readonly Collector[];
  private readonly shortIds: readonly ShortIdRule[];
  private readonly misses: ExpiringSet<string>;
  private readonly inflight = new Map<string, Observable<FetchOutcome>>();
  private readonly fetched = new Subject<TagStoreEvent>();

  /** What the fetches found, as `fetched` store events. */
  readonly fetched$: Observable<TagStoreEvent> = this.fetched.asObservable();

  constructor(private readonly options: FetchOnMissOptions) {
    this.fetchers = options.collectors.filter((c) => c.fetch !== undefined);
    this.shortIds = options.collectors.flatMap((c) => (c.shortIds === undefined ? [] : [c.shortIds]));
    this.misses = new ExpiringSet(() => options.scheduler.now(), options.maxRememberedMisses);
  }

  /**
   * What a query of `entity` waits for before it reads the store: the fetches due, then the entity
   * to read (a short id resolved; errors with `AmbiguousEntityIdError` when it begins several).
   * `undefined` when nothing is due and the id is not a short one: read the store now.
   */
  readTarget$(entity: string): Observable<string> | undefined {
    if (this.isShort(entity)) return this.resolved$(entity);
    const due = this.fetchDue(entity);
    return due === undefined ? undefined : concat(due, of(entity));
  }

  /** True when `entity` is a short id that some collector declares (see `Collector.shortIds`). */
  private isShort(entity: string): boolean {
    if (this.shortIds.length === 0 || storedEntity(this.options.state, entity) !== undefined) return false;
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
    if (storedEntity(this.options.state, entity) !== undefined) return entity;
    let found: string | undefined;
    let matches = 0;
    for (const stored of storedEntities(this.options.state)) {
      if (!stored.entity.startsWith(entity)) continue;
      matches += 1;
      found = stored.entity;
    }
    return matches > 1 ? new AmbiguousEntityIdError(entity, matches) : found;
  }

  /**
   * The entity a short id names: the one stored (after its due fetches), else what the fetchers
   * find by the short id (their TagInfo names the full entity); the short id itself when nothing
   * matches.
   */
  private resolved$(entity: string): Observable<string> {
    const stored = this.resolveStored(entity);
    if (stored instanceof AmbiguousEntityIdError) return throwError(() => stored);
    if (stored !== undefined) {
      const due = this.fetchDue(stored);
      return due === undefined ? of(stored) : concat(due, of(stored));
    }
    const after$ = defer(() => {
      const target = this.resolveStored(entity);
      return target instanceof AmbiguousEntityIdError ? throwError(() => target) : of(target ?? entity);
    });
    const due = this.fetchDue(entity);
    return due === undefined ? after$ : concat(due, after$);
  }

  /** The fetches due for `entity`, merged (completing when all are done), or undefined when none is. */
  private fetchDue(entity: string): Observable<never> | undefined {
    const state = this.options.state;
    if (this.fetchers.length === 0 || isDeletePending(state, entity)) return undefined;
    const stored = storedEntity(state, entity);
    let due: Observable<never>[] | undefined;
    for (const collector of this.fetchers) {
      if (stored?.sources.some((s) => s.source === collector.source) === true) continue;
      const key = missKey(collector.source, entity);
      if (this.misses.has(key)) {
        this.options.counters.negativeCacheHits += 1;
        continue;
      }
      (due ??= []).push(this.sharedFetch(entity, collector, key).pipe(ignoreElements()));
    }
    return due === undefined ? undefined : merge(...due);
  }

  /**
   * Asks `collector` for `entity` without a query (an early ask of an expected source): joins the
   * fetch of that (entity, source) in flight, else starts one, whatever the not-found memory says.
   * Emits how it ended, then completes; emits nothing when the tagger stops first.
   */
  ask$(entity: string, collector: Collector): Observable<FetchOutcome> {
    return defer(() => this.sharedFetch(entity, collector, missKey(collector.source, entity)));
  }

  /** One fetch per (entity, source) however many callers wait for it. */
  private sharedFetch(entity: string, collector: Collector, key: string): Observable<FetchOutcome> {
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

  /** The fetch of (entity, source): its TagInfo go to {@link FetchOnMiss.fetched$}; emits how it ended. */
  private runFetch(entity: string, collector: Collector, key: string): Observable<FetchOutcome> {
    const fetch = collector.fetch;
    if (fetch === undefined) return EMPTY;
    const { counters, fetchTimeout, scheduler, logger } = this.options;
    return defer(() => {
      counters.fetches += 1;
      const generation = pruneGeneration(this.options.state);
      let found = false;
      const deadline$ = timer(fetchTimeout, scheduler).pipe(
        mergeMap(() => throwError(() => new FetchTimeoutError(entity, collector.source, fetchTimeout))),
      );
      return fetch(entity).pipe(
        takeUntil(deadline$),
        tap((info) => {
          const accepted = this.options.accept(info, collector.source);
          if (accepted === undefined) return;
          // A fetch by a short id answers the full entity, which begins with it.
          if (accepted.entity.startsWith(entity) && hasTags(accepted)) found = true;
          this.fetched.next({ type: 'fetched', info: accepted, priority: collector.priority, generation });
        }),
        ignoreElements(),
        endWith(undefined),
        map((): FetchOutcome => {
          if (found) return 'found';
          counters.fetchNotFound += 1;
          this.misses.add(key, this.options.notFoundTtl);
          return 'not-found';
        }),
        catchError((error: unknown) => {
          // An answer, not a failure: the short id names several entities; the query says so.
          if (error instanceof AmbiguousEntityIdError) return throwError(() => error);
          if (error instanceof FetchTimeoutError) counters.fetchTimeouts += 1;
          else counters.fetchErrors += 1;
          this.misses.add(key, this.options.fetchErrorTtl);
          logger.warn('fetch on miss failed; answering with what is stored', { entity, source: collector.source, error: describeError(error) });
          return of<FetchOutcome>('failed');
        }),
        takeUntil(this.options.stopped$),
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
