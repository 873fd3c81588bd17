import { from, mergeMap, type Observable, ReplaySubject, type SchedulerLike, takeUntil } from 'rxjs';
import { consoleLogger, type Logger } from '../util/logger.js';
import { cachingCoordinator, DEFAULT_STREAM_STATE_CACHE_EXPIRE } from './cache.js';
import { encodeLogEntry } from './codec.js';
import type { Coordinator, LogStreamState } from './coordinator.js';
import {
  attempt,
  BundleEntriesError,
  CollectorClosedError,
  CoordinatorError,
  type DecodeFailure,
  InvalidBundleError,
  InvalidEntryError,
  isTransient,
  LogsError,
  MessageDecodeError,
  StorageError,
  UnexpectedError,
} from './errors.js';
import { decodeMessage } from './message.js';
import type { Storage } from './storage.js';
import type { BundleEntry, ButlerLogBundle, ButlerMetadata } from './types.js';
import {
  descriptorError,
  logEntryError,
  projectNameError,
  secretError,
  streamNameError,
  streamPath,
} from './validate.js';

/** The default number of messages, and of entries of one message, worked on at once. */
export const DEFAULT_MAX_MESSAGE_WORKERS = 4;

/** Options of {@link createLogCollector}. */
export interface LogCollectorOptions {
  /** The stream registry. The collector wraps it in {@link cachingCoordinator} (see below). */
  readonly coordinator: Coordinator;
  readonly storage: Storage;
  /** Messages in flight in `collect`, and entries of one message worked on at once. Default 4. */
  readonly maxMessageWorkers?: number;
  /**
   * How long a stream's coordinator state is cached, in ms. Default 10 minutes. 0 turns the cache
   * off (every bundle entry asks the coordinator: for a coordinator that caches itself).
   */
  readonly streamStateCacheExpire?: number;
  /** The most streams the cache holds. Default 1,048,576. */
  readonly streamStateCacheSize?: number;
  /** Default `consoleLogger('warn')`. */
  readonly logger?: Logger;
  /** The cache's clock (`now()`). Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/** A transport's message: its bytes, or an object carrying them as `data`. */
export type CollectorMessage = Uint8Array | { readonly data: Uint8Array };

/**
 * What `collect` made of one message. `redeliver` says what to tell the transport: true (NACK)
 * after a transient failure, false (ACK) after success, a drop or a permanent failure.
 */
export interface CollectOutcome<M> {
  readonly message: M;
  readonly redeliver: boolean;
  /** The failure, when `process` rejected. */
  readonly error?: Error;
}

/** Counters since the collector was made. */
export interface LogCollectorStats {
  /** Messages taken by `process`. */
  readonly messages: number;
  /** Messages dropped because they could not be decoded, by reason. */
  readonly dropped: Readonly<Record<DecodeFailure, number>>;
  /** Bundle entries seen. */
  readonly bundleEntries: number;
  /** Non-terminal bundle entries without logs, skipped. */
  readonly skippedEntries: number;
  /** Bundle entries refused by a rule (permanent). */
  readonly invalidEntries: number;
  /** Bundle entries dropped because their secret is not the stream's. */
  readonly wrongSecret: number;
  /** Bundle entries dropped because their stream is archived or purged. */
  readonly archived: number;
  /** Log entries newly stored. */
  readonly logsStored: number;
  /** Messages rejected with a transient error. */
  readonly transientErrors: number;
  /** Messages rejected with a permanent error. */
  readonly permanentErrors: number;
  /** Messages being processed now. */
  readonly inFlight: number;
}

/**
 * A log collector: it decodes LogDog messages, registers each stream with the coordinator and
 * stores the entries.
 */
export interface LogCollector {
  /**
   * Ingests one message. Resolves when it is done — stored, or dropped because it cannot be
   * decoded (counted and logged: retrying cannot help). Rejects with a {@link LogsError}: a
   * `transient` one means the message should be redelivered, a permanent one that it should not.
   */
  process(message: Uint8Array): Promise<void>;
  /**
   * An operator for a transport's messages: processes them with at most `maxMessageWorkers` in
   * flight and emits one outcome per message (it never errors on a message's failure). After
   * `close()` it takes no more messages and completes once those in flight are done.
   *
   * @example
   * ```ts
   * transport.messages$.pipe(collector.collect).subscribe(({ message, redeliver }) =>
   *   redeliver ? message.nack() : message.ack());
   * ```
   */
  readonly collect: <M extends CollectorMessage>(messages$: Observable<M>) => Observable<CollectOutcome<M>>;
  /** Stops taking messages; resolves when every message in flight is done. Idempotent. */
  close(): Promise<void>;
  stats(): LogCollectorStats;
}

type MutableStats = { -readonly [K in keyof LogCollectorStats]: LogCollectorStats[K] } & {
  dropped: Record<DecodeFailure, number>;
};

/** Runs `work` on every item with at most `limit` at once; resolves with the failures. */
async function settleAll<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<unknown[]> {
  const failures: unknown[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      try {
        await work(item);
      } catch (error) {
        failures.push(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return failures;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function asCoordinatorError(operation: 'register' | 'terminate', error: unknown): CoordinatorError {
  if (error instanceof CoordinatorError) return error;
  return new CoordinatorError(operation, `coordinator ${operation} failed: ${messageOf(error)}`, {
    transient: isTransient(error),
    cause: error,
  });
}

function asStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError('put', `storage put failed: ${messageOf(error)}`, {
    transient: isTransient(error),
    cause: error,
  });
}

/** One LogsError from several failures: itself when one, a BundleEntriesError (flattened) else. */
function combine(failures: readonly unknown[]): LogsError | undefined {
  const errors = failures.flatMap((f): LogsError[] => {
    if (f instanceof BundleEntriesError) return [...f.errors];
    return [f instanceof LogsError ? f : new UnexpectedError(f)];
  });
  if (errors.length === 0) return undefined;
  return errors.length === 1 ? errors[0] : new BundleEntriesError(errors);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Makes a log collector. The rules, after LogDog's collector:
 *
 * - a message that cannot be decoded, or has an unknown protocol version, is dropped (counted,
 *   logged) and `process` resolves;
 * - an invalid bundle project or prefix rejects, permanent;
 * - the bundle's entries are worked on in parallel, up to `maxMessageWorkers`; one bad entry does
 *   not stop the others, and the message then rejects with the entries' errors;
 * - a non-terminal entry without logs is skipped; the secret must be 36 bytes; the descriptor's
 *   prefix must equal the bundle's (it is filled in when empty); the descriptor must be valid;
 *   log entries must match the stream type and be contiguous by stream index;
 * - the stream (`prefix/+/name`) is registered with the coordinator; if the coordinator holds
 *   another secret for it, or it is archived or purged, the entry is dropped;
 * - entries are stored (idempotently) and a terminal entry's index is sent to the coordinator.
 *
 * Backend failures reject with a `CoordinatorError` or `StorageError` that is transient when the
 * backend's error was.
 *
 * @example
 * ```ts
 * const collector = createLogCollector({ coordinator: memoryCoordinator(), storage: memoryStorage() });
 * await collector.process(encodeMessage(bundle));
 * ```
 */
export function createLogCollector(options: LogCollectorOptions): LogCollector {
  const workers = Math.max(1, options.maxMessageWorkers ?? DEFAULT_MAX_MESSAGE_WORKERS);
  const logger = options.logger ?? consoleLogger('warn');
  const storage = options.storage;
  const expire = options.streamStateCacheExpire ?? DEFAULT_STREAM_STATE_CACHE_EXPIRE;
  const coordinator =
    expire > 0
      ? cachingCoordinator(options.coordinator, {
          expire,
          logger,
          ...(options.streamStateCacheSize === undefined ? {} : { size: options.streamStateCacheSize }),
          ...(options.scheduler === undefined ? {} : { scheduler: options.scheduler }),
        })
      : options.coordinator;

  const stats: MutableStats = {
    messages: 0,
    dropped: {
      frame: 0,
      metadata: 0,
      'content-type': 0,
      compression: 0,
      'too-large': 0,
      'unknown-version': 0,
      bundle: 0,
    },
    bundleEntries: 0,
    skippedEntries: 0,
    invalidEntries: 0,
    wrongSecret: 0,
    archived: 0,
    logsStored: 0,
    transientErrors: 0,
    permanentErrors: 0,
    inFlight: 0,
  };
  const inFlight = new Set<Promise<void>>();
  const closing$ = new ReplaySubject<void>(1);
  let closed = false;

  function invalid(reason: InvalidEntryError['reason'], message: string, path?: string): InvalidEntryError {
    stats.invalidEntries++;
    logger.warn(`logs: invalid bundle entry: ${message}`, path === undefined ? { reason } : { reason, path });
    return new InvalidEntryError(reason, message, path);
  }

  async function processEntry(bundle: ButlerLogBundle, metadata: ButlerMetadata, entry: BundleEntry): Promise<void> {
    if (entry.logs.length === 0 && !entry.terminal) {
      stats.skippedEntries++;
      logger.debug('logs: bundle entry is non-terminal and has no logs; skipped');
      return;
    }
    const badSecret = secretError(bundle.secret);
    if (badSecret !== undefined) throw invalid('secret', `invalid prefix secret: ${badSecret}`);
    if (entry.desc === undefined) throw invalid('descriptor', 'invalid descriptor: missing');
    if (entry.desc.prefix !== '' && entry.desc.prefix !== bundle.prefix) {
      throw invalid(
        'prefix-mismatch',
        `mismatched bundle and entry prefixes: ${JSON.stringify(bundle.prefix)} != ${JSON.stringify(entry.desc.prefix)}`,
      );
    }
    const desc = entry.desc.prefix === '' ? { ...entry.desc, prefix: bundle.prefix } : entry.desc;
    const badDesc = descriptorError(desc);
    if (badDesc !== undefined) throw invalid('descriptor', `invalid descriptor: ${badDesc}`);
    const path = streamPath(desc.prefix, desc.name);

    const first = entry.logs[0]?.streamIndex ?? 0;
    const data: Uint8Array[] = [];
    for (const [i, log] of entry.logs.entries()) {
      const badLog = logEntryError(log, desc.streamType);
      if (badLog !== undefined) throw invalid('log-entry', `invalid log entry ${log.streamIndex}: ${badLog}`, path);
      if (log.streamIndex !== first + i) {
        throw invalid(
          'non-contiguous',
          `non-contiguous log entry block: expected index ${first + i}, got ${log.streamIndex}`,
          path,
        );
      }
      data.push(encodeLogEntry(log));
    }

    const request: LogStreamState = {
      project: bundle.project,
      path,
      protoVersion: metadata.protoVersion,
      secret: bundle.secret,
      terminalIndex: entry.terminal ? entry.terminalIndex : -1,
      archived: false,
      purged: false,
    };
    let state: LogStreamState;
    try {
      state = await attempt(() => coordinator.registerStream(request, desc));
    } catch (error) {
      const failure = asCoordinatorError('register', error);
      logger.error(`logs: ${failure.message}`, { path, transient: failure.transient });
      throw failure;
    }
    if (!equalBytes(state.secret, bundle.secret)) {
      stats.wrongSecret++;
      logger.warn('logs: bundle entry has the wrong secret for its stream; dropped', { path });
      return;
    }
    if (state.archived || state.purged) {
      stats.archived++;
      logger.info(`logs: stream is ${state.archived ? 'archived' : 'purged'}; bundle entry dropped`, { path });
      return;
    }
    if (entry.terminal && state.terminalIndex >= 0 && state.terminalIndex !== entry.terminalIndex) {
      logger.warn('logs: terminal index disagrees with the coordinator', {
        path,
        coordinator: state.terminalIndex,
        bundle: entry.terminalIndex,
      });
    }

    const tasks: Promise<void>[] = [];
    if (data.length > 0) {
      tasks.push(
        attempt(() => storage.put({ project: bundle.project, path, index: first, entries: data })).then(
          (stored) => {
            stats.logsStored += stored;
          },
          (error: unknown) => {
            const failure = asStorageError(error);
            logger.error(`logs: ${failure.message}`, { path, index: first, transient: failure.transient });
            throw failure;
          },
        ),
      );
    }
    if (entry.terminal) {
      const terminate = {
        project: bundle.project,
        path,
        secret: state.secret,
        terminalIndex: entry.terminalIndex,
        ...(state.id === undefined ? {} : { id: state.id }),
      };
      tasks.push(
        attempt(() => coordinator.terminateStream(terminate)).catch((error: unknown) => {
          const failure = asCoordinatorError('terminate', error);
          logger.error(`logs: ${failure.message}`, { path, transient: failure.transient });
          throw failure;
        }),
      );
    }
    const results = await Promise.allSettled(tasks);
    const failure = combine(results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : [])));
    if (failure !== undefined) throw failure;
  }

  async function run(message: Uint8Array): Promise<void> {
    stats.messages++;
    let metadata: ButlerMetadata;
    let bundle: ButlerLogBundle;
    try {
      ({ metadata, bundle } = decodeMessage(message));
    } catch (error) {
      if (!(error instanceof MessageDecodeError)) throw error;
      stats.dropped[error.reason]++;
      logger.warn(`logs: message dropped: ${error.message}`, { reason: error.reason, bytes: message.length });
      return;
    }
    const badProject = projectNameError(bundle.project);
    if (badProject !== undefined) throw new InvalidBundleError('project', bundle.project, badProject);
    const badPrefix = streamNameError(bundle.prefix);
    if (badPrefix !== undefined) throw new InvalidBundleError('prefix', bundle.prefix, badPrefix);
    stats.bundleEntries += bundle.entries.length;
    if (bundle.entries.length === 0) return;
    const failure = combine(await settleAll(bundle.entries, workers, (entry) => processEntry(bundle, metadata, entry)));
    if (failure !== undefined) throw failure;
  }

  function process(message: Uint8Array): Promise<void> {
    if (closed) return Promise.reject(new CollectorClosedError());
    const work = run(message).catch((error: unknown) => {
      const failure = combine([error]) ?? new UnexpectedError(error);
      if (failure.transient) stats.transientErrors++;
      else stats.permanentErrors++;
      throw failure;
    });
    inFlight.add(work);
    stats.inFlight = inFlight.size;
    const done = (): void => {
      inFlight.delete(work);
      stats.inFlight = inFlight.size;
    };
    work.then(done, done);
    return work;
  }

  return {
    process,
    collect<M extends CollectorMessage>(messages$: Observable<M>): Observable<CollectOutcome<M>> {
      // close() ends the intake; mergeMap after it lets the messages in flight finish, by design.
      const taken$ = messages$.pipe(takeUntil(closing$));
      return taken$.pipe(
        mergeMap(
          (message) =>
            from(
              process(message instanceof Uint8Array ? message : message.data).then(
                (): CollectOutcome<M> => ({ message, redeliver: false }),
                (error: unknown): CollectOutcome<M> => ({
                  message,
                  redeliver: isTransient(error),
                  error: error instanceof Error ? error : new Error(String(error)),
                }),
              ),
            ),
          workers,
        ),
      );
    },
    async close() {
      if (!closed) {
        closed = true;
        closing$.next();
        closing$.complete();
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    stats: () => ({ ...stats, dropped: { ...stats.dropped } }),
  };
}
