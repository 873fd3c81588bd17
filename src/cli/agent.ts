/**
 * `tagstream agent`: detects the host's collectors, runs them into a Tagger (with the other hosts'
 * entities from a shared kvstore when `--kvstore` is given, publishing this host's there), serves it
 * over IPC and shows a live status until SIGINT or SIGTERM.
 */
import {
  type Observable,
  combineLatest,
  distinctUntilChanged,
  firstValueFrom,
  interval,
  ignoreElements,
  map,
  merge,
  of,
  scan,
  shareReplay,
  skip,
  startWith,
  take,
  tap,
  withLatestFrom,
} from 'rxjs';
import { type TaggerServer, serveTagger } from '../ipc/server.js';
import { createTagger } from '../tagger/tagger.js';
import type { Tagger } from '../tagger/contract.js';
import type { WebPageServer } from '../web/server.js';
import type { Collector } from '../tagger/types.js';
import type { Logger, LogFields } from '../util/logger.js';
import type { AgentConfig } from './agent-config.js';
import type { AgentKvstore } from './agent-kvstore.js';
import { startAgentWeb } from './agent-web.js';
import { type ShownState, dockerShownState, ecsShownState, kubernetesShownState } from './collector-state.js';
import { type Detection, detectCollectors, pathsToProbe } from './detect.js';
import { CliRuntimeError } from './errors.js';
import type { CliIo } from './io.js';
import { probePaths } from './probe-paths.js';
import { type AgentStatus, entitiesByPrefix, serverStatus, statusDocument, taggerCounters } from './status-report.js';
import {
  type AgentLogLine,
  type CollectorStatus,
  type StatusRowName,
  type StatusSnapshot,
  collectorLine,
  encodeLogLine,
  initialStatus,
  logLine,
  renderStatusTable,
  startLine,
  statusLine,
  stopLine,
  updatesPerSecond,
} from './status.js';

/** A started collector (or the kvstore): what the Tagger runs, its status at start, and its shown state over time. */
interface Running {
  readonly name: StatusRowName;
  readonly collector: Collector | undefined;
  readonly initial: CollectorStatus;
  readonly state$: Observable<ShownState>;
}

const REDRAW_INTERVAL = 1000;
/**
 * The ECS request's timeout: under the Tagger's fetch timeout (2000 ms), so that an endpoint that
 * does not answer fails as `timeout` (and turns the row `retrying`) before the Tagger gives up on
 * the look-up and cancels the request.
 */
const ECS_FETCH_TIMEOUT = 1500;
const CLEAR_SCREEN = '\x1b[H\x1b[2J';
/**
 * The terminal's alternate screen, entered (cursor hidden) before the first table, left (cursor
 * shown) at exit: the redrawn table never floods the scrollback, which is as it was afterwards.
 */
export const ENTER_ALTERNATE_SCREEN = '\x1b[?1049h\x1b[?25l';
/** Leaves the alternate screen and shows the cursor again (see {@link ENTER_ALTERNATE_SCREEN}). */
export const LEAVE_ALTERNATE_SCREEN = '\x1b[?25h\x1b[?1049l';

/**
 * Runs the agent with `config` until a signal arrives; resolves with the exit code (0), rejects
 * with a {@link CliRuntimeError} when it cannot start (a collector's options, the kvstore
 * unreachable within its join timeout, the socket in use).
 *
 * @example
 * ```ts
 * const code = await runAgent(config, processIo(), '1.2.0');
 * ```
 */
export async function runAgent(config: AgentConfig, io: CliIo, version: string): Promise<number> {
  // Listen for signals from the start: one during start-up stops the agent once it is up.
  const signal$ = io.signals$.pipe(take(1), shareReplay({ bufferSize: 1, refCount: true }));
  const early = signal$.subscribe();
  try {
    return await serveUntilSignal(config, io, version, signal$);
  } finally {
    early.unsubscribe();
  }
}

async function serveUntilSignal(config: AgentConfig, io: CliIo, version: string, signal$: Observable<string>): Promise<number> {
  // JSON output starts with the `start` line: what is logged before it is written right after it
  // (or, when the agent cannot start, before it exits).
  const early: { lines: AgentLogLine[] | undefined } = { lines: [] };
  const write = (line: AgentLogLine): void => {
    io.out(`${encodeLogLine(line)}\n`);
  };
  const flushEarly = (): void => {
    const lines = early.lines ?? [];
    early.lines = undefined;
    lines.forEach(write);
  };
  const emit = (line: AgentLogLine): void => {
    if (early.lines !== undefined && line.event !== 'start') early.lines.push(line);
    else write(line);
  };
  try {
    return await serve(config, io, version, signal$, emit, flushEarly);
  } finally {
    flushEarly();
  }
}

async function serve(
  config: AgentConfig,
  io: CliIo,
  version: string,
  signal$: Observable<string>,
  emit: (line: AgentLogLine) => void,
  flushEarly: () => void,
): Promise<number> {
  const json = config.json || !io.isTTY;
  const warnings: string[] = [];
  // The last warnings are kept either way: the table shows them, and so does `tagstream status`.
  const logger = json ? keepingWarnings(jsonLogger(emit, io.now), warnings) : tableLogger(warnings);
  warnEnvGlobs(config, logger);

  const detections = detectCollectors({ config, env: io.env, existing: await probePaths(pathsToProbe(config)) });
  const running = await Promise.all(detections.map((d) => startCollector(d, config, logger)));
  const kv = await joinKvstore(config, io, json, logger);
  if (kv !== undefined) running.push({ name: 'kvstore', collector: kv.collector, initial: kv.initial, state$: kv.state$ });
  const collectors = running.flatMap((r) => (r.collector === undefined ? [] : [r.collector]));
  const tagger = createTagger({ collectors, pruneInterval: config.pruneInterval, logger });
  tagger.start();
  const startedAt = io.now();
  // What `GET /v1/status` (`tagstream status`) answers: set once the status below runs.
  const statusOf: { current: (() => AgentStatus) | undefined } = { current: undefined };
  const status = (): AgentStatus => {
    if (statusOf.current === undefined) throw new Error('the agent is starting');
    return statusOf.current();
  };
  let server: TaggerServer;
  try {
    // The agent's own token file is fresh at each start: one left by an agent that crashed is never
    // reused. A file the user named holds their token (provisioned for clients): it is kept.
    server = await serveTagger(tagger, { socketPath: config.socketPath, tokenFile: config.tokenFile, rotateToken: !config.tokenFileExplicit, logger, status: () => ({ ...status() }) });
  } catch (error) {
    await kv?.close();
    tagger.stop();
    throw new CliRuntimeError('agent', `cannot serve on ${config.socketPath}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }

  // Published only once serving: an agent that cannot start (its socket held by a live agent of
  // the same name) never writes, so it never deletes, keys that are not its own.
  const publishing = kv?.publish$(tagger).subscribe();
  const initial = running.map((r) => r.initial);
  const statuses$ = combineLatest(running.map((r) => r.state$.pipe(map((shown): CollectorStatus => ({ ...r.initial, ...shown })))));
  const snapshots$ = (every: number): Observable<StatusSnapshot> =>
    interval(every).pipe(
      startWith(-1),
      withLatestFrom(statuses$),
      scan<[number, CollectorStatus[]], StatusSnapshot & { updates: number }>(
        (previous, [, collectorStatuses]) => snapshotOf(tagger, server, kv, collectorStatuses, warnings, io.now(), previous),
        snapshotOf(tagger, server, kv, initial, warnings, io.now(), undefined),
      ),
    );

  // The collectors' states now, and store updates per second over the last second, for /v1/status.
  const live = { statuses: initial, rate: { time: io.now(), updates: tagger.telemetry().updates, perSecond: 0 } };
  const liveStatus$ = merge(
    statuses$.pipe(tap((statuses) => (live.statuses = statuses))),
    interval(REDRAW_INTERVAL).pipe(
      tap(() => {
        const reading = { time: io.now(), updates: tagger.telemetry().updates };
        live.rate = { ...reading, perSecond: updatesPerSecond(live.rate, reading) };
      }),
    ),
  ).pipe(ignoreElements());
  statusOf.current = () => {
    const time = io.now();
    const snapshot = { ...snapshotOf(tagger, server, kv, live.statuses, warnings, time, undefined), updatesPerSecond: live.rate.perSecond };
    return statusDocument(snapshot, {
      version,
      startedAt,
      entitiesByPrefix: entitiesByPrefix(Array.from(tagger.storedEntries(), ([entity]) => entity)),
      counters: taggerCounters(tagger.telemetry()),
      server: serverStatus(server.address, server.tokenFile, server.telemetry()),
    });
  };

  // The web page (--http): its login is the server's token.
  let web: WebPageServer | undefined;
  if (config.http !== undefined) {
    try {
      const snapshot = (statuses: readonly CollectorStatus[]): StatusSnapshot => snapshotOf(tagger, server, kv, statuses, warnings, io.now(), undefined);
      web = await startAgentWeb(config.http, { tagger, server, kv, statuses$: statuses$.pipe(startWith(initial)), snapshot, version, logger });
    } catch (error) {
      publishing?.unsubscribe();
      await server.close();
      await kv?.close();
      tagger.stop();
      throw error;
    }
  }

  let status$: Observable<never>;
  if (json) {
    emit(startLine(io.now(), { version, address: server.address, tokenFile: server.tokenFile, collectors: initial }));
    flushEarly();
    const changes$ = running.map((r) =>
      r.state$.pipe(
        startWith<ShownState>(r.initial),
        distinctUntilChanged((a, b) => a.state === b.state && a.reason === b.reason),
        skip(1),
        tap((shown) => {
          emit(collectorLine(io.now(), { name: r.name, entities: undefined, ...shown }));
        }),
      ),
    );
    const counters$ = snapshots$(config.statusInterval).pipe(
      skip(1),
      tap((snapshot) => {
        emit(statusLine(snapshot));
      }),
    );
    status$ = merge(...changes$, counters$).pipe(ignoreElements());
  } else {
    io.out(ENTER_ALTERNATE_SCREEN);
    status$ = snapshots$(REDRAW_INTERVAL).pipe(
      tap((snapshot) => {
        io.out(CLEAR_SCREEN + renderStatusTable(snapshot, io.columns()));
      }),
      ignoreElements(),
    );
  }

  const subscription = merge(status$, liveStatus$).subscribe();
  const signal = await firstValueFrom(signal$);
  subscription.unsubscribe();
  // The terminal as it was, before anything that could fail on the way out.
  if (!json) io.out(LEAVE_ALTERNATE_SCREEN);
  publishing?.unsubscribe();
  await web?.close();
  await server.close();
  // Deletes this host's keys (other agents drop its entities after their delete grace), then revokes the lease.
  await kv?.close();
  tagger.stop();
  if (json) emit(stopLine(io.now(), signal));
  else io.out(`stopped (${signal}).\n`);
  return 0;
}

function snapshotOf(
  tagger: Tagger,
  server: TaggerServer,
  kv: AgentKvstore | undefined,
  collectors: readonly CollectorStatus[],
  warnings: readonly string[],
  time: number,
  previous: { readonly time: number; readonly updates: number } | undefined,
): StatusSnapshot & { updates: number } {
  const t = tagger.telemetry();
  return {
    time,
    address: server.address,
    collectors: collectors.map((c) => ({ ...c, entities: c.state === 'not found' || c.state === 'disabled' ? undefined : (t.entitiesBySource[c.name] ?? 0) })),
    entities: t.entities,
    entitiesBySource: t.entitiesBySource,
    updatesPerSecond: previous === undefined ? 0 : updatesPerSecond(previous, { time, updates: t.updates }),
    warnings: [...warnings],
    updates: t.updates,
    ...(kv === undefined ? {} : { kvstore: kv.counters() }),
  };
}

/**
 * An `--env-as-tag` pattern (`*`, `DD_*`) turns every matching variable into a tag, secrets
 * included (passwords, API keys): a user who wrote `*` rarely meant that, so the log says it.
 */
function warnEnvGlobs(config: AgentConfig, logger: Logger): void {
  const patterns = Object.keys(config.envAsTags).filter((name) => name.includes('*'));
  if (patterns.length === 0) return;
  logger.warn(
    `--env-as-tag maps environment variables by pattern (${patterns.join(', ')}): every matching variable of every container becomes a tag that any client may read, secrets (passwords, tokens, keys) included; map the variables by exact name instead`,
    { patterns },
  );
}

/** Joins the shared kvstore when `--kvstore` is given (loading the etcd client only then). */
async function joinKvstore(config: AgentConfig, io: CliIo, json: boolean, logger: Logger): Promise<AgentKvstore | undefined> {
  const kvstore = config.kvstore;
  if (kvstore === undefined) return undefined;
  const waiting = `joining the kvstore ${kvstore.url} (prefix ${kvstore.prefix}, at most ${kvstore.joinTimeout} ms)`;
  if (json) logger.info(waiting);
  else io.out(`${waiting}…\n`);
  const { joinAgentKvstore } = await import('./agent-kvstore.js');
  return joinAgentKvstore(kvstore, logger);
}

async function startCollector(detection: Detection, config: AgentConfig, logger: Logger): Promise<Running> {
  const initial = initialStatus(detection);
  const still = (shown: ShownState): Running => ({ name: detection.name, collector: undefined, initial, state$: of(shown) });
  try {
    switch (detection.status) {
      case 'not-found':
      case 'disabled':
        return still(initial);
      case 'found':
        break;
    }
    switch (detection.name) {
      case 'docker': {
        const { dockerClient, dockerCollector } = await import('../collectors/docker/index.js');
        const docker = dockerCollector({
          // A client that never follows a redirect: no request leaves for another host than the engine.
          docker: dockerClient('socketPath' in detection.target ? { socketPath: detection.target.socketPath } : { host: detection.target.host, port: detection.target.port }),
          labelsAsTags: config.labelsAsTags,
          envAsTags: config.envAsTags,
          stoppedGrace: config.stoppedGrace,
          logger,
        });
        return { name: 'docker', collector: docker, initial, state$: docker.state$.pipe(map((s) => dockerShownState(s, detection.reason))) };
      }
      case 'kubernetes': {
        const { kubernetesCollector, loadKubeConfig } = await import('../collectors/kubernetes/index.js');
        const kubeConfig = await loadKubeConfig('inCluster' in detection.kube ? { inCluster: true } : { file: detection.kube.kubeconfig });
        const kube = kubernetesCollector({
          kubeConfig,
          nodeName: detection.nodeName,
          period: config.kubernetesPeriod,
          podLabelsAsTags: config.labelsAsTags,
          podAnnotationsAsTags: config.annotationsAsTags,
          logger,
        });
        return { name: 'kubernetes', collector: kube, initial, state$: kube.state$.pipe(map((s) => kubernetesShownState(s, detection.reason))) };
      }
      case 'ecs': {
        const { ecsCollector } = await import('../collectors/ecs/collector.js');
        const ecs = ecsCollector({ metadataUri: detection.metadataUri, fetchTimeout: ECS_FETCH_TIMEOUT, logger });
        return { name: 'ecs', collector: ecs, initial, state$: ecs.state$.pipe(map((s) => ecsShownState(s, initial.reason))) };
      }
    }
  } catch (error) {
    throw new CliRuntimeError('agent', `cannot start the ${detection.name} collector: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

/** Writes info and above as `log` JSON lines. */
function jsonLogger(emit: (line: AgentLogLine) => void, now: () => number): Logger {
  const at =
    (level: AgentLogLine['level']) =>
    (message: string, fields?: LogFields): void => {
      emit(logLine(now(), level, message, fields));
    };
  return { debug: () => undefined, info: at('info'), warn: at('warn'), error: at('error') };
}

/** Keeps the last three warnings and errors, for the table. */
function tableLogger(warnings: string[]): Logger {
  return keepingWarnings({ debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined }, warnings);
}

/** `logger`, keeping the last three warnings and errors in `warnings` too. */
function keepingWarnings(logger: Logger, warnings: string[]): Logger {
  const keep = (message: string): void => {
    warnings.push(`${new Date().toISOString().slice(11, 19)} ${message}`);
    if (warnings.length > 3) warnings.shift();
  };
  return {
    ...logger,
    warn: (message, fields) => {
      keep(message);
      logger.warn(message, fields);
    },
    error: (message, fields) => {
      keep(message);
      logger.error(message, fields);
    },
  };
}
