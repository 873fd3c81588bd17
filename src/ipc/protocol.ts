/**
 * The IPC protocol of tagstream, as pure functions and types: which request is which route, what
 * each answer and stream line looks like. The server and the client are adapters around it; writers
 * of clients in other languages read the same rules in docs/ipc.md.
 */
import { checkEntityId } from '../tagger/entity-id.js';
import type { EntityListing, EntitySourcesListing } from '../tagger/contract.js';
import { type TagCardinality, isCardinality } from '../tagger/types.js';
import { IpcRequestError } from './errors.js';

/** The version prefix of every path. */
export const IPC_API_PREFIX = '/v1';


/** The most `prefix` parameters one request may carry. */
export const MAX_PREFIXES = 64;

/**
 * The largest `wait` (milliseconds) a request may ask for: one hour; larger, or not a whole
 * number of digits, is 400. The server then cuts what it waits to its own `maxQueryWait`.
 */
export const MAX_WAIT_PARAM = 3_600_000;

/**
 * One request, understood.
 *
 * - `tags`: `GET /v1/tags/{entity}?cardinality=&wait=` — one entity's tags; with `wait` (ms), its
 *   completeness too, waiting up to that long (cut to the server's cap) for it to be complete.
 * - `entities`: `GET /v1/entities?prefix=&sources=1` — what is stored; with `sources=1`, each
 *   source's tags too.
 * - `events`: `GET /v1/events?cardinality=&prefix=&levels=` — the NDJSON stream.
 * - `metrics`: `GET /v1/metrics` — Prometheus text.
 * - `status`: `GET /v1/status` — the serving process's status document (404 where it gives none).
 * - `health`: `GET /v1/health` — only where the server turned it on; the only route without a token.
 */
export type IpcRoute =
  | { readonly kind: 'tags'; readonly entity: string; readonly cardinality: TagCardinality; readonly wait?: number }
  | { readonly kind: 'entities'; readonly prefixes: readonly string[]; readonly sources: boolean }
  | { readonly kind: 'events'; readonly cardinality: TagCardinality; readonly prefixes: readonly string[]; readonly levels: boolean }
  | { readonly kind: 'metrics' }
  | { readonly kind: 'status' }
  | { readonly kind: 'health' };

/** What {@link parseRoute} needs to know of the server's settings. */
export interface RouteLimits {
  /** The longest request target accepted, in characters; longer is 414. */
  readonly maxUrlLength: number;
  /** Whether `GET /v1/health` exists. */
  readonly healthCheck: boolean;
}

/**
 * Answer of `GET /v1/tags/{entity}`. `complete`, `missing` and `wait` are there only when the
 * request had a `wait` parameter (a server older than it ignores the parameter and leaves them out).
 */
export interface TagsResponse {
  readonly entity: string;
  readonly cardinality: TagCardinality;
  readonly tags: readonly string[];
  /** Every source expected for the entity has reported it. */
  readonly complete?: boolean;
  /** The expected sources that have not (`[]` when complete). */
  readonly missing?: readonly string[];
  /** The most the server waited, in ms: the asked `wait` cut to its `maxQueryWait` (0 when too many queries were waiting). */
  readonly wait?: number;
}

/** Answer of `GET /v1/entities`. */
export interface EntitiesResponse {
  readonly entities: readonly EntityListing[];
}

/**
 * Answer of `GET /v1/entities?sources=1`: each entity with `bySource` (a server older than the
 * parameter ignores it and answers an {@link EntitiesResponse}, without `bySource`).
 */
export interface EntitySourcesResponse {
  readonly entities: readonly EntitySourcesListing[];
}

/**
 * True when an answer of `GET /v1/entities?sources=1` has each entity's `bySource` (a server older
 * than the parameter ignores it).
 *
 * @example
 * ```ts
 * if (!hasSources(body)) throw new Error('the agent is too old for list --sources');
 * ```
 */
export function hasSources(body: EntitiesResponse | EntitySourcesResponse): body is EntitySourcesResponse {
  return body.entities.every((e) => 'bySource' in e && Array.isArray(e.bySource));
}

/**
 * Answer of `GET /v1/status`: a JSON object the serving process describes itself with (the agent:
 * its collectors, entities, counters, server and kvstore; see docs/agent.md).
 */
export interface StatusResponse {
  readonly [field: string]: unknown;
}

/** The body of every error answer. */
export interface ErrorResponse {
  readonly error: { readonly code: string; readonly message: string };
}

/**
 * A change of one entity on the stream. With `levels=1`, the stream is at cardinality `high` and
 * each event says how many of the leading tags are of low and of low + orchestrator cardinality
 * (a narrower answer is always a prefix of a wider one).
 */
export interface EventLine {
  readonly type: 'added' | 'modified' | 'deleted';
  readonly entity: string;
  readonly tags: readonly string[];
  readonly levels?: { readonly low: number; readonly orchestrator: number };
  /** Whether every source expected for the entity has reported it; absent where the server's tagger does not say. */
  readonly complete?: boolean;
}

/** Written once, right after the initial `added` burst: the receiver now holds everything stored. */
export interface SyncedLine {
  readonly type: 'synced';
  /** How many `added` lines the burst held. */
  readonly entities: number;
}

/** Written when the stream has been idle for the server's keep-alive interval. */
export interface KeepAliveLine {
  readonly type: 'keepalive';
}

/** One line of the `/v1/events` stream. */
export type StreamLine = EventLine | SyncedLine | KeepAliveLine;

/**
 * Understands a request line: the route it asks for, or the {@link IpcRequestError} to answer
 * with (400 bad parameter, among them an entity id that is not `prefix://id` of printable
 * characters within 4 KiB; 404 unknown path, 405 not GET, 414 URL too long). Pure: it checks the
 * shape of the request only, not the token.
 *
 * @example
 * ```ts
 * parseRoute('GET', '/v1/tags/container_id%3A%2F%2Fabc?cardinality=high', { maxUrlLength: 4096, healthCheck: false });
 * // { kind: 'tags', entity: 'container_id://abc', cardinality: 'high' }
 * ```
 */
export function parseRoute(method: string | undefined, target: string | undefined, limits: RouteLimits): IpcRoute | IpcRequestError {
  if (target === undefined || target.length === 0) return new IpcRequestError(400, 'BadRequest', 'the request has no target');
  if (target.length > limits.maxUrlLength) {
    return new IpcRequestError(414, 'UriTooLong', `the request target is ${target.length} characters long; the most accepted is ${limits.maxUrlLength}`);
  }
  if (!target.startsWith('/')) return new IpcRequestError(400, 'BadRequest', 'the request target must be a path starting with /');
  let url: URL;
  try {
    url = new URL(target, 'http://tagstream.invalid');
  } catch (cause) {
    return new IpcRequestError(400, 'BadRequest', 'the request target is not a valid URL path', { cause });
  }
  const path = url.pathname;
  const route = matchPath(path, url.searchParams, limits);
  if (route instanceof IpcRequestError) return route;
  if (method !== 'GET') return new IpcRequestError(405, 'MethodNotAllowed', `${method ?? 'the method'} is not allowed on ${path}: use GET`);
  return route;
}

function matchPath(path: string, query: URLSearchParams, limits: RouteLimits): IpcRoute | IpcRequestError {
  const tagsPrefix = `${IPC_API_PREFIX}/tags/`;
  if (path.startsWith(tagsPrefix)) {
    let entity: string;
    try {
      entity = decodeURIComponent(path.slice(tagsPrefix.length));
    } catch (cause) {
      return new IpcRequestError(400, 'InvalidEntityId', 'the entity id is not valid percent-encoding', { cause });
    }
    // The tagger checks it too; refused here, a bad id costs no tagger work and never reaches a collector.
    const invalid = checkEntityId(entity);
    if (invalid !== undefined) return new IpcRequestError(400, invalid.tag, invalid.message, { cause: invalid });
    const cardinality = cardinalityParam(query);
    if (cardinality instanceof IpcRequestError) return cardinality;
    const wait = waitParam(query);
    if (wait instanceof IpcRequestError) return wait;
    return wait === undefined ? { kind: 'tags', entity, cardinality } : { kind: 'tags', entity, cardinality, wait };
  }
  switch (path) {
    case `${IPC_API_PREFIX}/entities`: {
      const prefixes = prefixParams(query);
      if (prefixes instanceof IpcRequestError) return prefixes;
      const sources = flagParam(query, 'sources');
      return sources instanceof IpcRequestError ? sources : { kind: 'entities', prefixes, sources };
    }
    case `${IPC_API_PREFIX}/events`: {
      const prefixes = prefixParams(query);
      if (prefixes instanceof IpcRequestError) return prefixes;
      const levels = flagParam(query, 'levels');
      if (levels instanceof IpcRequestError) return levels;
      const cardinality = cardinalityParam(query);
      if (cardinality instanceof IpcRequestError) return cardinality;
      if (levels && cardinality !== 'high' && query.has('cardinality')) {
        return new IpcRequestError(400, 'InvalidParameter', 'levels=1 streams at cardinality high: leave cardinality out or set it to high');
      }
      return { kind: 'events', cardinality: levels ? 'high' : cardinality, prefixes, levels };
    }
    case `${IPC_API_PREFIX}/metrics`:
      return { kind: 'metrics' };
    case `${IPC_API_PREFIX}/status`:
      return { kind: 'status' };
    case `${IPC_API_PREFIX}/health`:
      if (limits.healthCheck) return { kind: 'health' };
      break;
    default:
      break;
  }
  return new IpcRequestError(404, 'NotFound', `no such path ${JSON.stringify(truncate(path))}: see ${IPC_API_PREFIX}/tags/{entity}, ${IPC_API_PREFIX}/entities, ${IPC_API_PREFIX}/events, ${IPC_API_PREFIX}/metrics, ${IPC_API_PREFIX}/status`);
}

function cardinalityParam(query: URLSearchParams): TagCardinality | IpcRequestError {
  const values = query.getAll('cardinality');
  if (values.length > 1) return new IpcRequestError(400, 'InvalidCardinality', 'cardinality is given more than once');
  const value = values[0] ?? 'low';
  if (!isCardinality(value)) {
    return new IpcRequestError(400, 'InvalidCardinality', `invalid cardinality ${JSON.stringify(truncate(value))}: expected 'low', 'orchestrator' or 'high'`);
  }
  return value;
}

/** `wait`: absent, or a whole number of milliseconds from 0 to {@link MAX_WAIT_PARAM}, given once. */
function waitParam(query: URLSearchParams): number | undefined | IpcRequestError {
  const values = query.getAll('wait');
  if (values.length === 0) return undefined;
  if (values.length > 1) return new IpcRequestError(400, 'InvalidParameter', 'wait is given more than once');
  const text = values[0] ?? '';
  const value = /^[0-9]{1,7}$/.test(text) ? Number(text) : Number.NaN;
  if (!(value <= MAX_WAIT_PARAM)) {
    return new IpcRequestError(400, 'InvalidParameter', `wait must be a whole number of milliseconds from 0 to ${MAX_WAIT_PARAM}, got ${JSON.stringify(truncate(text))}`);
  }
  return value;
}

function prefixParams(query: URLSearchParams): string[] | IpcRequestError {
  const prefixes = query.getAll('prefix');
  if (prefixes.length > MAX_PREFIXES) return new IpcRequestError(400, 'InvalidParameter', `at most ${MAX_PREFIXES} prefix parameters are accepted, got ${prefixes.length}`);
  if (prefixes.some((p) => p.length === 0)) return new IpcRequestError(400, 'InvalidParameter', 'a prefix parameter is empty');
  return prefixes;
}

function flagParam(query: URLSearchParams, name: string): boolean | IpcRequestError {
  const value = query.get(name);
  if (value === null || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true' || value === '') return true;
  return new IpcRequestError(400, 'InvalidParameter', `${name} must be 1 or 0, got ${JSON.stringify(truncate(value))}`);
}

function truncate(text: string): string {
  return text.length > 100 ? `${text.slice(0, 100)}…` : text;
}

/**
 * The JSON body of an error answer.
 *
 * @example
 * ```ts
 * errorResponse(new IpcRequestError(404, 'NotFound', 'no such path')); // { error: { code: 'NotFound', message: 'no such path' } }
 * ```
 */
export function errorResponse(error: IpcRequestError): ErrorResponse {
  return { error: { code: error.code, message: error.message } };
}

/**
 * One stream line as sent: its JSON and a newline.
 *
 * @example
 * ```ts
 * encodeLine({ type: 'keepalive' }); // '{"type":"keepalive"}\n'
 * ```
 */
export function encodeLine(line: StreamLine): string {
  if (line.type === 'keepalive' || line.type === 'synced') return `${JSON.stringify(line)}\n`;
  const levels = line.levels === undefined ? '' : `,"levels":{"low":${line.levels.low},"orchestrator":${line.levels.orchestrator}}`;
  const complete = line.complete === undefined ? '' : line.complete ? ',"complete":true' : ',"complete":false';
  return `{"type":"${line.type}","entity":${JSON.stringify(line.entity)},"tags":${encodeTags(line.tags)}${levels}${complete}}\n`;
}

/** JSON of frozen tag arrays, kept while the array lives: every stream sending one change encodes it once. */
const encodedTags = new WeakMap<readonly string[], string>();

function encodeTags(tags: readonly string[]): string {
  if (!Object.isFrozen(tags)) return JSON.stringify(tags);
  let text = encodedTags.get(tags);
  if (text === undefined) {
    text = JSON.stringify(tags);
    encodedTags.set(tags, text);
  }
  return text;
}

/**
 * Reads one stream line; `undefined` when it is not JSON or not a line of this protocol (a reader
 * should treat that as a broken stream). Unknown fields are ignored, so that the server may add some.
 *
 * @example
 * ```ts
 * parseStreamLine('{"type":"added","entity":"container_id://a","tags":["env:prod"]}');
 * ```
 */
export function parseStreamLine(text: string): StreamLine | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const line = value as Record<string, unknown>;
  switch (line.type) {
    case 'keepalive':
      return { type: 'keepalive' };
    case 'synced':
      return typeof line.entities === 'number' ? { type: 'synced', entities: line.entities } : undefined;
    case 'added':
    case 'modified':
    case 'deleted': {
      if (typeof line.entity !== 'string' || !isStringArray(line.tags)) return undefined;
      const levels = parseLevels(line.levels, line.tags.length);
      if (levels === null) return undefined;
      const event: EventLine = levels === undefined ? { type: line.type, entity: line.entity, tags: line.tags } : { type: line.type, entity: line.entity, tags: line.tags, levels };
      // `complete` is optional (a server older than it does not send it); anything but a boolean is ignored.
      return typeof line.complete === 'boolean' ? { ...event, complete: line.complete } : event;
    }
    default:
      return undefined;
  }
}

function parseLevels(value: unknown, total: number): EventLine['levels'] | null {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) return null;
  const { low, orchestrator } = value as Record<string, unknown>;
  if (!Number.isInteger(low) || !Number.isInteger(orchestrator)) return null;
  const l = low as number;
  const o = orchestrator as number;
  return l >= 0 && l <= o && o <= total ? { low: l, orchestrator: o } : null;
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * The path and query of a request, built from its parts (the entity percent-encoded); with
 * `wait`, the milliseconds to wait for the entity to be complete (rounded up, at most
 * {@link MAX_WAIT_PARAM}), which asks for `complete` and `missing` in the answer.
 *
 * @example
 * ```ts
 * tagsPath('container_id://a', 'high'); // '/v1/tags/container_id%3A%2F%2Fa?cardinality=high'
 * tagsPath('container_id://a', 'high', { wait: 500 }); // '/v1/tags/container_id%3A%2F%2Fa?cardinality=high&wait=500'
 * ```
 */
export function tagsPath(entity: string, cardinality: TagCardinality, options: { readonly wait?: number } = {}): string {
  // A wait that is not a number never reaches the query string (`wait=NaN` would be a 400 at best).
  if (options.wait !== undefined && Number.isNaN(options.wait)) throw new RangeError('wait must be a number of milliseconds, got NaN');
  const wait = options.wait === undefined ? '' : `&wait=${Math.min(Math.ceil(Math.max(0, options.wait)), MAX_WAIT_PARAM)}`;
  return `${IPC_API_PREFIX}/tags/${encodeURIComponent(entity)}?cardinality=${cardinality}${wait}`;
}

/**
 * The path of the event stream with its parameters.
 *
 * @example
 * ```ts
 * eventsPath({ levels: true }); // '/v1/events?levels=1'
 * eventsPath({ cardinality: 'orchestrator', prefixes: ['container_id://'] });
 * ```
 */
export function eventsPath(options: { readonly cardinality?: TagCardinality; readonly prefixes?: readonly string[]; readonly levels?: boolean }): string {
  const query = new URLSearchParams();
  if (options.cardinality !== undefined) query.set('cardinality', options.cardinality);
  for (const prefix of options.prefixes ?? []) query.append('prefix', prefix);
  if (options.levels === true) query.set('levels', '1');
  const text = query.toString();
  return `${IPC_API_PREFIX}/events${text.length === 0 ? '' : `?${text}`}`;
}

/**
 * The path of the entity list with its prefixes (and `sources=1` for each source's tags).
 *
 * @example
 * ```ts
 * entitiesPath(['kubernetes_pod_uid://']); // '/v1/entities?prefix=kubernetes_pod_uid%3A%2F%2F'
 * entitiesPath([], { sources: true }); // '/v1/entities?sources=1'
 * ```
 */
export function entitiesPath(prefixes: readonly string[] = [], options: { readonly sources?: boolean } = {}): string {
  const query = new URLSearchParams();
  for (const prefix of prefixes) query.append('prefix', prefix);
  if (options.sources === true) query.set('sources', '1');
  const text = query.toString();
  return `${IPC_API_PREFIX}/entities${text.length === 0 ? '' : `?${text}`}`;
}

/**
 * The path of the status document.
 *
 * @example
 * ```ts
 * statusPath(); // '/v1/status'
 * ```
 */
export function statusPath(): string {
  return `${IPC_API_PREFIX}/status`;
}
