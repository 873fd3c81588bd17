/**
 * The local Tagger: collectors and fetch-on-miss answers reduced into a TagStore, read through the
 * shared read side. A thin shell: the options are checked in tagger-options.ts, fetch on miss lives
 * in fetch-on-miss.ts, the queries in read-side.ts, the counting in telemetry.ts.
 */
import { EMPTY, type Observable, Subject, merge, mergeAll, mergeMap, takeUntil, timer } from 'rxjs';
import { backoffDelay } from '../util/backoff.js';
import { collectorEvents } from './collector-events.js';
import {
  type CompletenessState,
  type ReportOutcome,
  createCompletenessState,
  forgetEntity,
  incompleteCount,
  isComplete,
  isMissing,
  missingSources,
  reportSource,
  tracksCompleteness,
} from './completeness.js';
import type { CreateTaggerOptions, EntityTags, Tagger } from './contract.js';
import { FetchOnMiss } from './fetch-on-miss.js';
import { describeError, loggedEntity, loggedId } from './log-fields.js';
import { ReadSide, type StoreReader } from './read-side.js';
import { ReadSideTagger } from './read-side-tagger.js';
import { listSources } from './source-listing.js';
import { tagStore } from './tag-store.js';
import type { TagChange } from './tag-events.js';
import {
  type TagStoreEvent,
  type TagStoreState,
  type TagStoreStep,
  createTagStoreState,
  readTags,
  storeGauges,
  storedEntities,
  storedEntity,
} from './tag-store-state.js';
import { MAX_COLLECTOR_RETRY_DELAY, type TaggerSettings, taggerSettings } from './tagger-options.js';
import { countCompletenessDelay, countRejection, countStep, createTelemetryCounters } from './telemetry.js';
import type { Collector, TagInfo } from './types.js';
import { readTagInfo } from './validate-tag-info.js';

// The contract lives in contract.ts; named here too for the modules that import it from this file.

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
  return new LocalTagger(taggerSettings(options));
}

class LocalTagger extends ReadSideTagger {
  private readonly state = createTagStoreState();
  private readonly counters = createTelemetryCounters();
  private readonly completeness: CompletenessState;
  /** The collectors that can be asked early (those with a `fetch` that cover some prefix). */
  private readonly fetchers: readonly Collector[];
  /** The early asks of expected sources (each ends by itself, or when the tagger stops). */
  private readonly asks = new Subject<Observable<never>>();
  protected readonly reads: ReadSide;
  private readonly fetching: FetchOnMiss;

  constructor(private readonly settings: TaggerSettings) {
    super();
    this.completeness = createCompletenessState(settings.collectors);
    this.fetchers = settings.collectors.filter((c) => c.fetch !== undefined && (c.covers?.length ?? 0) > 0);
    this.reads = new ReadSide(
      storeReader(this.state, this.completeness),
      this.counters,
      (entity) => {
        const read = this.fetching.readTarget$(entity);
        return read === undefined ? undefined : { read };
      },
      settings.scheduler,
    );
    this.fetching = new FetchOnMiss({
      ...settings,
      state: this.state,
      counters: this.counters,
      accept: (info, source) => this.accept(info, source),
      stopped$: this.reads.stopped$,
    });
  }

  start(): void {
    this.reads.start(() => {
      const { collectors, pruneInterval, scheduler } = this.settings;
      const streams = collectors.flatMap((c) => (c.tagInfo$ === undefined ? [] : [this.collect(c, c.tagInfo$)]));
      // The asks emit no event themselves: what they find comes through fetched$.
      return merge(...streams, this.fetching.fetched$, this.asks.pipe(mergeAll()))
        .pipe(tagStore({ pruneInterval, scheduler, state: this.state }))
        .subscribe((step) => {
          countStep(this.counters, step);
          if (!tracksCompleteness(this.completeness)) {
            this.reads.emit(step.changes);
            return;
          }
          const asks = this.trackCompleteness(step);
          // The asks start after the step's changes are out: a fetch that answers at once is a
          // later step, and its changes must follow these.
          for (const ask of asks) this.asks.next(ask);
        });
    });
  }

  /**
   * Notes what `step` tells of completeness, emits its changes (marking an entity it completed),
   * and returns the early asks it calls for.
   */
  private trackCompleteness(step: TagStoreStep): readonly Observable<never>[] {
    let changes: readonly TagChange[] = step.changes;
    for (const change of step.changes) if (change.type === 'deleted') forgetEntity(this.completeness, change.entity);
    const event = step.event;
    // A fetch's empty answer is a "not found": the ask that made it decides when it is final.
    if ((event.type !== 'upsert' && event.type !== 'fetched') || event.info.deleteEntity === true || step.ignored === 'negative-fetch') {
      this.reads.emit(changes);
      return NO_ASKS;
    }
    const entity = event.info.entity;
    const first = step.changes[0]?.type === 'added';
    // Not a first report, and nothing awaited of the entity (complete, or not stored): nothing to note.
    if (!first && isComplete(this.completeness, entity, true)) {
      this.reads.emit(changes);
      return NO_ASKS;
    }
    const outcome = reportSource(this.completeness, entity, event.info.source, { first, now: this.settings.scheduler.now() });
    if (this.countOutcome(entity, outcome)) changes = markCompleted(changes, entity, storedEntity(this.state, entity)?.tags);
    this.reads.emit(changes);
    return outcome.type === 'first' ? this.earlyAsks(entity) : NO_ASKS;
  }

  /** Counts a completeness delay; true when `outcome` completed an entity after its first report. */
  private countOutcome(entity: string, outcome: ReportOutcome): boolean {
    if (outcome.type === 'complete-at-first' && outcome.expected) countCompletenessDelay(this.counters, prefixOf(entity), 0);
    if (outcome.type !== 'completed') return false;
    countCompletenessDelay(this.counters, prefixOf(entity), outcome.delay);
    return true;
  }

  /** The asks of the sources `entity` misses that can be asked (those with a `fetch`). */
  private earlyAsks(entity: string): readonly Observable<never>[] {
    let asks: Observable<never>[] | undefined;
    for (const collector of this.fetchers) {
      if (isMissing(this.completeness, entity, collector.source)) (asks ??= []).push(this.ask$(entity, collector, 0));
    }
    return asks ?? NO_ASKS;
  }

  /**
   * Asks `collector` for `entity`, again after each "not found" or failure while it is still
   * missing, `completenessRetryDelays[attempt]` after the answer; the "not found" answering the
   * last ask is final: the source counts as reported.
   */
  private ask$(entity: string, collector: Collector, attempt: number): Observable<never> {
    const { completenessRetryDelays, scheduler } = this.settings;
    const counted = this.counters.completeness;
    counted.earlyAsks += 1;
    if (attempt > 0) counted.reasks += 1;
    return this.fetching.ask$(entity, collector).pipe(
      mergeMap((outcome) => {
        if (outcome === 'found' || !isMissing(this.completeness, entity, collector.source)) return EMPTY;
        const delay = completenessRetryDelays[attempt];
        if (delay !== undefined) {
          return timer(delay, scheduler).pipe(
            // The source may have reported meanwhile (its stream, a query's fetch), or the entity gone.
            mergeMap(() => (isMissing(this.completeness, entity, collector.source) ? this.ask$(entity, collector, attempt + 1) : EMPTY)),
          );
        }
        if (outcome === 'not-found') this.reportNotFound(entity, collector.source);
        return EMPTY;
      }),
      takeUntil(this.reads.stopped$),
    );
  }

  /** A final "not found" of `source` for the stored `entity`: it counts as reported. */
  private reportNotFound(entity: string, source: string): void {
    const stored = storedEntity(this.state, entity);
    if (stored === undefined) return;
    const outcome = reportSource(this.completeness, entity, source, { first: false, now: this.settings.scheduler.now() });
    if (this.countOutcome(entity, outcome)) this.reads.emit([{ entity, before: stored.tags, after: stored.tags, completed: true }]);
  }

  stop(): void {
    this.reads.stop();
  }

  /** A collector's stream as store events: validated, and resubscribed with backoff after an error. */
  private collect(collector: Collector, tagInfo$: Observable<TagInfo>): Observable<TagStoreEvent> {
    const { collectorRetryDelay, logger, scheduler } = this.settings;
    return collectorEvents(collector, tagInfo$, {
      accept: (info) => this.accept(info, collector.source),
      retryDelay: (error, attempt) => {
        this.counters.collectorErrors += 1;
        const wait = backoffDelay(attempt, collectorRetryDelay, MAX_COLLECTOR_RETRY_DELAY);
        logger.error('collector stream failed; resubscribing', { source: collector.source, attempt, delayMs: wait, error: describeError(error) });
        return wait;
      },
      scheduler,
    });
  }

  /** The checked copy of `info` to store, or `undefined` when it is refused (counted and logged). */
  private accept(info: TagInfo, source: string): TagInfo | undefined {
    const read = readTagInfo(info);
    if (typeof read !== 'string') return read;
    countRejection(this.counters, read);
    // Tags are never logged: they may carry values users consider private. Ids are cut short.
    this.settings.logger.warn('rejected TagInfo', { reason: read, collector: loggedId(source), entity: loggedEntity(info) });
    return undefined;
  }
}

const NO_ASKS: readonly Observable<never>[] = Object.freeze([]);

function prefixOf(entity: string): string {
  return entity.slice(0, entity.indexOf('://'));
}

/** `changes` with the change of `entity` marked as completing it (one added when the step changed nothing of it). */
function markCompleted(changes: readonly TagChange[], entity: string, tags: EntityTags | undefined): readonly TagChange[] {
  if (tags === undefined) return changes;
  if (!changes.some((change) => change.entity === entity)) return [...changes, { entity, before: tags, after: tags, completed: true }];
  return changes.map((change) => (change.entity === entity ? { ...change, completed: true } : change));
}

/** The local store as the read side reads it. */
function storeReader(state: TagStoreState, completeness: CompletenessState): StoreReader {
  return {
    completeness: (entity) => {
      const stored = storedEntity(state, entity) !== undefined;
      return { complete: isComplete(completeness, entity, stored), missing: missingSources(completeness, entity, stored) };
    },
    read: (entity, cardinality) => readTags(state, entity, cardinality),
    *entries() {
      for (const stored of storedEntities(state)) yield [stored.entity, stored.tags] as const;
    },
    sources: (entity) => storedEntity(state, entity)?.sources.map((s) => s.source) ?? [],
    bySource: (entity) => {
      const stored = storedEntity(state, entity);
      return stored === undefined ? [] : listSources(stored);
    },
    gauges: () => ({ ...storeGauges(state), incompleteEntities: incompleteCount(completeness) }),
  };
}
