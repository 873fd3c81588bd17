import {
  BehaviorSubject,
  EMPTY,
  asyncScheduler,
  catchError,
  defer,
  distinctUntilChanged,
  finalize,
  from,
  map,
  mergeMap,
  of,
  share,
  tap,
  throwError,
  timeout,
} from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import { EntityIdPrefix } from '../../tagger/entity-id.js';
import { isEcsContainerId } from '../shared/id-forms.js';
import { SourcePriority } from '../../tagger/types.js';
import type { Collector, TagInfo } from '../../tagger/types.js';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { EcsCollectorOptionError, EcsMetadataError } from './errors.js';
import type { EcsMetadataFailure } from './errors.js';
import { extractEcsContainerTags, extractEcsTags } from './extract.js';
import { readTaskMetadata } from './task-metadata.js';
import type { EcsTaskMetadata } from './task-metadata.js';

/**
 * The response fields the collector reads; the global `fetch`'s `Response` has them.
 *
 * @example
 * ```ts
 * const response: EcsFetchResponse = { ok: true, status: 200, text: () => Promise.resolve(body) };
 * ```
 */
export interface EcsFetchResponse {
  readonly ok: boolean;
  readonly status: number;
  text(): Promise<string>;
}

/**
 * A `fetch` function: Node's global `fetch` (the default), undici's, or a test double. The collector
 * asks it never to follow a redirect (`redirect: 'error'`): no request goes elsewhere than the
 * metadata endpoint.
 *
 * @example
 * ```ts
 * const logged: EcsFetch = (url, init) => { console.log('GET', url); return fetch(url, init); };
 * ecsCollector({ fetch: logged });
 * ```
 */
export type EcsFetch = (url: string, init: { readonly signal: AbortSignal; readonly redirect: 'error' }) => Promise<EcsFetchResponse>;

/**
 * Options of {@link ecsCollector}.
 *
 * @example
 * ```ts
 * const options: EcsCollectorOptions = { withTags: true, fetchTimeout: 1000, logger };
 * ```
 */
export interface EcsCollectorOptions {
  /** The task metadata endpoint v4 base URI (default: `process.env.ECS_CONTAINER_METADATA_URI_V4`). */
  readonly metadataUri?: string;
  /** Read `/taskWithTags` (with the task's and container instance's AWS tags) instead of `/task`. */
  readonly withTags?: boolean;
  /** How long a request may take before it counts as failed, in ms (default 2000). */
  readonly fetchTimeout?: number;
  /**
   * How long a task's answer is kept, in ms (default `Infinity`: a task does not change after
   * creation). While some container of the kept answer has no id yet, an unknown container asks again.
   */
  readonly cacheTtl?: number;
  /**
   * The source of the task's TagInfos (default 'ecs'); on Fargate the containers' own tags
   * (`extractEcsContainerTags`) come under `<source>-container`.
   */
  readonly source?: string;
  /** Where failed requests are reported (default: silent). */
  readonly logger?: Logger;
  /** The `fetch` to use (default: the global `fetch`). */
  readonly fetch?: EcsFetch;
  /** The scheduler of the timeout and of the cache clock (default `asyncScheduler`). */
  readonly scheduler?: SchedulerLike;
}

/**
 * What the ECS collector has done since it was created.
 *
 * @example
 * ```ts
 * const { requests, misses, errors }: EcsCollectorCounters = ecs.counters;
 * ```
 */
export interface EcsCollectorCounters {
  /** HTTP requests sent to the metadata endpoint. */
  readonly requests: number;
  /** Look-ups that found nothing (not a container of this task, no endpoint, or a failed request). */
  readonly misses: number;
  /** Requests that failed (unreachable, error status, timeout, not a task document). */
  readonly errors: number;
}

/**
 * The task metadata endpoint's health as the collector last saw it.
 *
 * - `ready`: no request yet, or the last request succeeded; `containers` is the number of
 *   containers (TagInfos) of the last answer, absent until a request succeeded.
 * - `failing`: the last request failed. `reason` says how (`unavailable`: the endpoint could not be
 *   reached or read; `http-status`: it answered `httpStatus`; `timeout`; `invalid-document`: not a
 *   task document), `error` what happened on one line, `since` when the first of the `failures`
 *   consecutive failed requests ended (the scheduler's clock, ms). A successful request makes it
 *   `ready` again.
 *
 * It never holds tag values, environment values or response bodies.
 *
 * @example
 * ```ts
 * ecs.state$.subscribe((state) => {
 *   if (state.status === 'failing') console.warn(`ecs: ${state.error} (${state.failures} failures)`);
 * });
 * ```
 */
export type EcsCollectorState =
  | { readonly status: 'ready'; readonly containers?: number }
  | {
      readonly status: 'failing';
      readonly reason: EcsMetadataFailure;
      readonly httpStatus?: number;
      readonly error: string;
      readonly since: number;
      readonly failures: number;
    };

/**
 * The fetch-only ECS collector: a {@link Collector} with `fetch`, its endpoint's state and counters.
 *
 * @example
 * ```ts
 * const ecs: EcsCollector = ecsCollector();
 * ecs.fetch(containerId(dockerId)).subscribe(store);
 * ```
 */
export interface EcsCollector extends Collector {
  readonly mode: 'fetch';
  readonly fetch: (entity: string) => Observable<TagInfo>;
  /** A snapshot of the counters. */
  readonly counters: EcsCollectorCounters;
  /** The endpoint's state now. */
  readonly state: EcsCollectorState;
  /** The endpoint's state now, then each change; it never completes. */
  readonly state$: Observable<EcsCollectorState>;
}

interface TaskAnswer {
  readonly at: number;
  readonly infos: readonly TagInfo[];
  readonly entities: ReadonlySet<string>;
  /** Every container of the task had an id: a container not in it is not in the task. */
  readonly complete: boolean;
}

const CONTAINER_PREFIX = `${EntityIdPrefix.Container}://`;
/**
 * The entity kind it answers: a container of its task (its TagInfos are all `container_id://`; an
 * `ecs_task://` entity is never reported, so it is not declared).
 */
const COVERS: readonly string[] = Object.freeze([EntityIdPrefix.Container]);
/** The longest `error` of a `failing` state. */
const MAX_ERROR_LENGTH = 300;

/**
 * A failed request on one line: the error's detail and, for an endpoint that could not be read,
 * the network error behind it (`fetch failed: connect ECONNREFUSED ...`). Never the URL's answer:
 * the other causes (JSON.parse's) quote the body.
 */
function failureLine(error: EcsMetadataError): string {
  const parts = [error.detail];
  if (error.reason === 'unavailable') {
    let cause = error.cause;
    for (let depth = 0; depth < 3 && cause instanceof Error; depth += 1) {
      const message = cause.message.split('\n', 1)[0]?.trim() ?? '';
      if (message.length > 0 && !parts.some((part) => part.includes(message))) parts.push(message);
      cause = cause.cause;
    }
  }
  const line = parts.join(': ').split('\n', 1)[0]?.trim() ?? '';
  return line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH - 1)}…` : line;
}

function sameState(a: EcsCollectorState, b: EcsCollectorState): boolean {
  if (a.status === 'ready' && b.status === 'ready') return a.containers === b.containers;
  if (a.status === 'failing' && b.status === 'failing') {
    return a.reason === b.reason && a.httpStatus === b.httpStatus && a.error === b.error && a.since === b.since && a.failures === b.failures;
  }
  return false;
}

async function loadTask(fetchFn: EcsFetch, url: string, signal: AbortSignal): Promise<EcsTaskMetadata> {
  let body: string;
  let status: number;
  try {
    const response = await fetchFn(url, { signal, redirect: 'error' });
    status = response.status;
    if (!response.ok) throw new EcsMetadataError('http-status', url, `answered HTTP ${status}`, status);
    body = await response.text();
  } catch (error) {
    if (error instanceof EcsMetadataError) throw error;
    throw new EcsMetadataError('unavailable', url, 'could not be read', undefined, { cause: error });
  }
  let document: unknown;
  try {
    document = JSON.parse(body);
  } catch (error) {
    throw new EcsMetadataError('invalid-document', url, 'answered something that is not JSON', status, {
      cause: error,
    });
  }
  const task = readTaskMetadata(document);
  if (task === undefined) {
    throw new EcsMetadataError('invalid-document', url, 'answered JSON that is not a task document', status);
  }
  return task;
}

/**
 * The fetch-only ECS collector: it never pushes on its own; `fetch(entity)` reads the task
 * metadata (v4) of the task it runs in, turns every container of the task into a TagInfo, and
 * emits them all when the asked container is one of them (nothing otherwise), then completes.
 * Only a `container_id://` in a `DockerId`'s form (64 hex digits, or Fargate's 32 hex digits, a
 * dash and digits) is looked up; anything else is a miss without a request.
 *
 * Concurrent look-ups share one request; a task's answer is kept (see `cacheTtl`). Failed
 * requests and timeouts are logged, counted in `errors` and answered as a miss: `fetch` never
 * errors. `state` / `state$` tell whether the last request succeeded ({@link EcsCollectorState}).
 * Without a metadata URI every look-up is a miss (and the state stays `ready`). Throws
 * {@link EcsCollectorOptionError} when `fetchTimeout` is not a positive number or `cacheTtl` is
 * negative.
 *
 * @example
 * ```ts
 * const ecs = ecsCollector({ logger: consoleLogger('info') });
 * ecs.fetch(containerId(dockerId)).subscribe((info) => console.log(info.entity, info.lowCardTags));
 * ecs.counters; // { requests: 1, misses: 0, errors: 0 }
 * ecs.state; // { status: 'ready', containers: 2 }
 * ```
 */
export function ecsCollector(options: EcsCollectorOptions = {}): EcsCollector {
  const logger = options.logger ?? silentLogger;
  const source = options.source ?? 'ecs';
  const scheduler = options.scheduler ?? asyncScheduler;
  const fetchTimeout = options.fetchTimeout ?? 2000;
  const cacheTtl = options.cacheTtl ?? Number.POSITIVE_INFINITY;
  if (!(Number.isFinite(fetchTimeout) && fetchTimeout > 0)) {
    throw new EcsCollectorOptionError('fetchTimeout', fetchTimeout, 'a positive number of milliseconds');
  }
  if (Number.isNaN(cacheTtl) || cacheTtl < 0) {
    throw new EcsCollectorOptionError('cacheTtl', cacheTtl, 'zero, a positive number of milliseconds or Infinity');
  }
  const fetchFn: EcsFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const base = options.metadataUri ?? process.env['ECS_CONTAINER_METADATA_URI_V4'];
  const url =
    base === undefined || base.length === 0
      ? undefined
      : `${base.replace(/\/+$/, '')}/${options.withTags === true ? 'taskWithTags' : 'task'}`;
  if (url === undefined) {
    logger.warn('ecs: no task metadata URI (ECS_CONTAINER_METADATA_URI_V4 unset): every look-up is a miss');
  }

  let requests = 0;
  let misses = 0;
  let errors = 0;
  let kept: TaskAnswer | undefined;
  const state$ = new BehaviorSubject<EcsCollectorState>({ status: 'ready' });
  const setState = (state: EcsCollectorState): void => {
    if (!sameState(state$.getValue(), state)) state$.next(state);
  };
  const failed = (error: unknown): void => {
    const previous = state$.getValue();
    const since = previous.status === 'failing' ? previous.since : scheduler.now();
    const failures = previous.status === 'failing' ? previous.failures + 1 : 1;
    if (error instanceof EcsMetadataError) {
      setState({
        status: 'failing',
        reason: error.reason,
        ...(error.status === undefined ? {} : { httpStatus: error.status }),
        error: failureLine(error),
        since,
        failures,
      });
    } else {
      // Not a request failure (a bug): named only, its message may quote anything.
      const name = error instanceof Error ? error.name : typeof error;
      setState({ status: 'failing', reason: 'unavailable', error: `could not be read (${name})`, since, failures });
    }
  };

  const request$ = (target: string): Observable<TaskAnswer> =>
    defer(() => {
      requests += 1;
      const controller = new AbortController();
      return from(loadTask(fetchFn, target, controller.signal)).pipe(
        finalize(() => {
          controller.abort();
        }),
      );
    }).pipe(
      timeout({
        first: fetchTimeout,
        scheduler,
        with: () => throwError(() => new EcsMetadataError('timeout', target, `no answer within ${fetchTimeout} ms`)),
      }),
      map((task): TaskAnswer => {
        // On Fargate no Docker collector tags the containers: their own tags come from the task too.
        const infos = [...extractEcsTags(task, { source, logger }), ...extractEcsContainerTags(task, { source: `${source}-container` })];
        const complete = (task.Containers ?? []).every(
          (container) => container.KnownStatus === 'STOPPED' || (container.DockerId ?? '').length > 0,
        );
        return { at: scheduler.now(), infos, entities: new Set(infos.map((info) => info.entity)), complete };
      }),
      tap({
        next: (answer) => {
          kept = answer;
          setState({ status: 'ready', containers: answer.entities.size });
        },
        error: (error: unknown) => {
          errors += 1;
          logger.warn('ecs: task metadata request failed', {
            url: target,
            reason: error instanceof EcsMetadataError ? error.reason : 'unknown',
            error,
          });
          failed(error);
        },
      }),
      share(),
    );
  const shared$ = url === undefined ? undefined : request$(url);

  const usable = (answer: TaskAnswer | undefined, entity: string): answer is TaskAnswer =>
    answer !== undefined &&
    scheduler.now() - answer.at < cacheTtl &&
    (answer.complete || answer.entities.has(entity));

  const lookUp = (entity: string): Observable<TagInfo> =>
    defer(() => {
      // Only a DockerId's form is looked up: anything else is a miss without a request.
      if (shared$ === undefined || !entity.startsWith(CONTAINER_PREFIX) || !isEcsContainerId(entity.slice(CONTAINER_PREFIX.length))) {
        misses += 1;
        return EMPTY;
      }
      const answer$ = usable(kept, entity) ? of(kept) : shared$;
      return answer$.pipe(
        mergeMap((answer) => {
          if (answer.entities.has(entity)) return from(answer.infos);
          misses += 1;
          return EMPTY;
        }),
        catchError(() => {
          misses += 1;
          return EMPTY;
        }),
      );
    });

  return {
    source,
    priority: SourcePriority.NodeOrchestrator,
    mode: 'fetch',
    covers: COVERS,
    fetch: lookUp,
    get counters(): EcsCollectorCounters {
      return Object.freeze({ requests, misses, errors });
    },
    get state(): EcsCollectorState {
      return state$.getValue();
    },
    state$: state$.pipe(distinctUntilChanged(sameState)),
  };
}
