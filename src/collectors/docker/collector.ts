import {
  BehaviorSubject,
  EMPTY,
  catchError,
  concat,
  connect,
  defer,
  filter,
  finalize,
  from,
  map,
  merge,
  mergeMap,
  mergeWith,
  of,
  retry,
  share,
  Subject,
  takeUntil,
  tap,
  throwError,
  timer,
} from 'rxjs';
import type { Observable } from 'rxjs';
import { EntityIdPrefix, containerId } from '../../tagger/entity-id.js';
import { AmbiguousEntityIdError } from '../../tagger/errors.js';
import { tagInfo } from '../../tagger/stream-collector.js';
import { SourcePriority } from '../../tagger/types.js';
import type { Collector, ShortIdRule, TagInfo } from '../../tagger/types.js';
import { isImageId } from '../shared/image-reference.js';
import { dockerClient } from './client.js';
import { createDockerCollectorState, resumeFrom, stepDockerCollector } from './collector-state.js';
import type { DockerCollectorCounters, DockerCollectorInput, DockerConnectionState } from './collector-state.js';
import { parseContainerEvent } from './container-event.js';
import { isContainerIdOrPrefix, isShortContainerId } from './container-id.js';
import { DockerCollectorError } from './errors.js';
import { openEventStream } from './event-stream.js';
import type { EventStreamItem } from './event-stream.js';
import { extractDockerTags } from './extract.js';
import type { DockerExtractOptions, DockerImageNames } from './extract.js';
import { imageNameCache } from './image-names.js';
import { resolveDockerOptions } from './options.js';
import type { DockerClient, DockerCollectorOptions } from './options.js';
import { createReconcileState, isCurrentInspect, reconcile } from './reconcile.js';
import type { ReconcileInput, ReconcileOutput, ReconcileState } from './reconcile.js';
import { graceLeft } from './stopped-grace.js';

// The collector's types live beside the code that gives them meaning; they are its public API too.
export type { DockerCollectorCounters, DockerConnectionState } from './collector-state.js';
export type { DockerClient, DockerCollectorOptions, DockerInspectRetry, DockerReconnectDelay } from './options.js';

/**
 * The Docker collector: a stream {@link Collector} with `fetch`, its connection state and counters.
 *
 * @example
 * ```ts
 * const docker: DockerCollector = dockerCollector();
 * const tagger = createTagger({ collectors: [docker] });
 * ```
 */
export interface DockerCollector extends Collector {
  readonly mode: 'stream';
  readonly tagInfo$: Observable<TagInfo>;
  readonly fetch: (entity: string) => Observable<TagInfo>;
  /** `container_id://` ids of 12 to 63 hex digits are short ids, as `docker ps` prints them. */
  readonly shortIds: ShortIdRule;
  /** The connection state now, then each change. */
  readonly state$: Observable<DockerConnectionState>;
  /** The connection state now. */
  readonly state: DockerConnectionState;
  /** A snapshot of the counters. */
  readonly counters: DockerCollectorCounters;
}

type EmitOutput = Extract<ReconcileOutput, { type: 'emit' }>;
type InspectOutput = Extract<ReconcileOutput, { type: 'inspect' }>;
type GraceOutput = Extract<ReconcileOutput, { type: 'grace' }>;

/** What an inspect found: the container's TagInfo and, when it is stopped, the ms its grace has left. */
interface Inspected {
  readonly info: TagInfo;
  readonly graceLeft: number | undefined;
}

/** One attempt of an inspect the reconciler asked for (`seq`): `retry` 0 first, then 1, 2, … */
interface InspectAttempt {
  readonly id: string;
  readonly seq: number;
  readonly retry: number;
}

/** A retry of a failed inspect, due `delayMs` from when it was scheduled. */
interface ScheduledRetry {
  readonly attempt: InspectAttempt;
  readonly delayMs: number;
}

const CONTAINER_PREFIX = `${EntityIdPrefix.Container}://`;

/** The list states of a container whose process does not run (any other is inspected: its answer decides). */
const STOPPED: ReadonlySet<string> = new Set(['created', 'exited', 'dead', 'removing']);

const SHORT_IDS: ShortIdRule = Object.freeze({ prefix: EntityIdPrefix.Container, isShort: isShortContainerId });

/** dockerd's answer (a 500) to an inspect by a prefix that begins several containers. */
function isAmbiguousPrefix(error: unknown): boolean {
  return error instanceof Error && /multiple IDs found with provided prefix/i.test(error.message);
}

function statusCode(error: unknown): number | undefined {
  const code = typeof error === 'object' && error !== null ? (error as { statusCode?: unknown }).statusCode : undefined;
  return typeof code === 'number' ? code : undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The underlying error of a DockerCollectorError (the daemon's or the socket's), for logs. */
function causeOf(error: unknown): unknown {
  return error instanceof DockerCollectorError && error.cause !== undefined ? error.cause : error;
}

/** The entity kind the engine reports: every container. */
const COVERS: readonly string[] = Object.freeze([EntityIdPrefix.Container]);

/**
 * The Docker collector, in stream mode: on subscription it opens the daemon's event stream,
 * lists the containers and inspects each running one (at most `inspectConcurrency` at once), then
 * follows container events — `start` and `rename` inspect the container and emit its TagInfo,
 * `destroy` emits `deleteEntity`. Events that arrive while the list is answered are kept and win
 * over it for their containers; a later event for a container makes its pending inspect stale, so
 * an old answer never overwrites a newer one.
 *
 * Docker keeps a container's id across `restart` and stop/start, so `die` deletes nothing: a
 * stopped container keeps its tags for `stoppedGrace` (counted from its `State.FinishedAt` when an
 * inspect or a fetch finds it stopped), a `start` within it cancels it, and its end emits
 * `deleteEntity`. Grace timers run on `scheduler` and outlive reconnections.
 *
 * `tagInfo$` is hot and shared: one event stream however many subscribers; one that joins
 * late first receives the TagInfo of every container known. When the daemon goes away, it
 * reconnects with exponential backoff (`reconnectDelay`), asks for the events since the last one
 * it saw, relists (stopped containers too), and emits `deleteEntity` for every container that
 * vanished meanwhile, starts the grace of every one that stopped, and tags every one that
 * appeared. It never errors. When the last subscriber leaves, the connection
 * closes and what was known is forgotten.
 *
 * An inspect that fails while the connection stays up (a timeout, a 500, a broken socket) is
 * retried on `scheduler` with exponential backoff (`inspectRetry`), without holding one of the
 * `inspectConcurrency` slots while it waits; "not found" is an answer, never retried. A later event
 * for the container (`destroy`, a new `start` or `rename`; not `die`) cancels a waiting retry, and so do
 * a reconnection (its relist inspects anew) and the last unsubscription. After the last retry
 * fails the collector gives up: the container keeps what it had. Retries and give-ups are
 * counted (`inspectRetries`, `inspectGiveUps`) and logged, by container id only.
 *
 * `fetch(entity)` inspects one container: its TagInfo when it runs or stopped less than
 * `stoppedGrace` ago (the stream then deletes it when what is left of the grace runs out, unless it
 * starts), nothing when it does not exist, never ran, stopped longer ago, or the entity is not a
 * container id. Only `container_id://` ids of 12 to 64
 * lower-case hex digits are sent to the daemon; anything else is "not found" without a request.
 * A short id (12 to 63 digits, as `docker ps` prints it) answers the full container it begins
 * (`shortIds` tells the Tagger so); one that begins several fails with `AmbiguousEntityIdError`.
 * It fails with a {@link DockerCollectorError} when the daemon cannot answer (no retry: the Tagger
 * answers with what it has). Throws {@link DockerCollectorOptionError} for an option out of range.
 *
 * @example
 * ```ts
 * const docker = dockerCollector({ labelsAsTags: { 'com.example.team': 'team' }, logger: consoleLogger('info') });
 * const tagger = createTagger({ collectors: [docker] });
 * tagger.start();
 * docker.state$.subscribe((state) => console.log('docker', state.status));
 * tagger.tags$(containerId(id), 'high').subscribe((tags) => console.log(tags));
 * ```
 */
export function dockerCollector(options: DockerCollectorOptions = {}): DockerCollector {
  const config = resolveDockerOptions(options);
  const { source, logger, scheduler, stoppedGrace } = config;
  const docker: DockerClient = config.docker ?? dockerClient();
  const images = imageNameCache(docker, { maxEntries: config.imageCacheSize });
  const extractOptions = {
    logger,
    ...(config.labelsAsTags === undefined ? {} : { labelsAsTags: config.labelsAsTags }),
    ...(config.envAsTags === undefined ? {} : { envAsTags: config.envAsTags }),
  } satisfies DockerExtractOptions;

  // The connection, the retries and the counters: one state machine (collector-state.ts).
  const machine = createDockerCollectorState(config);
  const state$ = new BehaviorSubject<DockerConnectionState>(machine.status);
  /** One step of the state machine; a changed status is published. */
  const step = (input: DockerCollectorInput): ReturnType<typeof stepDockerCollector> => {
    const before = machine.status;
    const output = stepDockerCollector(machine, input);
    if (machine.status !== before) state$.next(machine.status);
    return output;
  };

  /**
   * The container's TagInfo, with what is left of its grace when it is stopped; `undefined` when it
   * does not exist, never ran or stopped longer than `stoppedGrace` ago. `id` is the daemon's own
   * (listed, or named by an event) or was checked by `fetch`.
   */
  const inspectTags$ = (id: string): Observable<Inspected | undefined> =>
    defer(() => {
      step({ type: 'inspectSent' });
      // Not aborted when unsubscribed: an inspect is short and a late answer is dropped (see
      // `isCurrentInspect`); passing an abort signal makes every dockerode request dearer.
      // Encoded whatever its origin: a path segment is encoded wherever it is built.
      return docker.getContainer(encodeURIComponent(id)).inspect();
    }).pipe(
      catchError((error: unknown) => {
        if (statusCode(error) === 404) return of(undefined);
        if (isAmbiguousPrefix(error)) return throwError(() => new AmbiguousEntityIdError(containerId(id), 2));
        step({ type: 'inspectError' });
        return throwError(() => new DockerCollectorError('inspect-failed', `could not inspect container ${id}`, id, { cause: error }));
      }),
      mergeMap((inspect) => {
        if (inspect === undefined) return of(undefined);
        // Stopped for longer than the grace, or never started: as good as gone.
        const left = graceLeft(inspect.State, stoppedGrace, scheduler.now());
        if (left === 'expired') return of(undefined);
        const configImage = inspect.Config.Image;
        const image$: Observable<DockerImageNames | undefined> = isImageId(configImage) ? images.resolve(configImage) : of(undefined);
        return image$.pipe(
          map((image): Inspected => {
            const tags = extractDockerTags(inspect, image === undefined ? extractOptions : { ...extractOptions, image });
            const info = tagInfo({ entity: containerId(inspect.Id), source, low: tags.low, orchestrator: tags.orchestrator, high: tags.high });
            return { info, graceLeft: left === 'running' ? undefined : left };
          }),
        );
      }),
    );

  /**
   * The stream's inspects on the wire, by the daemon's full container id: a `fetch` of that id
   * waits for it rather than inspecting the container a second time. A failure of the stream's
   * inspect (which the stream retries on its own) makes the fetch inspect on its own.
   */
  const streamInspects = new Map<string, Observable<Inspected | undefined>>();
  /** The stream's inspect of `id`, registered in `streamInspects` while it is on the wire. */
  const streamInspect$ = (id: string): Observable<Inspected | undefined> => {
    const shared$: Observable<Inspected | undefined> = inspectTags$(id).pipe(
      finalize(() => {
        if (streamInspects.get(id) === shared$) streamInspects.delete(id);
      }),
      share(),
    );
    return defer(() => {
      streamInspects.set(id, shared$);
      return shared$;
    });
  };

  /** The reconciler state of the current shared subscription (none while nobody subscribes). */
  let current: ReconcileState | undefined;
  /** What `fetch` tells the reconciler of the current subscription (nothing when there is none). */
  const lookups$ = new Subject<ReconcileInput>();

  /**
   * One attempt of an inspect: skipped when a later event made it stale. When it fails for
   * another reason than "not found" (which answers `undefined`) while still current, the state
   * machine says whether to hand `later` the next attempt or to give up (`inspectFailed`: what
   * was known stays).
   */
  const runInspect = (state: ReconcileState, attempt: InspectAttempt, later: (retry: ScheduledRetry) => void): Observable<ReconcileOutput> => {
    const { id, seq } = attempt;
    return defer(() => (isCurrentInspect(state, id, seq) ? streamInspect$(id) : EMPTY)).pipe(
      map((found): ReconcileInput => ({ type: 'inspected', id, seq, info: found?.info, graceLeft: found?.graceLeft })),
      catchError((error: unknown) => {
        // Container id and error only: never the tags or the environment (secrets).
        const fields = { containerId: id, error: describe(causeOf(error)) };
        if (!isCurrentInspect(state, id, seq)) {
          logger.debug('docker: a superseded inspect failed; a newer one decides', fields);
          return EMPTY;
        }
        const retryable = error instanceof DockerCollectorError && error.reason === 'inspect-failed';
        const decision = step({ type: 'inspectFailed', retry: attempt.retry, retryable });
        if (decision.type === 'retryInspect') {
          const { retry, delayMs } = decision;
          logger.info('docker: inspect failed; retrying', { ...fields, retry, retries: config.inspectRetries, delayMs });
          later({ attempt: { id, seq, retry }, delayMs });
          return EMPTY;
        }
        logger.warn('docker: inspect failed; gave up, the container keeps what it had', { ...fields, attempts: attempt.retry + 1 });
        return of<ReconcileInput>({ type: 'inspectFailed', id, seq });
      }),
      mergeMap((input) => from(reconcile(state, input))),
    );
  };

  // Every container, stopped ones too: a stopped one within its grace is not deleted by a relist.
  const list$ = defer(() => docker.listContainers({ all: true })).pipe(
    catchError((error: unknown) =>
      throwError(() => new DockerCollectorError('list-failed', 'could not list the containers', undefined, { cause: error })),
    ),
    map((containers): ReconcileInput => {
      const stopped = containers.filter((c) => STOPPED.has(c.State));
      return { type: 'listed', ids: containers.filter((c) => !STOPPED.has(c.State)).map((c) => c.Id), stopped: stopped.map((c) => c.Id) };
    }),
  );

  const toInputs = (item: EventStreamItem): Observable<ReconcileInput> => {
    switch (item.type) {
      case 'open':
        step({ type: 'opened', daemonTime: item.daemonTime });
        return concat(of<ReconcileInput>({ type: 'connected' }), list$);
      case 'malformed':
        step({ type: 'malformedEvent' });
        logger.warn('docker: skipped an event stream line that is not JSON', { line: item.line.slice(0, 200) });
        return EMPTY;
      case 'message': {
        const event = parseContainerEvent(item.value);
        if (event === undefined) return EMPTY;
        step({ type: 'event', time: event.time });
        return of<ReconcileInput>({ type: 'event', action: event.action, id: event.id });
      }
    }
  };

  /**
   * One connection: open the events, list, inspect (retrying failed inspects); errors when the
   * daemon goes away, which cancels the retries waiting (the next connection's relist inspects anew).
   */
  const session$ = (state: ReconcileState): Observable<ReconcileOutput> =>
    defer(() => {
      step({ type: 'opening' });
      /** Failed inspects to try again after their delay. */
      const retries$ = new Subject<ScheduledRetry>();
      /** Each input of the connection, once reconciled: it may have superseded a waiting retry. */
      const reconciled$ = new Subject<void>();
      const superseded$ = ({ id, seq }: InspectAttempt): Observable<void> =>
        reconciled$.pipe(
          filter(() => !isCurrentInspect(state, id, seq)),
          tap(() => {
            logger.debug('docker: a newer event superseded an inspect retry', { containerId: id });
          }),
        );
      // Waiting outside the concurrency limit: a retry takes an inspect slot only when it is due.
      const due$ = retries$.pipe(
        mergeMap(({ attempt: next, delayMs }) =>
          timer(delayMs, scheduler).pipe(
            map(() => next),
            takeUntil(superseded$(next)),
          ),
        ),
      );
      const later = (retry: ScheduledRetry): void => {
        retries$.next(retry);
      };
      return openEventStream(docker, resumeFrom(machine)).pipe(
        mergeMap(toInputs),
        mergeMap((input) => {
          const outputs = reconcile(state, input);
          reconciled$.next();
          if (input.type === 'listed') {
            step({ type: 'listed', containers: input.ids.length });
            logger.info('docker: connected', { containers: input.ids.length });
          }
          return from(outputs);
        }),
        connect((outputs$) =>
          merge(
            outputs$.pipe(filter((output): output is EmitOutput | GraceOutput => output.type !== 'inspect')),
            merge(
              outputs$.pipe(
                filter((output): output is InspectOutput => output.type === 'inspect'),
                map((output): InspectAttempt => ({ id: output.id, seq: output.seq, retry: 0 })),
              ),
              due$,
            ).pipe(mergeMap((next) => runInspect(state, next, later), config.inspectConcurrency)),
          ),
        ),
      );
    });

  const shared$: Observable<TagInfo> = defer(() => {
    const state = createReconcileState(source, stoppedGrace);
    current = state;
    step({ type: 'subscribed' });
    return session$(state).pipe(
      retry({
        delay: (error: unknown) => {
          const reason =
            error instanceof DockerCollectorError
              ? error
              : new DockerCollectorError('events-ended', `unexpected failure: ${describe(error)}`, undefined, { cause: error });
          const decision = step({ type: 'lost', reason });
          const [attempt, delayMs] = decision.type === 'reconnect' ? [decision.attempt, decision.delayMs] : [machine.attempt, 0];
          logger.warn('docker: lost the daemon; reconnecting', { attempt, delayMs, reason: reason.reason, error: describe(causeOf(reason)) });
          return timer(delayMs, scheduler);
        },
      }),
      mergeWith(lookups$.pipe(mergeMap((input) => from(reconcile(state, input))))),
      // A grace outlives a lost connection: its timer runs until it ends or the last subscriber
      // leaves. A grace that a start or a later grace superseded still fires; the reconciler drops it.
      connect((outputs$) =>
        merge(
          outputs$,
          outputs$.pipe(
            filter((output): output is GraceOutput => output.type === 'grace'),
            mergeMap(({ id, seq, delayMs }) =>
              timer(delayMs, scheduler).pipe(mergeMap(() => from(reconcile(state, { type: 'graceEnded', id, seq })))),
            ),
          ),
        ),
      ),
      filter((output): output is EmitOutput => output.type === 'emit'),
      map((output) => {
        step({ type: 'emitted', reason: output.reason });
        return output.info;
      }),
      finalize(() => {
        current = undefined;
        step({ type: 'unsubscribed' });
      }),
    );
  }).pipe(share());

  const tagInfo$ = defer(() => {
    const known = current === undefined ? [] : [...current.known.values()];
    return known.length === 0 ? shared$ : concat(from(known), shared$);
  });

  const fetch = (entity: string): Observable<TagInfo> =>
    defer(() => {
      const id = entity.startsWith(CONTAINER_PREFIX) ? entity.slice(CONTAINER_PREFIX.length) : '';
      if (!isContainerIdOrPrefix(id)) return EMPTY;
      // One inspect per container: what the stream emitted for a running container it has no
      // newer inspect of waiting; else the stream's inspect of this very id when it is on the wire.
      const state = current;
      const known = state === undefined || state.pending.has(id) || state.stopped.has(id) ? undefined : state.known.get(id);
      if (known !== undefined) return of(known);
      const joined = streamInspects.get(id);
      const inspect$ = joined === undefined ? inspectTags$(id) : joined.pipe(catchError(() => inspectTags$(id)));
      return inspect$.pipe(
        filter((found): found is Inspected => found !== undefined),
        tap(({ info, graceLeft: left }) => {
          // The full id: a fetch by a short id answers the container it begins.
          lookups$.next({ type: 'fetched', id: info.entity.slice(CONTAINER_PREFIX.length), graceLeft: left });
        }),
        map(({ info }) => info),
      );
    });

  return {
    source,
    priority: SourcePriority.NodeRuntime,
    mode: 'stream',
    tagInfo$,
    fetch,
    shortIds: SHORT_IDS,
    covers: COVERS,
    state$: state$.asObservable(),
    get state(): DockerConnectionState {
      return state$.getValue();
    },
    get counters(): DockerCollectorCounters {
      return Object.freeze({ ...machine.counters, imageInspects: images.requests });
    },
  };
}
