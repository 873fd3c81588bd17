import { setImmediate as nextTurn } from 'node:timers/promises';
import { from, mergeMap, type Observable, ReplaySubject, type SchedulerLike, takeUntil } from 'rxjs';
import { consoleLogger, type Logger } from '../util/logger.js';
import { cachingCoordinator, DEFAULT_STREAM_STATE_CACHE_EXPIRE } from './cache.js';
import { bundleScanner, encodeLogEntry, type IndexedBundle } from './codec.js';
import type { Coordinator, LogStreamState } from './coordinator.js';
import {
  attempt,
  CollectorClosedError,
  CoordinatorError,
  type DecodeFailure,
  FailureTally,
  InvalidBundleError,
  InvalidEntryError,
  type InvalidEntryReason,
  isTransient,
  LogsError,
  MAX_SAMPLE_ERRORS,
  MessageDecodeError,
  StorageError,
  UnexpectedError,
} from './errors.js';
import { unpackMessage } from './message.js';
import type { Storage } from './storage.js';
import type { BundleEntry, ButlerMetadata } from './types.js';
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

/**
 * How long one message may hold the thread before it lets timers and IO run: a bundle of hundreds
 * of thousands of entries takes seconds to work through, and must not starve everything else.
 */
const YIELD_AFTER_MS = 10;

/** Top-level bundle fields scanned between two checks of the clock. */
const SCAN_STEP = 1024;

/** Tells when a message has held the thread long enough to yield; `pause()` yields. */
function turnTaker(): { due(): boolean; pause(): Promise<void> } {
  let since = performance.now();
  return {
    due: () => performance.now() - since >= YIELD_AFTER_MS,
    async pause() {
      await nextTurn();
      since = performance.now();
    },
  };
}

/**
 * Runs `work(0)` ... `work(count - 1)` with at most `limit` at once, yielding to the event loop
 * when `turn` says so; resolves when all are done. `work` reports its own failures; anything it
 * throws goes to `failed`.
 */
async function runAll(
  count: number,
  limit: number,
  turn: ReturnType<typeof turnTaker>,
  work: (i: number) => Promise<void>,
  failed: (error: unknown) => void,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        await work(i);
      } catch (error) {
        failed(error);
      }
      if (turn.due()) await turn.pause();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A value for an error message: quoted, and clipped (a bundle prefix may be 4 KiB). */
function quote(value: string, max = 64): string {
  return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, max))}… (${value.length} chars)`;
}

/** A bundle field for an error: whole up to 4 KiB + a margin, clipped beyond (hostile input). */
function clipValue(value: string): string {
  return value.length <= 4200 ? value : `${value.slice(0, 4200)}…`;
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


  /** What the entries of one message share. */
  interface MessageWork {
    readonly bundle: IndexedBundle;
    readonly metadata: ButlerMetadata;
    /** Why the bundle's secret is invalid (it is checked once per message), or undefined. */
    readonly badSecret: string | undefined;
    /** The message's failures: counted all, the first few kept and logged. */
    readonly tally: FailureTally;
    /** Entries of this message dropped (not failed): logged for the first few, then summed up. */
    readonly drops: { wrongSecret: number; archived: number };
  }

  /** Records a failure of an entry; logs it when it is one of the few the message keeps. */
  function report(work: MessageWork, error: LogsError, fields: Record<string, unknown> = {}): void {
    if (!work.tally.add(error)) return;
    const path = error instanceof InvalidEntryError ? error.path : undefined;
    const at = { ...fields, ...(path === undefined ? {} : { path }), transient: error.transient };
    if (error instanceof InvalidEntryError) logger.warn(`logs: invalid bundle entry: ${error.message}`, { reason: error.reason, ...at });
    else logger.error(`logs: ${error.message}`, at);
  }

  /**
   * Refuses an entry that breaks a rule (permanent). Once the message keeps no more failures
   * whole, the entry is only counted: no error, no message built (a hostile bundle holds hundreds
   * of thousands of them).
   */
  function refuse(work: MessageWork, reason: InvalidEntryReason, describe: () => string, path?: string): void {
    stats.invalidEntries++;
    if (work.tally.full) work.tally.countOnly(`InvalidEntry:${reason}`, false);
    else report(work, new InvalidEntryError(reason, describe(), path));
  }

  async function processEntry(work: MessageWork, entry: BundleEntry): Promise<void> {
    const { bundle, metadata } = work;
    if (entry.logs.length === 0 && !entry.terminal) {
      stats.skippedEntries++;
      logger.debug('logs: bundle entry is non-terminal and has no logs; skipped');
      return;
    }
    if (work.badSecret !== undefined) {
      refuse(work, 'secret', () => `invalid prefix secret: ${String(work.badSecret)}`);
      return;
    }
    if (entry.desc === undefined) {
      refuse(work, 'descriptor', () => 'invalid descriptor: missing');
      return;
    }
    if (entry.desc.prefix !== '' && entry.desc.prefix !== bundle.prefix) {
      const entryPrefix = entry.desc.prefix;
      refuse(
        work,
        'prefix-mismatch',
        () => `mismatched bundle and entry prefixes: ${quote(bundle.prefix)} != ${quote(entryPrefix)}`,
      );
      return;
    }
    const desc = entry.desc.prefix === '' ? { ...entry.desc, prefix: bundle.prefix } : entry.desc;
    const badDesc = descriptorError(desc);
    if (badDesc !== undefined) {
      refuse(work, 'descriptor', () => `invalid descriptor: ${badDesc.length > 300 ? `${badDesc.slice(0, 300)}…` : badDesc}`);
      return;
    }
    const path = streamPath(desc.prefix, desc.name);

    const first = entry.logs[0]?.streamIndex ?? 0;
    const data: Uint8Array[] = [];
    for (const [i, log] of entry.logs.entries()) {
      const badLog = logEntryError(log, desc.streamType);
      if (badLog !== undefined) {
        refuse(work, 'log-entry', () => `invalid log entry ${log.streamIndex}: ${badLog}`, path);
        return;
      }
      if (log.streamIndex !== first + i) {
        refuse(
          work,
          'non-contiguous',
          () => `non-contiguous log entry block: expected index ${first + i}, got ${log.streamIndex}`,
          path,
        );
        return;
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
      report(work, asCoordinatorError('register', error), { path });
      return;
    }
    if (!equalBytes(state.secret, bundle.secret)) {
      stats.wrongSecret++;
      if (++work.drops.wrongSecret <= MAX_SAMPLE_ERRORS) {
        logger.warn('logs: bundle entry has the wrong secret for its stream; dropped', { path });
      }
      return;
    }
    if (state.archived || state.purged) {
      stats.archived++;
      if (++work.drops.archived <= MAX_SAMPLE_ERRORS) {
        logger.info(`logs: stream is ${state.archived ? 'archived' : 'purged'}; bundle entry dropped`, { path });
      }
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
            report(work, asStorageError(error), { path, index: first });
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
          report(work, asCoordinatorError('terminate', error), { path });
        }),
      );
    }
    await Promise.all(tasks);
  }

  async function run(message: Uint8Array): Promise<void> {
    stats.messages++;
    const turn = turnTaker();
    let metadata: ButlerMetadata;
    let bundle: IndexedBundle | undefined;
    try {
      let data: Uint8Array;
      ({ metadata, data } = unpackMessage(message));
      // The bundle is read a step at a time, yielding on a long one; only where each entry lies
      // is kept, and entries are decoded one by one as they are worked on.
      const scanner = bundleScanner(data);
      for (;;) {
        try {
          bundle = scanner.step(SCAN_STEP);
        } catch (cause) {
          throw new MessageDecodeError('bundle', `malformed bundle: ${String(cause)}`, { cause });
        }
        if (bundle !== undefined) break;
        if (turn.due()) await turn.pause();
      }
    } catch (error) {
      if (!(error instanceof MessageDecodeError)) throw error;
      stats.dropped[error.reason]++;
      logger.warn(`logs: message dropped: ${error.message}`, { reason: error.reason, bytes: message.length });
      return;
    }
    const indexed = bundle;
    const badProject = projectNameError(indexed.project);
    if (badProject !== undefined) throw new InvalidBundleError('project', clipValue(indexed.project), badProject);
    const badPrefix = streamNameError(indexed.prefix);
    if (badPrefix !== undefined) throw new InvalidBundleError('prefix', clipValue(indexed.prefix), badPrefix);
    stats.bundleEntries += indexed.entryCount;
    if (indexed.entryCount === 0) return;
    const work: MessageWork = {
      bundle: indexed,
      metadata,
      badSecret: secretError(indexed.secret),
      tally: new FailureTally(),
      drops: { wrongSecret: 0, archived: 0 },
    };
    await runAll(
      indexed.entryCount,
      workers,
      turn,
      (i) => processEntry(work, indexed.entry(i)),
      (error) => {
        report(work, error instanceof LogsError ? error : new UnexpectedError(error));
      },
    );
    const { wrongSecret, archived } = work.drops;
    if (wrongSecret > MAX_SAMPLE_ERRORS || archived > MAX_SAMPLE_ERRORS) {
      logger.warn(`logs: bundle entries of one message dropped: ${wrongSecret} wrong secret, ${archived} archived or purged`, {
        wrongSecret,
        archived,
      });
    }
    const failure = work.tally.result();
    if (failure === undefined) return;
    if (work.tally.size > MAX_SAMPLE_ERRORS) {
      logger.warn(`logs: ${work.tally.size} bundle entries of one message failed; the first ${MAX_SAMPLE_ERRORS} were logged`, {
        counts: work.tally.kinds(),
        transient: failure.transient,
      });
    }
    throw failure;
  }

  function process(message: Uint8Array): Promise<void> {
    if (closed) return Promise.reject(new CollectorClosedError());
    const work = run(message).catch((error: unknown) => {
      const failure = error instanceof LogsError ? error : new UnexpectedError(error);
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
