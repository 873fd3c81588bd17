/**
 * The read side of a Tagger, whatever holds its store: the local TagStore of `createTagger`, or the
 * mirror an IPC client keeps of another process's store. It answers `tag`, `tags$`, `events$`,
 * `storedTags`, `storedEntries`, `list`, `listSources` and `telemetry` over a {@link StoreReader},
 * wakes the subscribers of each entity the store says changed, and runs the Tagger's life
 * (`created` → `running` → `stopped`). What an implementation does when a query misses — fetch into
 * the store, or ask a server — is the one thing it gives: its {@link MissPolicy}.
 */
import {
  type Observable,
  type SchedulerLike,
  type Subscription,
  Subject,
  asyncScheduler,
  connect,
  defer,
  distinctUntilChanged,
  filter,
  lastValueFrom,
  map,
  merge,
  of,
  startWith,
  switchMap,
  take,
  takeUntil,
  tap,
  throwError,
  timer,
} from 'rxjs';
import { sameArray } from '../util/arrays.js';
import { KeyedListeners } from '../util/keyed-listeners.js';
import { type TaggerStatus, checkQuery } from './check-query.js';
import type { EntityCompleteness, EntityListing, EntitySourcesListing, EntityTags, LookupOptions, SourceTagsListing, TagEvent, TagEventsFilter, TagLookup, TaggerTelemetry } from './contract.js';
import { TaggerNotRunningError } from './errors.js';
import { type TagChange, tagEvents } from './tag-events.js';
import type { StoreGauges } from './tag-store-state.js';
import { type TelemetryCounters, countAnswer, snapshotTelemetry } from './telemetry.js';
import type { TagCardinality } from './types.js';

/** What the read side reads: a store of entities and their tags, owned by its writer. */
export interface StoreReader {
  /** The entity's tags at `cardinality`: a frozen array, empty when it is not stored. */
  read(entity: string, cardinality: TagCardinality): readonly string[];
  /** Every stored entity with its tags, read live as the iterator advances (no copy). */
  entries(): Iterable<readonly [string, EntityTags]>;
  /** The sources of a stored entity, highest priority first; `[]` where the store does not know them. */
  sources(entity: string): readonly string[];
  /** What each source of a stored entity gave; `[]` where the store does not know it. */
  bySource(entity: string): readonly SourceTagsListing[];
  /** The store's gauges for `telemetry()`. */
  gauges(): StoreGauges & { readonly incompleteEntities?: number };
  /**
   * Whether `entity` is complete and which expected sources it misses; `undefined` where it is not
   * known for this entity (an IPC client's mirror of a server that does not say). Absent where the
   * store can never know: lookups then answer `complete: false, missing: ['unknown']` at once,
   * without waiting, and events carry no `complete`.
   */
  completeness?(entity: string): EntityCompleteness | undefined;
}

/** The completeness of every entity for a store that cannot know it. */
const UNKNOWN: EntityCompleteness = Object.freeze({ complete: false, missing: Object.freeze(['unknown']) });

/**
 * What a query does when the store may lack what it asks:
 * - `read`: waits for `read` (a fetch into the store), then answers from the store for the entity
 *   it emits last (a short id resolved to the full id; the asked id when nothing resolved it);
 * - `answer`: the answer comes from elsewhere (a server); for `tags$`, the first change the store
 *   sees of the entity overtakes it.
 */
export type MissAnswer = { readonly read: Observable<string> } | { readonly answer: Observable<readonly string[]> };

/** The miss policy of a Tagger: `undefined` when the store can answer at once. */
export type MissPolicy = (entity: string, cardinality: TagCardinality) => MissAnswer | undefined;

/**
 * The read side of a Tagger over `store` (see the module's comment). The writer of the store calls
 * {@link ReadSide.emit} with the changes of each step it applies.
 *
 * @example
 * ```ts
 * const reads = new ReadSide(store, counters, (entity) => (store.has(entity) ? undefined : { answer: askServer(entity) }));
 * reads.start(() => changes$.subscribe((changes) => reads.emit(changes)));
 * await reads.tag('container_id://a');
 * ```
 */
export class ReadSide {
  private readonly stop$ = new Subject<void>();
  private readonly changes$ = new Subject<TagChange>();
  private readonly byEntity = new KeyedListeners<string, TagChange>();
  private subscription: Subscription | undefined;
  private status: TaggerStatus = 'created';

  /** Emits once, when the Tagger stops (before its live streams complete). */
  readonly stopped$: Observable<void> = this.stop$.asObservable();

  constructor(
    private readonly store: StoreReader,
    private readonly counters: TelemetryCounters,
    private readonly miss: MissPolicy,
    private readonly scheduler: SchedulerLike = asyncScheduler,
  ) {}

  /**
   * Starts the Tagger: `run` subscribes its writer. Idempotent; throws `TaggerNotRunningError` once
   * stopped (a stopped Tagger cannot start again).
   */
  start(run: () => Subscription): void {
    if (this.status === 'running') return;
    if (this.status === 'stopped') throw new TaggerNotRunningError('stopped');
    this.status = 'running';
    this.subscription = run();
  }

  /**
   * Stops the Tagger: its writer is unsubscribed, then every live stream completes. Returns false
   * when it was already stopped (nothing done).
   */
  stop(): boolean {
    if (this.status === 'stopped') return false;
    this.status = 'stopped';
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    // First: a query waiting for a fetch goes on to subscribe its live stream, completed below.
    this.stop$.next();
    this.stop$.complete();
    this.byEntity.complete();
    this.changes$.complete();
    return true;
  }

  /** Wakes the subscribers of each changed entity, and `events$`. */
  emit(changes: readonly TagChange[]): void {
    // Checked once: a Subject's next costs even with no one listening, and ingest is the hot path.
    const observed = this.changes$.observed;
    for (const change of changes) {
      this.byEntity.emit(change.entity, change);
      if (observed) this.changes$.next(change);
    }
  }

  /** See `Tagger.tag`. */
  tag(entity: string, cardinality: TagCardinality = 'low'): Promise<string[]> {
    const invalid = checkQuery(entity, cardinality, this.status);
    if (invalid !== undefined) return Promise.reject(invalid);
    const miss = this.miss(entity, cardinality);
    if (miss === undefined) return Promise.resolve(this.answer(entity, cardinality));
    if ('read' in miss) return lastValueFrom(miss.read.pipe(map((target) => this.answer(target, cardinality))));
    return lastValueFrom(miss.answer.pipe(map((tags) => countAnswer(this.counters, cardinality, [...tags]))));
  }

  /** See `Tagger.tags$`. */
  tags$(entity: string, cardinality: TagCardinality = 'low'): Observable<string[]> {
    return defer(() => {
      const invalid = checkQuery(entity, cardinality, this.status);
      if (invalid !== undefined) return throwError(() => invalid);
      const miss = this.miss(entity, cardinality);
      if (miss === undefined) return this.live$(entity, cardinality);
      if ('read' in miss) return miss.read.pipe(switchMap((target) => this.live$(target, cardinality)));
      return this.answered$(entity, cardinality, miss.answer);
    });
  }

  /** See `Tagger.lookup`. */
  lookup(entity: string, options: LookupOptions = {}): Promise<TagLookup> {
    const cardinality = options.cardinality ?? 'low';
    const wait = options.waitForComplete;
    const invalid = checkQuery(entity, cardinality, this.status);
    if (invalid !== undefined) return Promise.reject(invalid);
    if (wait !== undefined && !(Number.isFinite(wait) && wait >= 0)) {
      return Promise.reject(new RangeError(`waitForComplete must be a non-negative number of milliseconds, got ${String(wait)}`));
    }
    const miss = this.miss(entity, cardinality);
    if (miss !== undefined && 'answer' in miss) {
      return lastValueFrom(miss.answer.pipe(map((tags) => ({ tags: countAnswer(this.counters, cardinality, [...tags]), ...this.completenessOf(entity) }))));
    }
    const target$ = miss === undefined ? of(entity) : miss.read;
    if (wait === undefined || this.store.completeness === undefined) {
      return lastValueFrom(target$.pipe(map((target) => this.lookupAnswer(target, cardinality))));
    }
    // The entity the answer reads: the asked one, or the one a short id resolved to.
    let target = entity;
    const completed$ = target$.pipe(
      tap((resolved) => {
        target = resolved;
      }),
      switchMap((resolved) => this.byEntity.observe(resolved).pipe(startWith(undefined), filter(() => this.completenessOf(resolved).complete))),
    );
    return lastValueFrom(
      merge(completed$, timer(wait, this.scheduler), this.stop$).pipe(
        take(1),
        map(() => {
          const answer = this.lookupAnswer(target, cardinality);
          if (!answer.complete) this.counters.completeness.lookupsIncompleteAtDeadline += 1;
          return answer;
        }),
      ),
    );
  }

  /** See `Tagger.lookup$`. */
  lookup$(entity: string, cardinality: TagCardinality = 'low'): Observable<TagLookup> {
    return defer(() => {
      const invalid = checkQuery(entity, cardinality, this.status);
      if (invalid !== undefined) return throwError(() => invalid);
      const miss = this.miss(entity, cardinality);
      if (miss === undefined) return this.liveLookup$(entity, cardinality);
      if ('read' in miss) return miss.read.pipe(switchMap((target) => this.liveLookup$(target, cardinality)));
      return this.answered$(entity, cardinality, miss.answer).pipe(map((tags) => ({ tags, ...this.completenessOf(entity) })));
    });
  }

  /** See `Tagger.events$`. */
  events$(eventsFilter: TagEventsFilter = {}): Observable<TagEvent> {
    const completeness = this.store.completeness?.bind(this.store);
    const isComplete = completeness === undefined ? undefined : (entity: string): boolean | undefined => completeness(entity)?.complete;
    return tagEvents(() => this.store.entries(), this.changes$, eventsFilter, isComplete);
  }

  /** See `Tagger.storedCompleteness`. */
  storedCompleteness(entity: string): EntityCompleteness | undefined {
    return this.store.completeness?.(entity);
  }

  /**
   * Why a query of `entity` at `cardinality` is refused now (a malformed id or cardinality, a
   * Tagger not running), or `undefined`: what `tag()` would reject with before any work.
   */
  refusal(entity: string, cardinality: TagCardinality): Error | undefined {
    return checkQuery(entity, cardinality, this.status);
  }

  /** See `Tagger.storedTags`. */
  storedTags(entity: string, cardinality: TagCardinality = 'low'): readonly string[] {
    return this.store.read(entity, cardinality);
  }

  /** See `Tagger.storedEntries`. */
  storedEntries(): Iterable<readonly [string, EntityTags]> {
    return this.store.entries();
  }

  /** See `Tagger.list`. */
  list(): EntityListing[] {
    return Array.from(this.store.entries(), ([entity, tags]) => ({ entity, sources: this.store.sources(entity), tags }));
  }

  /** See `Tagger.listSources`. */
  listSources(prefixes: readonly string[] = []): EntitySourcesListing[] {
    const listed: EntitySourcesListing[] = [];
    for (const [entity, tags] of this.store.entries()) {
      if (prefixes.length > 0 && !prefixes.some((p) => entity.startsWith(p))) continue;
      const { low, orchestrator, high } = tags;
      listed.push({ entity, sources: this.store.sources(entity), tags: { low, orchestrator, high }, bySource: this.store.bySource(entity) });
    }
    return listed;
  }

  /** See `Tagger.telemetry`. */
  telemetry(): TaggerTelemetry {
    return snapshotTelemetry(this.counters, { ...this.store.gauges(), watchedEntities: this.byEntity.keys });
  }

  private completenessOf(entity: string): EntityCompleteness {
    return this.store.completeness?.(entity) ?? UNKNOWN;
  }

  private lookupAnswer(entity: string, cardinality: TagCardinality): TagLookup {
    return { tags: this.answer(entity, cardinality), ...this.completenessOf(entity) };
  }

  /** The entity's tags and completeness now, then at each change of either. */
  private liveLookup$(entity: string, cardinality: TagCardinality): Observable<TagLookup> {
    return this.byEntity.observe(entity).pipe(
      startWith(undefined),
      map(() => ({ tags: this.store.read(entity, cardinality), ...this.completenessOf(entity) })),
      distinctUntilChanged((a, b) => a.complete === b.complete && sameArray(a.tags, b.tags)),
      map((l) => ({ tags: countAnswer(this.counters, cardinality, [...l.tags]), complete: l.complete, missing: l.missing })),
    );
  }

  private answer(entity: string, cardinality: TagCardinality): string[] {
    return countAnswer(this.counters, cardinality, [...this.store.read(entity, cardinality)]);
  }

  /** The entity's tags in the store now, then at each change of it that changes them. */
  private live$(entity: string, cardinality: TagCardinality): Observable<string[]> {
    return this.byEntity.observe(entity).pipe(
      startWith(undefined),
      map(() => this.store.read(entity, cardinality)),
      distinctUntilChanged(sameArray),
      map((tags) => countAnswer(this.counters, cardinality, [...tags])),
    );
  }

  /** `answer$` first (unless a change of the entity reaches the store before it), then the store's changes. */
  private answered$(entity: string, cardinality: TagCardinality, answer$: Observable<readonly string[]>): Observable<string[]> {
    return this.byEntity.observe(entity).pipe(
      connect((changes$) => merge(answer$.pipe(takeUntil(changes$)), changes$.pipe(map(() => this.store.read(entity, cardinality))))),
      distinctUntilChanged(sameArray),
      map((tags) => countAnswer(this.counters, cardinality, [...tags])),
      // The answer may be a request still in flight: it does not outlive the Tagger.
      takeUntil(this.stop$),
    );
  }
}
