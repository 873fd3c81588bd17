/**
 * A runnable example (`npm run example:hold-lines`), issue 15 item 5: a log line tagger that holds
 * the first lines of a new container until its tags are complete, or `holdMs` (500 ms) have passed,
 * then emits them tagged — in order, nothing lost.
 *
 * `tagLogLines(tagger, options)` is a reusable RxJS operator built on the public API only
 * (`Tagger.lookup$`, `Tagger.storedTags`, `containerId`). Per container:
 *
 * - the first lines are held while the container is not complete (see "Completeness" in
 *   docs/tagger.md): every collector that `covers: ['container_id']` has not reported it yet;
 * - the hold ends at the first of: the container is complete (`heldUntil: 'complete'`), `holdMs`
 *   from its first line (`'deadline'`), more than `maxHeldPerContainer` lines held (`'cap'`: logged
 *   as a warning), the tagger stops (`'tagger-stopped'`), or its look-up fails (`'lookup-failed'`,
 *   e.g. an id the tagger refuses: logged). The held lines then come out in their order, each with
 *   the tags at that moment — never dropped;
 * - later lines pass at once with the container's current tags;
 * - one `lookup$` per container is kept while its lines come, and released once none came for
 *   `idleMs` (or when the source ends); a line after that starts a new hold of at most `holdMs`.
 *
 * Lines of other containers are never held up by a slow one. When the source completes or errors,
 * lines still held wait for the end of their hold, come out, and then the output completes (or
 * errors with the source's error). Unsubscribing drops what is held: that is the consumer's call.
 *
 * Why `lookup$` and not `lookup(entity, { waitForComplete })`: the same answer as an Observable, so
 * that one subscription serves both the hold and the current tags of later lines, and the hold runs
 * on the tagger's scheduler (virtual time in the tests) instead of a Promise.
 *
 * Run it with `--duration <ms>` to change how long it runs (default 3000).
 */
import process from 'node:process';
import { pathToFileURL } from 'node:url';
import {
  EMPTY,
  type GroupedObservable,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  Subscription,
  asyncScheduler,
  catchError,
  concat,
  debounceTime,
  defer,
  groupBy,
  map,
  mergeMap,
  throwError,
  timer,
} from 'rxjs';
// The package's entry point, as source: runs with tsx without a build (`'tagstream'` in your code).
import {
  type Collector,
  type Logger,
  type TagCardinality,
  type TagInfo,
  type TagLookup,
  type Tagger,
  SourcePriority,
  consoleLogger,
  containerId,
  createTagger,
  silentLogger,
  streamCollector,
  tagInfo,
} from '../src/index.js';

/** A log line of a container, as a log shipper reads it. */
export interface LogLine {
  /** The container's id as the runtime gives it (without `container_id://`). */
  readonly containerId: string;
  /** When the line was written (ms since the epoch, or any clock of the caller). */
  readonly time: number;
  readonly message: string;
}

/** Why a held line came out. */
export type HoldEnd = 'complete' | 'deadline' | 'cap' | 'tagger-stopped' | 'lookup-failed';

/** A log line with its container's tags. */
export interface TaggedLogLine extends LogLine {
  /** The container's tags (at `cardinality`) when the line came out. */
  readonly tags: readonly string[];
  /** Every source expected for the container had reported it when the line came out. */
  readonly complete: boolean;
  /** Present on a line that was held: why its hold ended. */
  readonly heldUntil?: HoldEnd;
}

/** Lines counted by `tagLogLines`: passed at once, or held and released (by why the hold ended). */
export interface TagLogLinesCounters {
  passed: number;
  released: Record<HoldEnd, number>;
}

/** Fresh counters to give `tagLogLines` (`options.counters`). */
export function tagLogLinesCounters(): TagLogLinesCounters {
  return { passed: 0, released: { complete: 0, deadline: 0, cap: 0, 'tagger-stopped': 0, 'lookup-failed': 0 } };
}

/** Options of {@link tagLogLines}. Durations in milliseconds. */
export interface TagLogLinesOptions {
  /** The longest a container's first lines are held, from its first line. Default: 500. */
  readonly holdMs?: number;
  /**
   * The most lines held per container. One more releases them all at once, with the tags so far
   * (`heldUntil: 'cap'`, counted, logged as a warning); later lines of it then pass. Default: 1000.
   */
  readonly maxHeldPerContainer?: number;
  /**
   * A container's `lookup$` is released once none of its lines came for this long; must be more
   * than `holdMs`. Default: 30000.
   */
  readonly idleMs?: number;
  /** The cardinality of the tags. Default: 'high' (log lines are per container). */
  readonly cardinality?: TagCardinality;
  /** The scheduler of the hold and idle timers; the tagger's own in tests. Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Where a reached cap and a failed look-up are reported. Default: `consoleLogger('warn')`. */
  readonly logger?: Logger;
  /** Incremented for every line that comes out. Default: counters of its own. */
  readonly counters?: TagLogLinesCounters;
}

interface Resolved {
  readonly holdMs: number;
  readonly maxHeld: number;
  readonly idleMs: number;
  readonly cardinality: TagCardinality;
  readonly scheduler: SchedulerLike;
  readonly logger: Logger;
  readonly counters: TagLogLinesCounters;
}

function resolve(options: TagLogLinesOptions): Resolved {
  const holdMs = options.holdMs ?? 500;
  const maxHeld = options.maxHeldPerContainer ?? 1000;
  const idleMs = options.idleMs ?? 30_000;
  if (!(Number.isFinite(holdMs) && holdMs >= 0)) throw new RangeError(`holdMs must be a non-negative number of milliseconds, got ${String(holdMs)}`);
  if (!(Number.isInteger(maxHeld) && maxHeld >= 1)) throw new RangeError(`maxHeldPerContainer must be a positive integer, got ${String(maxHeld)}`);
  // A hold always ends within holdMs of a container's first line, so a container's next lookup
  // (after idleMs without lines) never starts while lines of its previous one are still held.
  if (!(Number.isFinite(idleMs) && idleMs > holdMs)) throw new RangeError(`idleMs must be more than holdMs (${holdMs}), got ${String(idleMs)}`);
  return {
    holdMs,
    maxHeld,
    idleMs,
    cardinality: options.cardinality ?? 'high',
    scheduler: options.scheduler ?? asyncScheduler,
    logger: options.logger ?? consoleLogger('warn'),
    counters: options.counters ?? tagLogLinesCounters(),
  };
}

/**
 * Tags log lines with their container's tags, holding a new container's first lines until its tags
 * are complete or `holdMs` have passed (see the file's comment for every rule).
 *
 * @example
 * ```ts
 * lines$.pipe(tagLogLines(tagger, { holdMs: 500 })).subscribe((line) => ship(line));
 * ```
 */
export function tagLogLines(tagger: Tagger, options: TagLogLinesOptions = {}): OperatorFunction<LogLine, TaggedLogLine> {
  const o = resolve(options);
  return (source) =>
    defer(() => {
      // A source error waits until every held line is out, then errors the output.
      let failure: { readonly error: unknown } | undefined;
      const lines$ = source.pipe(
        catchError((error: unknown) => {
          failure = { error };
          return EMPTY;
        }),
      );
      return concat(
        lines$.pipe(
          groupBy((line) => line.containerId, { duration: (group) => group.pipe(debounceTime(o.idleMs, o.scheduler)) }),
          mergeMap((group) => holdContainer(tagger, group, o)),
        ),
        defer(() => (failure === undefined ? EMPTY : throwError(() => failure?.error))),
      );
    });
}

/** One container's lines (one group of `groupBy`): held, then passed, with one `lookup$`. */
function holdContainer(tagger: Tagger, group: GroupedObservable<string, LogLine>, o: Resolved): Observable<TaggedLogLine> {
  return new Observable<TaggedLogLine>((subscriber) => {
    const id = group.key;
    const entity = containerId(id);
    const subscriptions = new Subscription();
    let held: LogLine[] | undefined = []; // undefined once the hold is over
    let latest: TagLookup | undefined; // lookup$'s last answer
    let linesDone = false;
    let deadline: Subscription | undefined;
    const holding = (): boolean => held !== undefined;

    // lookup$ answers after any fetch on miss: until then, what is stored.
    const current = (): { readonly tags: readonly string[]; readonly complete: boolean } =>
      latest === undefined ? { tags: tagger.storedTags(entity, o.cardinality), complete: false } : { tags: latest.tags, complete: latest.complete };

    const release = (reason: HoldEnd): void => {
      if (held === undefined) return;
      const lines = held;
      held = undefined;
      deadline?.unsubscribe();
      const { tags, complete } = current();
      o.counters.released[reason] += lines.length;
      for (const line of lines) subscriber.next({ ...line, tags, complete, heldUntil: reason });
      if (linesDone) subscriber.complete();
    };

    subscriptions.add(
      tagger.lookup$(entity, o.cardinality).subscribe({
        next: (answer) => {
          latest = answer;
          if (answer.complete) release('complete');
        },
        complete: () => {
          release('tagger-stopped');
        },
        error: (error: unknown) => {
          o.logger.warn('tagLogLines: look-up failed; lines pass with the tags stored', { containerId: id.slice(0, 200), error: String(error) });
          release('lookup-failed');
        },
      }),
    );
    // lookup$ may have ended the hold already (an answer at subscription, or a refused id).
    if (holding()) {
      deadline = o.scheduler.schedule(() => {
        release('deadline');
      }, o.holdMs);
      subscriptions.add(deadline);
    }
    subscriptions.add(
      group.subscribe({
        next: (line) => {
          if (held === undefined) {
            o.counters.passed += 1;
            subscriber.next({ ...line, ...current() });
            return;
          }
          held.push(line);
          if (held.length > o.maxHeld) {
            o.logger.warn('tagLogLines: too many lines held; released with the tags so far', { containerId: id.slice(0, 200), lines: held.length, cap: o.maxHeld });
            release('cap');
          }
        },
        complete: () => {
          linesDone = true;
          if (held === undefined) subscriber.complete();
        },
        error: (error: unknown) => {
          subscriber.error(error);
        },
      }),
    );
    return subscriptions;
  });
}

// --- The runnable part ------------------------------------------------------------------------------

const RUNTIME_TAGS: Record<string, TagInfo> = {
  'web-1': tagInfo({ entity: containerId('web-1'), source: 'runtime', low: ['image_name:nginx'], high: ['container_name:web-1'] }),
  'db-1': tagInfo({ entity: containerId('db-1'), source: 'runtime', low: ['image_name:postgres'], high: ['container_name:db-1'] }),
  'legacy-1': tagInfo({ entity: containerId('legacy-1'), source: 'runtime', low: ['image_name:cron'], high: ['container_name:legacy-1'] }),
};
const ORCHESTRATOR_TAGS: Record<string, TagInfo> = {
  'web-1': tagInfo({ entity: containerId('web-1'), source: 'orchestrator', orchestrator: ['kube_namespace:shop', 'pod_name:web-1-7d4f'] }),
  'db-1': tagInfo({ entity: containerId('db-1'), source: 'orchestrator', orchestrator: ['kube_namespace:shop', 'pod_name:db-0'] }),
  // legacy-1 runs outside the orchestrator: it never knows it ("not found").
};

/** [at ms, container, message]: web-1 starts at 0, db-1 at 150, legacy-1 at 400. */
const SCRIPT: readonly (readonly [number, string, string])[] = [
  [0, 'web-1', 'nginx: starting'],
  [40, 'web-1', 'nginx: listening on :80'],
  [150, 'db-1', 'postgres: database system is starting up'],
  [200, 'web-1', 'GET /healthz 200'],
  [250, 'db-1', 'postgres: ready to accept connections'],
  [400, 'legacy-1', 'cron: started'],
  [500, 'web-1', 'GET / 200'],
  [600, 'db-1', 'postgres: checkpoint starting'],
  [700, 'legacy-1', 'cron: job nightly scheduled'],
  [1200, 'legacy-1', 'cron: tick'],
];

/** Runs the simulation: a runtime stream, a fetch-only orchestrator answering after 300 ms. */
function main(): void {
  const durationFlag = process.argv.indexOf('--duration');
  const duration = durationFlag > 0 ? Number(process.argv[durationFlag + 1]) : 3000;
  const started = Date.now();

  // The runtime reports each container as it starts (a line's time is its container's start or later).
  const runtime$ = new Observable<TagInfo>((subscriber) => {
    const timers = Object.entries(RUNTIME_TAGS).map(([id, info]) =>
      setTimeout(() => {
        subscriber.next(info);
      }, SCRIPT.find(([, c]) => c === id)?.[0] ?? 0),
    );
    return () => {
      timers.forEach(clearTimeout);
    };
  });
  const runtime: Collector = { ...streamCollector('runtime', runtime$, { priority: SourcePriority.NodeRuntime }), covers: ['container_id'] };
  const orchestrator: Collector = {
    source: 'orchestrator',
    priority: SourcePriority.NodeOrchestrator,
    mode: 'fetch',
    fetch: (entity) => timer(300).pipe(mergeMap(() => Object.values(ORCHESTRATOR_TAGS).filter((info) => info.entity === entity))),
    covers: ['container_id'],
  };
  const tagger = createTagger({ collectors: [runtime, orchestrator], logger: silentLogger });
  tagger.start();

  const lines$ = new Observable<LogLine>((subscriber) => {
    const timers = SCRIPT.map(([at, id, message]) =>
      setTimeout(() => {
        subscriber.next({ containerId: id, time: started + at, message });
      }, at),
    );
    const end = setTimeout(() => {
      subscriber.complete();
    }, duration);
    return () => {
      timers.forEach(clearTimeout);
      clearTimeout(end);
    };
  });

  const counters = tagLogLinesCounters();
  lines$
    .pipe(
      tagLogLines(tagger, { holdMs: 500, counters }),
      map((line) => {
        const out = `+${String(Date.now() - started).padStart(4)}ms  ${line.containerId.padEnd(8)}  (written +${String(line.time - started).padStart(4)}ms) ${line.message}`;
        const held = line.heldUntil === undefined ? 'passed' : `held until ${line.heldUntil}`;
        return `${out}\n          ${held}, complete: ${String(line.complete)}, tags: [${line.tags.join(', ')}]`;
      }),
    )
    .subscribe({
      next: (text) => {
        console.log(text);
      },
      complete: () => {
        console.log('counters', JSON.stringify(counters));
        tagger.stop();
      },
    });
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) main();
