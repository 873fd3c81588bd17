/**
 * The agent's status: a snapshot type, and its renderings (the terminal table, the JSON log lines).
 * Pure: a snapshot in, text out.
 */
import type { CollectorName } from './agent-config.js';
import type { Detection } from './detect.js';

/**
 * A collector's state as the status shows it.
 *
 * @example
 * ```ts
 * const state: CollectorState = 'retrying';
 * ```
 */
export type CollectorState = 'connected' | 'connecting' | 'retrying' | 'ready' | 'idle' | 'not found' | 'disabled';

/**
 * A row of the status: a collector, or the shared kvstore (`--kvstore`), whose entities are other
 * hosts' (source `kvstore`).
 *
 * @example
 * ```ts
 * const row: StatusRowName = 'kvstore';
 * ```
 */
export type StatusRowName = CollectorName | 'kvstore';

/**
 * The shared kvstore's counters in a status snapshot (from the store's telemetry).
 *
 * @example
 * ```ts
 * const kv: KvstoreCounters = { url: 'etcd://10.0.0.1:2379', name: 'node-a', sharedKeys: 12, localKeys: 4, writeErrors: 0, watchErrors: 1, decodeErrors: 0, retries: 0, disconnects: 0 };
 * ```
 */
export interface KvstoreCounters {
  /** The `--kvstore` URL. */
  readonly url: string;
  /** This agent's collaborator name. */
  readonly name: string;
  /** Keys in the store, every agent's. */
  readonly sharedKeys: number;
  /** Keys this agent publishes. */
  readonly localKeys: number;
  /** Failed writes and deletes (retried with backoff, and at once when etcd is back), failed lists and watches, undecodable values. */
  readonly writeErrors: number;
  readonly watchErrors: number;
  readonly decodeErrors: number;
  /** Writes and deletes of this agent's keys tried again after they failed. */
  readonly retries: number;
  /** Times the connection to the store was lost after the join. */
  readonly disconnects: number;
}

/**
 * One collector in a status snapshot.
 *
 * @example
 * ```ts
 * const docker: CollectorStatus = { name: 'docker', state: 'connected', reason: '3 containers', entities: 3 };
 * ```
 */
export interface CollectorStatus {
  readonly name: StatusRowName;
  readonly state: CollectorState;
  /** Why it is in that state (the socket, the error, what is missing). */
  readonly reason: string;
  /** Entities it holds tags for; undefined when it does not run. */
  readonly entities: number | undefined;
}

/**
 * What the agent shows at one moment.
 *
 * @example
 * ```ts
 * const snapshot: StatusSnapshot = { time: Date.now(), address: 'unix:/run/tagstream.sock', collectors, entities: 3, entitiesBySource: { docker: 3 }, updatesPerSecond: 0.5, warnings: [] };
 * ```
 */
export interface StatusSnapshot {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** Where the server listens. */
  readonly address: string;
  readonly collectors: readonly CollectorStatus[];
  /** Entities stored, in all, and by source. */
  readonly entities: number;
  readonly entitiesBySource: Readonly<Record<string, number>>;
  /** Store updates per second since the previous snapshot. */
  readonly updatesPerSecond: number;
  /** The last warnings logged (shown under the table), oldest first. */
  readonly warnings: readonly string[];
  /** The shared kvstore's counters, when the agent joined one. */
  readonly kvstore?: KvstoreCounters;
}

/**
 * The status of a collector before it reports a state of its own: `not found` / `disabled` with the
 * detection's reason, `connecting` for a stream or pull collector, `ready` for ECS (fetch on miss).
 *
 * @example
 * ```ts
 * initialStatus({ name: 'ecs', status: 'not-found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set' });
 * // { name: 'ecs', state: 'not found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set', entities: undefined }
 * ```
 */
export function initialStatus(detection: Detection): CollectorStatus {
  switch (detection.status) {
    case 'not-found':
      return { name: detection.name, state: 'not found', reason: detection.reason, entities: undefined };
    case 'disabled':
      return { name: detection.name, state: 'disabled', reason: detection.reason, entities: undefined };
    case 'found':
      return detection.name === 'ecs'
        ? { name: 'ecs', state: 'ready', reason: `fetch on miss from ${detection.metadataUri}`, entities: 0 }
        : { name: detection.name, state: 'connecting', reason: detection.reason, entities: 0 };
  }
}

/**
 * Store updates per second between two telemetry readings (0 when no time passed or a counter went back).
 *
 * @example
 * ```ts
 * updatesPerSecond({ time: 0, updates: 10 }, { time: 2000, updates: 30 }); // 10
 * ```
 */
export function updatesPerSecond(previous: { readonly time: number; readonly updates: number }, next: { readonly time: number; readonly updates: number }): number {
  const seconds = (next.time - previous.time) / 1000;
  const delta = next.updates - previous.updates;
  if (seconds <= 0 || delta < 0) return 0;
  return Math.round((delta / seconds) * 10) / 10;
}

/**
 * True when no collector runs (each is `not found` or `disabled`).
 *
 * @example
 * ```ts
 * nothingDetected(snapshot.collectors); // true on a host without Docker, Kubernetes or ECS
 * ```
 */
export function nothingDetected(collectors: readonly CollectorStatus[]): boolean {
  return collectors.every((c) => c.state === 'not found' || c.state === 'disabled');
}

/**
 * The sentence shown when nothing was detected.
 *
 * @example
 * ```ts
 * if (nothingDetected(collectors)) console.warn(NOTHING_DETECTED);
 * ```
 */
export const NOTHING_DETECTED =
  'No Docker socket, Kubernetes or ECS found: serving an empty tagger. Set DOCKER_HOST, NODE_NAME (with a kubeconfig or in a cluster) or ECS_CONTAINER_METADATA_URI_V4, then restart.';

/**
 * The terminal status screen: a header, one row per collector (state, entities, reason), the totals,
 * the plain message when nothing was detected, the last warnings. Rows are cut to `width` columns;
 * the message is wrapped.
 *
 * @example
 * ```ts
 * process.stdout.write('\x1b[H\x1b[2J' + renderStatusTable(snapshot, process.stdout.columns));
 * ```
 */
export function renderStatusTable(snapshot: StatusSnapshot, columns = 100): string {
  // A terminal that reports no (or an absurd) width gets 100 columns.
  const width = Number.isFinite(columns) && columns >= 20 ? columns : 100;
  const rows: (readonly [string, string, string, string])[] = [['COLLECTOR', 'STATE', 'ENTITIES', 'DETAIL']];
  for (const c of snapshot.collectors) rows.push([c.name, c.state, c.entities === undefined ? '-' : String(c.entities), c.reason]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  const table = rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell)).join('  '));
  const bySource = Object.entries(snapshot.entitiesBySource)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([source, n]) => `${source} ${n}`)
    .join(', ');
  const lines = [
    `tagstream agent · serving on ${snapshot.address} · ${new Date(snapshot.time).toISOString().slice(11, 19)} UTC`,
    '',
    ...table,
    '',
    `entities: ${snapshot.entities}${bySource.length > 0 ? ` (${bySource})` : ''} · updates/s: ${snapshot.updatesPerSecond.toFixed(1)}`,
    ...(snapshot.kvstore === undefined ? [] : [kvstoreSummary(snapshot.kvstore)]),
  ];
  const shown = lines.map((line) => cut(line, width));
  if (nothingDetected(snapshot.collectors)) shown.push('', ...wrap(NOTHING_DETECTED, width));
  if (snapshot.warnings.length > 0) shown.push('', 'recent warnings:', ...snapshot.warnings.map((w) => cut(`  ${w}`, width)));
  shown.push('', 'Ctrl-C to stop.');
  return shown.join('\n') + '\n';
}

/**
 * The kvstore's line under the table: the keys in the store and this agent's, and the errors.
 *
 * @example
 * ```ts
 * kvstoreSummary({ url: 'etcd://e:2379', name: 'n1', sharedKeys: 5, localKeys: 2, writeErrors: 0, watchErrors: 0, decodeErrors: 0, retries: 0, disconnects: 0 });
 * // 'kvstore: 5 keys, 2 published as n1 · errors: 0 write, 0 watch, 0 decode'
 * ```
 */
export function kvstoreSummary(kv: KvstoreCounters): string {
  return `kvstore: ${kv.sharedKeys} keys, ${kv.localKeys} published as ${kv.name} · errors: ${kv.writeErrors} write, ${kv.watchErrors} watch, ${kv.decodeErrors} decode · ${kv.retries} retries, ${kv.disconnects} disconnects`;
}

/** Splits `text` at spaces into lines of at most `width` columns (a longer word stays whole). */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line.length > 0 && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line.length === 0 ? word : `${line} ${word}`;
    }
  }
  if (line.length > 0) lines.push(line);
  return lines;
}

function cut(line: string, width: number): string {
  return width > 1 && line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/**
 * A structured log line of the agent (`--json`): one JSON object per line.
 *
 * @example
 * ```ts
 * const line: AgentLogLine = { time: '2026-01-01T00:00:00.000Z', level: 'info', event: 'stop', signal: 'SIGTERM' };
 * ```
 */
export interface AgentLogLine {
  readonly time: string;
  readonly level: 'debug' | 'info' | 'warn' | 'error';
  readonly event: 'start' | 'collector' | 'status' | 'log' | 'stop';
  readonly [field: string]: unknown;
}

/**
 * The `start` line: the version, where the server listens, each collector's detection, and the
 * plain message when nothing was detected.
 *
 * @example
 * ```ts
 * startLine(Date.now(), { version: '1.0.0', address: 'unix:/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token', collectors });
 * ```
 */
export function startLine(
  time: number,
  start: { readonly version: string; readonly address: string; readonly tokenFile: string; readonly collectors: readonly CollectorStatus[] },
): AgentLogLine {
  const nothing = nothingDetected(start.collectors);
  return {
    time: iso(time),
    level: nothing ? 'warn' : 'info',
    event: 'start',
    version: start.version,
    address: start.address,
    tokenFile: start.tokenFile,
    collectors: start.collectors.map((c) => ({ name: c.name, state: c.state, reason: c.reason })),
    ...(nothing ? { message: NOTHING_DETECTED } : {}),
  };
}

/**
 * A `collector` line: a collector changed state (`retrying` is logged at `warn`).
 *
 * @example
 * ```ts
 * collectorLine(Date.now(), { name: 'docker', state: 'connected', reason: '3 containers', entities: 3 });
 * ```
 */
export function collectorLine(time: number, status: CollectorStatus): AgentLogLine {
  return { time: iso(time), level: status.state === 'retrying' ? 'warn' : 'info', event: 'collector', collector: status.name, state: status.state, reason: status.reason };
}

/**
 * A `status` line: the counters every `statusInterval`.
 *
 * @example
 * ```ts
 * statusLine(snapshot); // { event: 'status', entities: 3, entitiesBySource: { docker: 3 }, updatesPerSecond: 0.5, collectors: [...] }
 * ```
 */
export function statusLine(snapshot: StatusSnapshot): AgentLogLine {
  return {
    time: iso(snapshot.time),
    level: 'info',
    event: 'status',
    entities: snapshot.entities,
    entitiesBySource: snapshot.entitiesBySource,
    updatesPerSecond: snapshot.updatesPerSecond,
    collectors: snapshot.collectors.map((c) => ({ name: c.name, state: c.state, entities: c.entities ?? null })),
    ...(snapshot.kvstore === undefined ? {} : { kvstore: snapshot.kvstore }),
  };
}

/**
 * A `log` line: a message of the tagger or a collector, with its fields made JSON-safe (an error
 * becomes its name and message).
 *
 * @example
 * ```ts
 * logLine(Date.now(), 'warn', 'docker: inspect failed', { containerId: 'abc', error: new Error('EPIPE') });
 * ```
 */
export function logLine(time: number, level: AgentLogLine['level'], message: string, fields: Readonly<Record<string, unknown>> | undefined): AgentLogLine {
  const safe: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields ?? {})) safe[key] = value instanceof Error ? `${value.name}: ${value.message}` : value;
  return { time: iso(time), level, event: 'log', message, ...(fields === undefined ? {} : { fields: safe }) };
}

/**
 * The `stop` line, with the signal that stopped the agent.
 *
 * @example
 * ```ts
 * stopLine(Date.now(), 'SIGTERM');
 * ```
 */
export function stopLine(time: number, signal: string): AgentLogLine {
  return { time: iso(time), level: 'info', event: 'stop', signal };
}

/**
 * One line of output: the JSON text of `line` (values that cannot be serialized become strings).
 *
 * @example
 * ```ts
 * process.stdout.write(encodeLogLine(stopLine(Date.now(), 'SIGINT')) + '\n');
 * ```
 */
export function encodeLogLine(line: AgentLogLine): string {
  return JSON.stringify(line, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value));
}

function iso(time: number): string {
  return new Date(time).toISOString();
}
