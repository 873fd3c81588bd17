import { Agent } from 'node:http';
import {
  type Observable,
  type SchedulerLike,
  BehaviorSubject,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  lastValueFrom,
  map,
  of,
  retry,
  takeUntil,
  tap,
  throwError,
} from 'rxjs';
import type { EntityListing, EntitySourcesListing, LookupOptions, TagLookup, Tagger } from '../tagger/contract.js';
import { AmbiguousEntityIdError } from '../tagger/errors.js';
import { ReadSide } from '../tagger/read-side.js';
import { ReadSideTagger } from '../tagger/read-side-tagger.js';
import { type TelemetryCounters, countAnswer, createTelemetryCounters } from '../tagger/telemetry.js';
import type { TagCardinality } from '../tagger/types.js';
import { backoffDelay } from '../util/backoff.js';
import { type Logger, consoleLogger } from '../util/logger.js';
import { numberOption } from '../util/options.js';
import { unrefTimer } from '../util/unref-timer.js';
import { type IpcEndpoint, type IpcEndpointOptions, resolveEndpoint } from './endpoint.js';
import { IpcConnectionError, IpcError, IpcOptionError, IpcResponseError } from './errors.js';
import { type MirrorInput, createMirrorState, mirrorCompleteness, mirrorReader, readMirror, reduceMirror } from './mirror.js';
import {
  type EntitiesResponse,
  type EntitySourcesResponse,
  type EventLine,
  type StatusResponse,
  type StreamLine,
  type TagsResponse,
  entitiesPath,
  eventsPath,
  MAX_WAIT_PARAM,
  hasSources,
  statusPath,
  tagsPath,
} from './protocol.js';
import { getJson, streamLines } from './transport.js';

/** Options of {@link createTaggerClient}. Durations in milliseconds. */
export interface TaggerClientOptions extends IpcEndpointOptions {
  /** The longest a direct query (`tag()` of an entity the mirror lacks) may take. Default: 2000. */
  readonly requestTimeout?: number;
  /** The stream is taken for dead after this long without a line (the server sends keep-alives). Default: 45000. */
  readonly idleTimeout?: number;
  /** The first reconnection delay; it doubles at each failed attempt. Default: 500. */
  readonly initialRetryDelay?: number;
  /** The longest reconnection delay. Default: 30000. */
  readonly maxRetryDelay?: number;
  /** The scheduler of the reconnection timers. Default: Node timers, `unref()`'d. */
  readonly scheduler?: SchedulerLike;
  /** Where disconnections and failed queries are reported (never the token). Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
}

/**
 * The client's connection to the server.
 * - `created` / `stopped`: before `start()`, after `stop()`.
 * - `connecting`: a stream is being opened (or its burst received); `attempt` counts failures since the last success.
 * - `connected`: the mirror holds the server's store and follows it.
 * - `disconnected`: the last attempt failed with `error`; the next one is in `retryInMs`.
 */
export type ClientConnectionState =
  | { readonly status: 'created' | 'stopped' }
  | { readonly status: 'connecting'; readonly attempt: number }
  | { readonly status: 'connected'; readonly entities: number }
  | { readonly status: 'disconnected'; readonly attempt: number; readonly retryInMs: number; readonly error: IpcError };

/** The client's own counters. */
export interface ClientTelemetry {
  /** Streams opened successfully (up to their `synced` line). */
  readonly connections: number;
  /** Failed or ended connections. */
  readonly disconnections: number;
  /** Stream lines received (keep-alives included). */
  readonly lines: number;
  /** Queries sent to the server because the mirror lacked the entity, and how many failed. */
  readonly directQueries: number;
  readonly directQueryErrors: number;
}

/**
 * A {@link Tagger} that answers from another process's tagger, through its IPC server: it keeps one
 * event stream open and mirrors the server's store, reconnecting with exponential backoff.
 */
export interface TaggerClient extends Tagger {
  /** The connection state now, then each change. Replays the current state to a new subscriber. */
  readonly state$: Observable<ClientConnectionState>;
  /** The connection state now. */
  connection(): ClientConnectionState;
  /** The server's entity list (with sources), asked directly (`GET /v1/entities`). */
  entities$(prefixes?: readonly string[]): Observable<EntityListing[]>;
  /**
   * The server's entities with each source's tags, asked directly (`GET /v1/entities?sources=1`).
   * Errors with an `IpcResponseError` (code `SourcesUnsupported`) when the server is too old to give them.
   */
  entitySources$(prefixes?: readonly string[]): Observable<EntitySourcesListing[]>;
  /** The serving process's status document (`GET /v1/status`; a 404 `IpcResponseError` where it gives none). */
  status$(): Observable<StatusResponse>;
  /** The client's own counters. */
  clientTelemetry(): ClientTelemetry;
}

/**
 * Creates a client of a tagstream IPC server: a {@link Tagger} with the interface of the local one.
 * `start()` opens one event stream and mirrors the server's store; `tag()` and `tags$()` answer from
 * the mirror, and ask the server directly for an entity the mirror lacks (the server then fetches it
 * if it can). After a reconnection the first burst replaces the mirror, so no stale entity survives
 * an outage; reconnections back off exponentially from `initialRetryDelay` to `maxRetryDelay`.
 *
 * Differences from a local tagger: `list()` and `listSources()` have no sources (use `entities$()`
 * and `entitySources$()`), and `telemetry()`
 * counts this client's queries and mirror (`fetches`, `fetchErrors` are the direct queries).
 *
 * @example
 * ```ts
 * const tagger = createTaggerClient({ socketPath: '/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token' });
 * tagger.start();
 * tagger.state$.subscribe((s) => console.log('tagstream server:', s.status));
 * console.log(await tagger.tag('container_id://3f4a', 'high'));
 * ```
 */
export function createTaggerClient(options: TaggerClientOptions = {}): TaggerClient {
  return new RemoteTagger(options);
}

class RemoteTagger extends ReadSideTagger implements TaggerClient {
  private readonly endpoint: IpcEndpoint;
  private readonly requestTimeout: number;
  private readonly idleTimeout: number;
  private readonly initialRetryDelay: number;
  private readonly maxRetryDelay: number;
  private readonly scheduler: SchedulerLike | undefined;
  private readonly logger: Logger;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  private readonly mirror = createMirrorState();
  private readonly counters: TelemetryCounters = createTelemetryCounters();
  private readonly client = { connections: 0, disconnections: 0, lines: 0, directQueries: 0, directQueryErrors: 0 };
  private readonly state = new BehaviorSubject<ClientConnectionState>({ status: 'created' });
  // The queries answer from the mirror; an entity the mirror lacks is asked of the server directly.
  protected readonly reads = new ReadSide(mirrorReader(this.mirror), this.counters, (entity, cardinality) =>
    this.mirror.entities.has(entity) ? undefined : { answer: this.direct(entity, cardinality) },
  );
  private attempt = 0;

  readonly state$: Observable<ClientConnectionState>;

  constructor(options: TaggerClientOptions) {
    super();
    this.endpoint = resolveEndpoint(options);
    this.requestTimeout = duration('requestTimeout', options.requestTimeout, 2000);
    this.idleTimeout = duration('idleTimeout', options.idleTimeout, 45_000);
    this.initialRetryDelay = duration('initialRetryDelay', options.initialRetryDelay, 500);
    this.maxRetryDelay = duration('maxRetryDelay', options.maxRetryDelay, 30_000);
    this.scheduler = options.scheduler;
    this.logger = options.logger ?? consoleLogger('warn');
    this.state$ = this.state.pipe(distinctUntilChanged());
  }

  start(): void {
    this.reads.start(() => {
      const path = eventsPath({ levels: true });
      const connection$ = defer(() => {
        this.apply({ type: 'connecting' });
        this.state.next({ status: 'connecting', attempt: this.attempt });
        return concat(
          streamLines(this.endpoint, path, { idleTimeout: this.idleTimeout, unref: true }),
          throwError(() => new IpcConnectionError(path, 'the server ended the stream')),
        );
      });
      return connection$
        .pipe(
          tap((line) => {
            this.onLine(line);
          }),
          retry({
            delay: (error: unknown) => {
              this.client.disconnections += 1;
              this.apply({ type: 'disconnected' });
              this.attempt += 1;
              const wait = backoffDelay(this.attempt, this.initialRetryDelay, this.maxRetryDelay);
              const failure = error instanceof IpcError ? error : new IpcConnectionError(path, String(error), { cause: error });
              this.state.next({ status: 'disconnected', attempt: this.attempt, retryInMs: wait, error: failure });
              this.logger.warn('tagstream server connection lost; reconnecting', { address: this.endpoint.address, attempt: this.attempt, delayMs: wait, error: failure.message });
              return unrefTimer(wait, undefined, this.scheduler);
            },
          }),
          takeUntil(this.reads.stopped$),
        )
        .subscribe();
    });
  }

  stop(): void {
    if (!this.reads.stop()) return;
    this.agent.destroy();
    this.state.next({ status: 'stopped' });
    this.state.complete();
  }

  connection(): ClientConnectionState {
    return this.state.getValue();
  }

  clientTelemetry(): ClientTelemetry {
    return { ...this.client };
  }

  /**
   * An entity the mirror knows complete is answered from it. Otherwise the server is asked
   * (`GET /v1/tags/{entity}?wait=`), waiting up to `waitForComplete` (0 without it; the server cuts
   * it to its `maxQueryWait`): its answer is the server's tags, `complete` and `missing`. A server
   * older than `wait` answers without them (`complete: false, missing: ['unknown']`); one that
   * cannot be reached, with the mirror's tags, as `tag()` does.
   */
  override lookup(entity: string, options: LookupOptions = {}): Promise<TagLookup> {
    const cardinality = options.cardinality ?? 'low';
    const wait = options.waitForComplete;
    const refusal = this.reads.refusal(entity, cardinality);
    if (refusal !== undefined) return Promise.reject(refusal);
    if (wait !== undefined && !(Number.isFinite(wait) && wait >= 0)) {
      return Promise.reject(new RangeError(`waitForComplete must be a non-negative number of milliseconds, got ${String(wait)}`));
    }
    if (mirrorCompleteness(this.mirror, entity)?.complete === true) return this.reads.lookup(entity, { cardinality });
    return lastValueFrom(this.directLookup(entity, cardinality, wait));
  }

  entitySources$(prefixes: readonly string[] = []): Observable<EntitySourcesListing[]> {
    const path = entitiesPath(prefixes, { sources: true });
    return getJson<EntitiesResponse | EntitySourcesResponse>(this.endpoint, path, { timeout: this.requestTimeout, agent: this.agent }).pipe(
      map((body) => {
        // A server older than `sources=1` ignores it: its entities have no `bySource`.
        if (!hasSources(body)) throw new IpcResponseError(path, 200, 'SourcesUnsupported', 'the server does not list entities by source (it is older than this client)');
        return [...body.entities];
      }),
    );
  }

  status$(): Observable<StatusResponse> {
    return getJson<StatusResponse>(this.endpoint, statusPath(), { timeout: this.requestTimeout, agent: this.agent });
  }

  entities$(prefixes: readonly string[] = []): Observable<EntityListing[]> {
    return getJson<EntitiesResponse>(this.endpoint, entitiesPath(prefixes), { timeout: this.requestTimeout, agent: this.agent }).pipe(
      map((body) => [...body.entities]),
    );
  }

  private onLine(line: StreamLine): void {
    this.client.lines += 1;
    switch (line.type) {
      case 'keepalive':
        return;
      case 'synced':
        this.apply({ type: 'synced' });
        this.attempt = 0;
        this.client.connections += 1;
        this.state.next({ status: 'connected', entities: this.mirror.entities.size });
        return;
      default:
        if (!hasLevels(line)) throw new IpcConnectionError(eventsPath({ levels: true }), 'an event line without levels');
        // The line was parsed for this mirror alone: its tags are kept as they are, frozen (no copy).
        Object.freeze(line.tags);
        this.apply(line);
    }
  }

  private apply(input: MirrorInput): void {
    this.reads.emit(reduceMirror(this.mirror, input));
  }

  /**
   * Asks the server for one entity's tags and completeness, waiting up to `wait` (the request's
   * timeout is `requestTimeout` beyond it); answers with the mirror when the server cannot.
   */
  private directLookup(entity: string, cardinality: TagCardinality, wait: number | undefined): Observable<TagLookup> {
    const path = tagsPath(entity, cardinality, { wait: wait ?? 0 });
    const asked = Math.min(wait ?? 0, MAX_WAIT_PARAM);
    return this.askServer(
      entity,
      path,
      this.requestTimeout + asked,
      'lookup',
      (body): TagLookup => {
        const tags = countAnswer(this.counters, cardinality, strings(body.tags));
        // A server older than `wait` ignores it: no `complete` in its answer, and nothing is known.
        if (typeof body.complete !== 'boolean') return { tags, complete: false, missing: UNKNOWN_MISSING };
        if (!body.complete && wait !== undefined) this.counters.completeness.lookupsIncompleteAtDeadline += 1;
        return { tags, complete: body.complete, missing: body.complete ? [] : strings(body.missing) };
      },
      (): TagLookup => {
        const known = mirrorCompleteness(this.mirror, entity);
        const tags = countAnswer(this.counters, cardinality, [...readMirror(this.mirror, entity, cardinality)]);
        return { tags, complete: known?.complete ?? false, missing: known?.missing ?? UNKNOWN_MISSING };
      },
    );
  }

  /** Asks the server for one entity; answers with the mirror's (empty) tags when the server cannot. */
  private direct(entity: string, cardinality: TagCardinality): Observable<readonly string[]> {
    return this.askServer(
      entity,
      tagsPath(entity, cardinality),
      this.requestTimeout,
      'query',
      (body) => strings(body.tags),
      () => readMirror(this.mirror, entity, cardinality),
    );
  }

  /**
   * One request to the server about `entity`, its answer read by `read`. An ambiguous id is an
   * answer (`AmbiguousEntityIdError`); any other failure is counted, logged and answered by
   * `fromMirror`.
   */
  private askServer<T>(entity: string, path: string, timeout: number, what: 'query' | 'lookup', read: (body: TagsResponse) => T, fromMirror: () => T): Observable<T> {
    return defer(() => {
      this.client.directQueries += 1;
      this.counters.fetches += 1;
      return getJson<TagsResponse>(this.endpoint, path, { timeout, agent: this.agent });
    }).pipe(
      map(read),
      catchError((error: unknown) => {
        // An answer about the id, not a failure: the short id begins several entities.
        if (error instanceof IpcResponseError && error.status === 400 && error.code === 'AmbiguousEntityId') {
          return throwError(() => new AmbiguousEntityIdError(entity, 2));
        }
        this.client.directQueryErrors += 1;
        this.counters.fetchErrors += 1;
        this.logger.warn(`tagstream server ${what} failed; answering with the mirror`, {
          address: this.endpoint.address,
          entity,
          error: error instanceof Error ? error.message : String(error),
        });
        return of(fromMirror());
      }),
    );
  }
}

/** What a lookup misses where the server does not say. */
const UNKNOWN_MISSING: readonly string[] = Object.freeze(['unknown']);

function hasLevels(line: EventLine): line is EventLine & { readonly levels: NonNullable<EventLine['levels']> } {
  return line.levels !== undefined;
}

/** A duration option, checked: a positive number of milliseconds, else an `IpcOptionError` naming it. */
function duration(option: string, value: number | undefined, fallback: number): number {
  return numberOption(option, value, fallback, { unit: 'milliseconds', error: (name, problem) => new IpcOptionError(name, problem) });
}

/** The strings of an answer's array field (anything else in it, or no array, is dropped). */
function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}
