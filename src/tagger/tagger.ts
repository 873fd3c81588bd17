/**
 * The local Tagger: collectors and fetch-on-miss answers reduced into a TagStore, read through the
 * shared read side. A thin shell: the options are checked in tagger-options.ts, fetch on miss lives
 * in fetch-on-miss.ts, the queries in read-side.ts, the counting in telemetry.ts.
 */
import { type Observable, merge } from 'rxjs';
import { backoffDelay } from '../util/backoff.js';
import { collectorEvents } from './collector-events.js';
import type { CreateTaggerOptions, EntityListing, EntitySourcesListing, EntityTags, TagEvent, TagEventsFilter, Tagger } from './contract.js';
import { FetchOnMiss } from './fetch-on-miss.js';
import { describeError, loggedEntity, loggedId } from './log-fields.js';
import { ReadSide, type StoreReader } from './read-side.js';
import { listSources } from './source-listing.js';
import { tagStore } from './tag-store.js';
import { type TagStoreEvent, type TagStoreState, createTagStoreState, readTags, storeGauges, storedEntities, storedEntity } from './tag-store-state.js';
import { MAX_COLLECTOR_RETRY_DELAY, type TaggerSettings, taggerSettings } from './tagger-options.js';
import { type TaggerTelemetry, countRejection, countStep, createTelemetryCounters } from './telemetry.js';
import type { Collector, TagCardinality, TagInfo } from './types.js';
import { readTagInfo } from './validate-tag-info.js';

// The contract lives in contract.ts; named here too for the modules that import it from this file.
export type { CreateTaggerOptions, EntityListing, EntitySourcesListing, TagEvent, TagEventsFilter, Tagger } from './contract.js';

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

class LocalTagger implements Tagger {
  private readonly state = createTagStoreState();
  private readonly counters = createTelemetryCounters();
  private readonly reads: ReadSide;
  private readonly fetching: FetchOnMiss;

  constructor(private readonly settings: TaggerSettings) {
    this.reads = new ReadSide(storeReader(this.state), this.counters, (entity) => {
      const read = this.fetching.readTarget$(entity);
      return read === undefined ? undefined : { read };
    });
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
      return merge(...streams, this.fetching.fetched$)
        .pipe(tagStore({ pruneInterval, scheduler, state: this.state }))
        .subscribe((step) => {
          countStep(this.counters, step);
          this.reads.emit(step.changes);
        });
    });
  }

  stop(): void {
    this.reads.stop();
  }

  tag(entity: string, cardinality?: TagCardinality): Promise<string[]> {
    return this.reads.tag(entity, cardinality);
  }

  tags$(entity: string, cardinality?: TagCardinality): Observable<string[]> {
    return this.reads.tags$(entity, cardinality);
  }

  events$(eventsFilter?: TagEventsFilter): Observable<TagEvent> {
    return this.reads.events$(eventsFilter);
  }

  storedTags(entity: string, cardinality?: TagCardinality): readonly string[] {
    return this.reads.storedTags(entity, cardinality);
  }

  storedEntries(): Iterable<readonly [string, EntityTags]> {
    return this.reads.storedEntries();
  }

  list(): EntityListing[] {
    return this.reads.list();
  }

  listSources(prefixes?: readonly string[]): EntitySourcesListing[] {
    return this.reads.listSources(prefixes);
  }

  telemetry(): TaggerTelemetry {
    return this.reads.telemetry();
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

/** The local store as the read side reads it. */
function storeReader(state: TagStoreState): StoreReader {
  return {
    read: (entity, cardinality) => readTags(state, entity, cardinality),
    *entries() {
      for (const stored of storedEntities(state)) yield [stored.entity, stored.tags] as const;
    },
    sources: (entity) => storedEntity(state, entity)?.sources.map((s) => s.source) ?? [],
    bySource: (entity) => {
      const stored = storedEntity(state, entity);
      return stored === undefined ? [] : listSources(stored);
    },
    gauges: () => storeGauges(state),
  };
}
