import { Counter, Gauge, Histogram, type MetricType, Registry } from 'prom-client';
import type { DelayHistogram, TaggerTelemetry } from '../tagger/contract.js';
import type { ServerTelemetry } from './server-telemetry.js';

type TaggerCounterKey = {
  [K in keyof TaggerTelemetry]: TaggerTelemetry[K] extends number ? K : never;
}[keyof TaggerTelemetry];

const TAGGER_GAUGES: readonly (readonly [string, TaggerCounterKey, string])[] = [
  ['tagstream_tagger_entities', 'entities', 'Entities stored.'],
  ['tagstream_tagger_pending_deletes', 'pendingDeletes', 'Entities whose delete waits for the next prune.'],
  ['tagstream_tagger_interned_strings', 'internedStrings', 'Distinct interned tag strings.'],
  ['tagstream_tagger_watched_entities', 'watchedEntities', 'Entities with at least one live tags$ subscriber.'],
];

const TAGGER_COUNTERS: readonly (readonly [string, TaggerCounterKey, string])[] = [
  ['tagstream_tagger_updates_total', 'updates', 'TagInfo updates that changed the store.'],
  ['tagstream_tagger_unchanged_updates_total', 'unchangedUpdates', 'TagInfo updates identical to what was stored.'],
  ['tagstream_tagger_deletes_total', 'deletes', 'Deletes requested by collectors.'],
  ['tagstream_tagger_prunes_total', 'prunes', 'Prunes run.'],
  ['tagstream_tagger_pruned_entities_total', 'prunedEntities', 'Entities removed by prunes.'],
  ['tagstream_tagger_fetches_total', 'fetches', 'Fetches on miss started.'],
  ['tagstream_tagger_fetch_not_found_total', 'fetchNotFound', 'Fetches on miss that found nothing.'],
  ['tagstream_tagger_fetch_errors_total', 'fetchErrors', 'Fetches on miss that failed.'],
  ['tagstream_tagger_fetch_timeouts_total', 'fetchTimeouts', 'Fetches on miss cut by the fetch timeout.'],
  ['tagstream_tagger_fetch_discarded_total', 'fetchDiscarded', 'Fetched TagInfo dropped because the entity was deleted meanwhile.'],
  ['tagstream_tagger_negative_cache_hits_total', 'negativeCacheHits', 'Queries answered from the not-found memory.'],
  ['tagstream_tagger_collector_errors_total', 'collectorErrors', 'Errors raised by collector streams.'],
];

type ServerNumberKey = {
  [K in keyof ServerTelemetry]: ServerTelemetry[K] extends number ? K : never;
}[keyof ServerTelemetry];

const SERVER_COUNTERS: readonly (readonly [string, ServerNumberKey, string])[] = [
  ['tagstream_ipc_unauthorized_total', 'unauthorized', 'Requests refused with 401.'],
  ['tagstream_ipc_malformed_total', 'malformed', 'Connections closed before a request could be read (not HTTP, or over a size limit).'],
  ['tagstream_ipc_streams_total', 'streams', 'Event streams opened.'],
  ['tagstream_ipc_streams_refused_total', 'streamsRefused', 'Event streams refused with 429.'],
  ['tagstream_ipc_streams_cut_total', 'streamsCut', 'Event streams cut because the reader fell too far behind.'],
  ['tagstream_ipc_streams_stalled_total', 'streamsStalled', 'Event streams closed because the reader took nothing for readerStallTimeout while lines waited.'],
  ['tagstream_ipc_stream_lines_total', 'streamLines', 'Lines written to event streams.'],
  ['tagstream_ipc_query_waits_total', 'queryWaits', 'Tags queries with wait that waited for completeness.'],
  ['tagstream_ipc_query_waits_refused_total', 'queryWaitsRefused', 'Tags queries with wait answered at once because maxWaitingQueries were waiting.'],
];

/**
 * A Prometheus registry (prom-client) of a tagger's telemetry and an IPC server's own counters,
 * read at each scrape. Its own registry: nothing is added to prom-client's global one.
 *
 * @example
 * ```ts
 * const registry = ipcMetricsRegistry(() => tagger.telemetry(), () => server.telemetry());
 * console.log(await registry.metrics());
 * ```
 */
export function ipcMetricsRegistry(taggerTelemetry: () => TaggerTelemetry, serverTelemetry: () => ServerTelemetry): Registry {
  const registry = new Registry();
  const registers = [registry];
  for (const [name, key, help] of TAGGER_GAUGES) {
    new Gauge({ name, help, registers, collect() { this.set(taggerTelemetry()[key]); } });
  }
  for (const [name, key, help] of TAGGER_COUNTERS) {
    new Counter({ name, help, registers, collect() { setCounter(this, taggerTelemetry()[key]); } });
  }
  new Gauge({
    name: 'tagstream_tagger_entities_by_source',
    help: 'Entities each source holds tags for.',
    labelNames: ['source'],
    registers,
    collect() {
      this.reset();
      for (const [source, count] of Object.entries(taggerTelemetry().entitiesBySource)) this.set({ source }, count);
    },
  });
  new Counter({
    name: 'tagstream_tagger_queries_total',
    help: 'Queries answered, by cardinality and outcome (found: at least one tag; empty: none).',
    labelNames: ['cardinality', 'outcome'],
    registers,
    collect() {
      this.reset();
      for (const [cardinality, counts] of Object.entries(taggerTelemetry().queries)) {
        this.inc({ cardinality, outcome: 'found' }, counts.found);
        this.inc({ cardinality, outcome: 'empty' }, counts.empty);
      }
    },
  });
  new Counter({
    name: 'tagstream_tagger_rejected_total',
    help: 'TagInfo refused, by reason.',
    labelNames: ['reason'],
    registers,
    collect() {
      this.reset();
      for (const [reason, count] of Object.entries(taggerTelemetry().rejectedByReason)) this.inc({ reason }, count);
    },
  });
  new Gauge({
    name: 'tagstream_tagger_incomplete_entities',
    help: 'Stored entities that still miss a source expected for them.',
    registers,
    collect() {
      this.set(taggerTelemetry().completeness.incompleteEntities);
    },
  });
  new Counter({
    name: 'tagstream_tagger_lookups_incomplete_total',
    help: 'Lookups with waitForComplete answered incomplete at their deadline.',
    registers,
    collect() {
      setCounter(this, taggerTelemetry().completeness.lookupsIncompleteAtDeadline);
    },
  });
  new Counter({
    name: 'tagstream_tagger_completeness_early_asks_total',
    help: 'Expected sources asked for an entity without a query (at its first report by another source).',
    registers,
    collect() {
      setCounter(this, taggerTelemetry().completeness.earlyAsks);
    },
  });
  registry.registerMetric(new DelayHistogramMetric(
    'tagstream_tagger_completeness_delay_seconds',
    'From an entity\'s first report to complete, by entity prefix (entities some collector is expected for).',
    () => taggerTelemetry().completeness.delayMs,
  ));
  for (const [name, key, help] of SERVER_COUNTERS) {
    new Counter({ name, help, registers, collect() { setCounter(this, serverTelemetry()[key]); } });
  }
  new Gauge({ name: 'tagstream_ipc_open_streams', help: 'Event streams open now.', registers, collect() { this.set(serverTelemetry().openStreams); } });
  new Gauge({ name: 'tagstream_ipc_waiting_queries', help: 'Tags queries waiting now for their entity to be complete.', registers, collect() { this.set(serverTelemetry().waitingQueries); } });
  new Counter({
    name: 'tagstream_ipc_requests_total',
    help: 'Requests answered, by route and HTTP status.',
    labelNames: ['route', 'status'],
    registers,
    collect() {
      this.reset();
      for (const [route, byStatus] of Object.entries(serverTelemetry().requests)) {
        for (const [status, count] of Object.entries(byStatus)) this.inc({ route, status }, count);
      }
    },
  });
  return registry;
}

type PrefixHistogramValues = Awaited<ReturnType<Histogram<'prefix'>['get']>>;

/**
 * A histogram read whole from a snapshot at each scrape: the tagger already keeps cumulative
 * buckets in milliseconds (a {@link DelayHistogram} per prefix), exported here in seconds, so
 * nothing is observed twice and nothing is kept here. prom-client's histogram has no way to set
 * buckets, so its export is replaced; it is never observed.
 */
class DelayHistogramMetric extends Histogram<'prefix'> {
  /** Set by prom-client's constructor ('histogram'); not in its type declarations. */
  declare readonly type: MetricType;

  constructor(
    private readonly metricName: string,
    private readonly metricHelp: string,
    private readonly snapshot: () => Readonly<Record<string, DelayHistogram>>,
  ) {
    super({ name: metricName, help: metricHelp, labelNames: ['prefix'], registers: [] });
  }

  override get(): Promise<PrefixHistogramValues> {
    return this.getForPromString();
  }

  /** What the registry formats (it prefers this method to `get`). */
  getForPromString(): Promise<PrefixHistogramValues> {
    const values: PrefixHistogramValues['values'] = [];
    for (const [prefix, histogram] of Object.entries(this.snapshot())) {
      histogram.le.forEach((le, i) => {
        const labels: Record<string, string | number> = { prefix, le: le / 1000 };
        values.push({ metricName: `${this.metricName}_bucket`, labels, value: histogram.counts[i] ?? 0 });
      });
      const inf: Record<string, string | number> = { prefix, le: '+Inf' };
      values.push({ metricName: `${this.metricName}_bucket`, labels: inf, value: histogram.count });
      values.push({ metricName: `${this.metricName}_sum`, labels: { prefix }, value: histogram.sum / 1000 });
      values.push({ metricName: `${this.metricName}_count`, labels: { prefix }, value: histogram.count });
    }
    return Promise.resolve({ name: this.metricName, help: this.metricHelp, type: this.type, values, aggregator: 'sum', collect: () => undefined });
  }
}

function setCounter(counter: Counter, value: number): void {
  counter.reset();
  counter.inc(value);
}
