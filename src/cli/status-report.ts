/**
 * `tagstream status`: the document the agent serves at `GET /v1/status` (what its status screen
 * shows, and the counters behind it), reading it back, and its text. Pure.
 */
import type { ServerTelemetry } from '../ipc/server-telemetry.js';
import type { CompletenessTelemetry, DelayHistogram, TaggerTelemetry } from '../tagger/contract.js';
import { escapeControls } from './query-format.js';
import { type CollectorState, type KvstoreCounters, type StatusRowName, type StatusSnapshot, kvstoreSummary, renderStatusTable } from './status.js';

/**
 * The Tagger's counters as `tagstream status` shows them.
 *
 * @example
 * ```ts
 * const counters: StatusCounters = taggerCounters(tagger.telemetry());
 * ```
 */
export interface StatusCounters {
  readonly updates: number;
  readonly unchangedUpdates: number;
  readonly deletes: number;
  readonly prunes: number;
  readonly prunedEntities: number;
  readonly pendingDeletes: number;
  readonly fetches: number;
  readonly fetchNotFound: number;
  readonly fetchErrors: number;
  readonly fetchTimeouts: number;
  readonly rejected: number;
  readonly collectorErrors: number;
  /** Queries answered with tags (`found`) and without (`empty`), all cardinalities together. */
  readonly queriesFound: number;
  readonly queriesEmpty: number;
  /** Completeness (absent from an agent older than it). */
  readonly completeness?: StatusCompleteness;
}

/**
 * Completeness as `tagstream status` shows it: the delay from an entity's first report to complete,
 * by entity prefix (median and 99th percentile, as the upper bound of their bucket in ms; `null`
 * when above the last bucket), the entities incomplete now, and lookups answered incomplete at
 * their deadline.
 *
 * @example
 * ```ts
 * const c: StatusCompleteness = { incompleteEntities: 1, lookupsIncomplete: 2, delayByPrefix: { container_id: { count: 12, p50Ms: 250, p99Ms: 1000 } } };
 * ```
 */
export interface StatusCompleteness {
  readonly incompleteEntities: number;
  readonly lookupsIncomplete: number;
  readonly delayByPrefix: Readonly<Record<string, { readonly count: number; readonly p50Ms: number | null; readonly p99Ms: number | null }>>;
}

/**
 * The status's completeness, from the tagger's telemetry.
 *
 * @example
 * ```ts
 * completenessStatus(tagger.telemetry().completeness).delayByPrefix.container_id?.p99Ms;
 * ```
 */
export function completenessStatus(c: CompletenessTelemetry): StatusCompleteness {
  const delayByPrefix: Record<string, { count: number; p50Ms: number | null; p99Ms: number | null }> = {};
  for (const [prefix, h] of Object.entries(c.delayMs)) {
    delayByPrefix[prefix] = { count: h.count, p50Ms: quantileBound(h, 0.5), p99Ms: quantileBound(h, 0.99) };
  }
  return { incompleteEntities: c.incompleteEntities, lookupsIncomplete: c.lookupsIncompleteAtDeadline, delayByPrefix };
}

/** The upper bound of the bucket the `q` quantile falls in; null above the last bucket, or with no observation. */
function quantileBound(h: DelayHistogram, q: number): number | null {
  if (h.count === 0) return null;
  const rank = Math.ceil(q * h.count);
  const i = h.counts.findIndex((n) => n >= rank);
  return i < 0 ? null : (h.le[i] ?? null);
}

/**
 * The IPC server as `tagstream status` shows it.
 *
 * @example
 * ```ts
 * const server: StatusServer = { address: 'unix:/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token', requests: 12, unauthorized: 0, openStreams: 1, streams: 3, streamsRefused: 0, streamsCut: 0, streamsStalled: 0 };
 * ```
 */
export interface StatusServer {
  readonly address: string;
  readonly tokenFile: string;
  /** Requests answered since start, every route and status. */
  readonly requests: number;
  readonly unauthorized: number;
  readonly openStreams: number;
  readonly streams: number;
  readonly streamsRefused: number;
  readonly streamsCut: number;
  readonly streamsStalled: number;
}

/**
 * The agent's answer to `GET /v1/status` (and `tagstream status --json`).
 *
 * @example
 * ```ts
 * const doc: AgentStatus = statusDocument(snapshot, { version: '0.1.0', startedAt, entitiesByPrefix: {}, counters, server });
 * ```
 */
export interface AgentStatus {
  readonly version: string;
  /** When the document was made, and when the agent started (ISO 8601). */
  readonly time: string;
  readonly startedAt: string;
  readonly collectors: readonly { readonly name: StatusRowName; readonly state: CollectorState; readonly reason: string; readonly entities: number | null }[];
  readonly entities: number;
  readonly entitiesBySource: Readonly<Record<string, number>>;
  /** Entities by the prefix of their id (`container_id`, `kubernetes_pod_uid`, ...). */
  readonly entitiesByPrefix: Readonly<Record<string, number>>;
  readonly updatesPerSecond: number;
  readonly counters: StatusCounters;
  readonly server: StatusServer;
  /** The shared kvstore's counters, or null without `--kvstore`. */
  readonly kvstore: KvstoreCounters | null;
  /** The last warnings of the collectors and the Tagger, oldest first. */
  readonly warnings: readonly string[];
}

/**
 * Entities counted by the prefix of their id (the part before `://`).
 *
 * @example
 * ```ts
 * entitiesByPrefix(['container_id://a', 'container_id://b', 'ecs_task://t']); // { container_id: 2, ecs_task: 1 }
 * ```
 */
export function entitiesByPrefix(ids: Iterable<string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const id of ids) {
    const end = id.indexOf('://');
    const prefix = end < 0 ? id : id.slice(0, end);
    counts[prefix] = (counts[prefix] ?? 0) + 1;
  }
  return counts;
}

/**
 * The Tagger's counters, from its telemetry.
 *
 * @example
 * ```ts
 * taggerCounters(tagger.telemetry()).updates;
 * ```
 */
export function taggerCounters(t: TaggerTelemetry): StatusCounters {
  const q = t.queries;
  return {
    updates: t.updates,
    unchangedUpdates: t.unchangedUpdates,
    deletes: t.deletes,
    prunes: t.prunes,
    prunedEntities: t.prunedEntities,
    pendingDeletes: t.pendingDeletes,
    fetches: t.fetches,
    fetchNotFound: t.fetchNotFound,
    fetchErrors: t.fetchErrors,
    fetchTimeouts: t.fetchTimeouts,
    rejected: t.rejected,
    collectorErrors: t.collectorErrors,
    queriesFound: q.low.found + q.orchestrator.found + q.high.found,
    queriesEmpty: q.low.empty + q.orchestrator.empty + q.high.empty,
    completeness: completenessStatus(t.completeness),
  };
}

/**
 * The IPC server's part of the status, from its telemetry.
 *
 * @example
 * ```ts
 * serverStatus(server.address, server.tokenFile, server.telemetry());
 * ```
 */
export function serverStatus(address: string, tokenFile: string, t: ServerTelemetry): StatusServer {
  let requests = 0;
  for (const byStatus of Object.values(t.requests)) for (const n of Object.values(byStatus)) requests += n;
  return {
    address,
    tokenFile,
    requests,
    unauthorized: t.unauthorized,
    openStreams: t.openStreams,
    streams: t.streams,
    streamsRefused: t.streamsRefused,
    streamsCut: t.streamsCut,
    streamsStalled: t.streamsStalled,
  };
}

/**
 * The status document of a snapshot of the status screen and the rest.
 *
 * @example
 * ```ts
 * statusDocument(snapshot, { version: '0.1.0', startedAt: Date.now(), entitiesByPrefix: {}, counters, server });
 * ```
 */
export function statusDocument(
  snapshot: StatusSnapshot,
  more: {
    readonly version: string;
    readonly startedAt: number;
    readonly entitiesByPrefix: Readonly<Record<string, number>>;
    readonly counters: StatusCounters;
    readonly server: StatusServer;
  },
): AgentStatus {
  return {
    version: more.version,
    time: new Date(snapshot.time).toISOString(),
    startedAt: new Date(more.startedAt).toISOString(),
    collectors: snapshot.collectors.map((c) => ({ name: c.name, state: c.state, reason: c.reason, entities: c.entities ?? null })),
    entities: snapshot.entities,
    entitiesBySource: snapshot.entitiesBySource,
    entitiesByPrefix: more.entitiesByPrefix,
    updatesPerSecond: snapshot.updatesPerSecond,
    counters: more.counters,
    server: more.server,
    kvstore: snapshot.kvstore ?? null,
    warnings: snapshot.warnings,
  };
}

const STATES: ReadonlySet<string> = new Set<CollectorState>(['connected', 'connecting', 'retrying', 'ready', 'idle', 'not found', 'disabled']);

/**
 * Reads a status document an agent answered; undefined when it is not one (another server, or one
 * too different to show).
 *
 * @example
 * ```ts
 * const doc = parseAgentStatus(JSON.parse(body));
 * if (doc === undefined) throw new Error('not an agent status');
 * ```
 */
export function parseAgentStatus(value: unknown): AgentStatus | undefined {
  if (!isRecord(value)) return undefined;
  const { collectors, counters, server } = value;
  const ok =
    typeof value.version === 'string' &&
    typeof value.time === 'string' &&
    typeof value.startedAt === 'string' &&
    Array.isArray(collectors) &&
    collectors.every(
      (c) =>
        isRecord(c) &&
        typeof c.name === 'string' &&
        typeof c.state === 'string' &&
        STATES.has(c.state) &&
        typeof c.reason === 'string' &&
        (c.entities === null || typeof c.entities === 'number'),
    ) &&
    typeof value.entities === 'number' &&
    isCounts(value.entitiesBySource) &&
    isCounts(value.entitiesByPrefix) &&
    typeof value.updatesPerSecond === 'number' &&
    isRecord(counters) &&
    isCounts(Object.fromEntries(Object.entries(counters).filter(([k]) => k !== 'completeness'))) &&
    (counters.completeness === undefined || isCompleteness(counters.completeness)) &&
    isRecord(server) &&
    typeof server.address === 'string' &&
    typeof server.tokenFile === 'string' &&
    isCounts(Object.fromEntries(Object.entries(server).filter(([k]) => k !== 'address' && k !== 'tokenFile'))) &&
    (value.kvstore === null || isRecord(value.kvstore)) &&
    Array.isArray(value.warnings) &&
    value.warnings.every((w) => typeof w === 'string');
  return ok ? (value as unknown as AgentStatus) : undefined;
}

function isCompleteness(value: unknown): value is StatusCompleteness {
  return (
    isRecord(value) &&
    typeof value.incompleteEntities === 'number' &&
    typeof value.lookupsIncomplete === 'number' &&
    isRecord(value.delayByPrefix) &&
    Object.values(value.delayByPrefix).every(
      (d) => isRecord(d) && typeof d.count === 'number' && (d.p50Ms === null || typeof d.p50Ms === 'number') && (d.p99Ms === null || typeof d.p99Ms === 'number'),
    )
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCounts(value: unknown): value is Record<string, number> {
  return isRecord(value) && Object.values(value).every((n) => typeof n === 'number');
}

/**
 * `tagstream status`: the agent's status screen (without its "Ctrl-C" line), then the entities by
 * prefix, the Tagger's counters and the IPC server; or the document as JSON.
 *
 * @example
 * ```ts
 * process.stdout.write(formatAgentStatus(doc, false, process.stdout.columns));
 * ```
 */
export function formatAgentStatus(doc: AgentStatus, json: boolean, columns = 100): string {
  if (json) return `${JSON.stringify(doc)}\n`;
  const snapshot: StatusSnapshot = {
    time: Date.parse(doc.time),
    address: doc.server.address,
    collectors: doc.collectors.map((c) => ({ name: c.name, state: c.state, reason: escapeControls(c.reason), entities: c.entities ?? undefined })),
    entities: doc.entities,
    entitiesBySource: doc.entitiesBySource,
    updatesPerSecond: doc.updatesPerSecond,
    warnings: doc.warnings.map(escapeControls),
    // The kvstore's line is written below, with the rest.
  };
  const screen = renderStatusTable(snapshot, columns).replace(/\n\nCtrl-C to stop\.\n$/, '\n').split('\n');
  screen[0] = `tagstream agent ${escapeControls(doc.version)} · serving on ${escapeControls(doc.server.address)} · up ${uptime(Date.parse(doc.time) - Date.parse(doc.startedAt))} · ${doc.time.slice(11, 19)} UTC`;
  const c = doc.counters;
  const s = doc.server;
  const byPrefix = Object.entries(doc.entitiesByPrefix)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([prefix, n]) => `${escapeControls(prefix)} ${n}`)
    .join(', ');
  const more = [
    `by prefix: ${byPrefix.length > 0 ? byPrefix : 'none'}`,
    ...(doc.kvstore === null ? [] : [kvstoreSummary(doc.kvstore)]),
    `tagger: ${c.updates} updates (${c.unchangedUpdates} unchanged), ${c.deletes} deletes (${c.pendingDeletes} pending), ${c.prunes} prunes · queries: ${c.queriesFound} found, ${c.queriesEmpty} empty · fetches: ${c.fetches} (${c.fetchNotFound} not found, ${c.fetchErrors} errors, ${c.fetchTimeouts} timeouts) · ${c.rejected} rejected, ${c.collectorErrors} collector errors`,
    ...(c.completeness === undefined ? [] : [completenessLine(c.completeness)]),
    `server: ${s.requests} requests, ${s.unauthorized} unauthorized · streams: ${s.openStreams} open, ${s.streams} since start, ${s.streamsRefused} refused, ${s.streamsCut} cut, ${s.streamsStalled} stalled · token file ${escapeControls(s.tokenFile)}`,
  ];
  // After the totals line (the table, a blank line, the totals), before the message and warnings.
  const totals = screen.findIndex((line) => line.startsWith('entities: '));
  screen.splice(totals + 1, 0, ...more);
  return `${screen.join('\n').replace(/\n+$/, '')}\n`;
}

/** `completeness: container_id p50 ≤250ms p99 ≤1s (12) · 1 incomplete now · 2 lookups answered incomplete`. */
function completenessLine(c: StatusCompleteness): string {
  const bound = (ms: number | null): string => (ms === null ? 'over the last bucket' : ms >= 1000 ? `≤${ms / 1000}s` : `≤${ms}ms`);
  const delays = Object.entries(c.delayByPrefix)
    .filter(([, d]) => d.count > 0)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([prefix, d]) => `${escapeControls(prefix)} p50 ${bound(d.p50Ms)} p99 ${bound(d.p99Ms)} (${d.count})`)
    .join(', ');
  return `completeness: ${delays.length > 0 ? delays : 'no delay measured'} · ${c.incompleteEntities} incomplete now · ${c.lookupsIncomplete} lookups answered incomplete`;
}

function uptime(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours}h${String(minutes % 60).padStart(2, '0')}m` : `${Math.floor(hours / 24)}d${String(hours % 24).padStart(2, '0')}h`;
}
