import { asyncScheduler, filter, merge, Subject, takeUntil, tap } from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import type { Batch } from './batch.js';
import { batch } from './batch.js';
import type { Entry } from './entry.js';
import { isEntry } from './entry.js';
import type { Preprocessor } from './preprocess.js';
import { preprocessWith } from './preprocess.js';
import type { Processor, RegisterOptions } from './router.js';
import { route, Router } from './router.js';
import type { ScrubOptions } from './scrub-secrets.js';
import { scrubSecrets } from './scrub-secrets.js';
import { PipelineTelemetry } from './telemetry.js';
import type { Logger } from '../util/logger.js';
import { consoleLogger } from '../util/logger.js';

/**
 * A processor with its buffer and overflow options, for {@link pipeline}.
 *
 * @example
 * ```ts
 * const archive: ProcessorRegistration = { processor: ndjsonProcessor(file), buffer: 64, overflow: 'block' };
 * ```
 */
export interface ProcessorRegistration extends RegisterOptions {
  readonly processor: Processor;
}

/**
 * Options of {@link pipeline}.
 *
 * @example
 * ```ts
 * const options: PipelineOptions = { readers: [kubernetesReader(kc, 'pod')], processors: { log: (b) => { console.log(b.length); } } };
 * ```
 */
export interface PipelineOptions {
  /** The sources of entries, merged (e.g. one {@link kubernetesReader} per kind). */
  readonly readers: readonly Observable<Entry>[];
  /** Options of the secret scrubber, which always runs first (default: every literal env value). */
  readonly scrub?: Omit<ScrubOptions, 'telemetry'>;
  /** Preprocessing steps, in order (default none). */
  readonly preprocessors?: readonly Preprocessor[];
  /** Batch limits (defaults: 1000 entries, 1000 ms). */
  readonly batch?: { readonly maxItems?: number; readonly maxTime?: number };
  /** The processors by name: a processor, or one with its buffer and overflow options. */
  readonly processors?: Readonly<Record<string, Processor | ProcessorRegistration>>;
  /** Where refusals, drops and failures are logged (default: the console at `warn`). */
  readonly logger?: Logger;
  /** The counters (default: a new one, exposed as `telemetry`). */
  readonly telemetry?: PipelineTelemetry;
  /** The scheduler of the batch timer and the lag clock (default `asyncScheduler`). */
  readonly scheduler?: SchedulerLike;
  /**
   * The most batches held while a `block` processor is full (default 64; see
   * `RouterOptions.maxPending`).
   */
  readonly maxPending?: number;
}

/**
 * A wired pipeline.
 *
 * @example
 * ```ts
 * const p = pipeline(options);
 * const done = lastValueFrom(p.run$, { defaultValue: undefined });
 * p.stop();
 * await done;
 * ```
 */
export interface Pipeline {
  /**
   * Runs the pipeline while subscribed (subscribe once): emits each batch once it has been handed
   * to every processor; completes after {@link Pipeline.stop} (or when every reader completes),
   * once held entries are flushed and every processor finished.
   */
  readonly run$: Observable<Batch>;
  /** The router: register or unregister processors while the pipeline runs. */
  readonly router: Router;
  /** Entries in, scrubbed, dropped per reason and processor, batch sizes, lag. */
  readonly telemetry: PipelineTelemetry;
  /** Ends the readers: the chain flushes and `run$` completes. Idempotent. */
  stop(): void;
}

const isRegistration = (p: Processor | ProcessorRegistration): p is ProcessorRegistration =>
  typeof p === 'object' && 'processor' in p;

/**
 * Wires the whole chain: readers -> scrubSecrets -> preprocess -> batch -> route -> processors,
 * with telemetry. Values from a reader that are not entries (no uid, unknown change) are refused,
 * counted as `invalid-entry` and logged.
 *
 * @example
 * ```ts
 * const kc = new KubeConfig();
 * kc.loadFromDefault();
 * const p = pipeline({
 *   readers: [kubernetesReader(kc, 'pod'), kubernetesReader(kc, 'node')],
 *   preprocessors: [stripManagedFields],
 *   batch: { maxItems: 500, maxTime: 2000 },
 *   processors: {
 *     archive: { processor: ndjsonProcessor('/var/lib/k8s.ndjson'), overflow: 'block' },
 *     metrics: (batch) => { gauge.inc(batch.length); },
 *   },
 * });
 * p.run$.subscribe();
 * process.on('SIGTERM', () => p.stop());
 * ```
 */
export function pipeline(options: PipelineOptions): Pipeline {
  const logger = options.logger ?? consoleLogger('warn');
  const telemetry = options.telemetry ?? new PipelineTelemetry();
  const scheduler = options.scheduler ?? asyncScheduler;
  const router = new Router({
    logger,
    telemetry,
    now: () => scheduler.now(),
    ...(options.maxPending === undefined ? {} : { maxPending: options.maxPending }),
  });
  for (const [name, p] of Object.entries(options.processors ?? {})) {
    if (isRegistration(p)) {
      const { processor, ...registerOptions } = p;
      router.register(name, processor, registerOptions);
    } else {
      router.register(name, p);
    }
  }
  const stop$ = new Subject<void>();
  const run$ = merge(...options.readers.map((reader) => reader.pipe(takeUntil(stop$)))).pipe(
    filter((value: unknown): value is Entry => {
      if (isEntry(value)) return true;
      telemetry.dropped('invalid-entry');
      logger.warn('refused a value that is not an entry (no uid, or no object, or an unknown change)', {
        uid: typeof value === 'object' && value !== null ? (value as { uid?: unknown }).uid : undefined,
      });
      return false;
    }),
    tap((entry) => {
      telemetry.entryIn(entry.kind);
    }),
    scrubSecrets({ ...options.scrub, telemetry }),
    preprocessWith({ logger, telemetry }, ...(options.preprocessors ?? [])),
    batch({ maxItems: options.batch?.maxItems ?? 1000, maxTime: options.batch?.maxTime ?? 1000, scheduler, telemetry, logger }),
    route(router),
  );
  return {
    run$,
    router,
    telemetry,
    stop: () => {
      stop$.next();
      stop$.complete();
    },
  };
}
