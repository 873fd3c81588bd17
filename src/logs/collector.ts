import { from, mergeMap, type Observable, ReplaySubject, takeUntil } from 'rxjs';
import { cachingCoordinator } from './cache.js';
import { bundleScanner, type IndexedBundle } from './codec.js';
import { resolveCollectorSettings, type LogCollectorOptions } from './collector-options.js';
import {
  type CollectorEvent,
  type CollectorState,
  countDrop,
  dropSummary,
  initialCollectorState,
  type LogCollectorStats,
  type MessageDrops,
  NO_DROPS,
  reduceCollectorState,
  streamVerdict,
} from './collector-state.js';
import type { Coordinator, LogStreamState } from './coordinator.js';
import {
  attempt,
  CollectorClosedError,
  CoordinatorError,
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
import { planEntry } from './entry-plan.js';
import { unpackMessage } from './message.js';
import type { BundleEntry, ButlerMetadata } from './types.js';
import { projectNameError, secretError, streamNameError } from './validate.js';
import { runAll, type TurnTaker, turnTaker } from './work-pool.js';

export { DEFAULT_MAX_MESSAGE_WORKERS } from './collector-options.js';
export type { LogCollectorOptions } from './collector-options.js';
export type { LogCollectorStats } from './collector-state.js';

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

/** Top-level bundle fields scanned between two checks of the clock. */
const SCAN_STEP = 1024;

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
 * backend's error was. Its parts: the options (collector-options.ts), the state machine — open or
 * closed, the counters, what becomes of an entry once its stream is known — (collector-state.ts),
 * each entry's rules (entry-plan.ts); this function is the IO between them.
 *
 * @example
 * ```ts
 * const collector = createLogCollector({ coordinator: memoryCoordinator(), storage: memoryStorage() });
 * await collector.process(encodeMessage(bundle));
 * ```
 */
export function createLogCollector(options: LogCollectorOptions): LogCollector {
  const settings = resolveCollectorSettings(options);
  const { workers, logger, storage } = settings;
  const coordinator: Coordinator =
    settings.streamStateCacheExpire > 0
      ? cachingCoordinator(settings.coordinator, {
          expire: settings.streamStateCacheExpire,
          logger,
          ...(settings.streamStateCacheSize === undefined ? {} : { size: settings.streamStateCacheSize }),
          ...(settings.scheduler === undefined ? {} : { scheduler: settings.scheduler }),
        })
      : settings.coordinator;

  let state: CollectorState = initialCollectorState();
  const dispatch = (event: CollectorEvent): void => {
    state = reduceCollectorState(state, event);
  };
  const inFlight = new Set<Promise<void>>();
  const closing$ = new ReplaySubject<void>(1);

  /** What the entries of one message share. */
  interface MessageWork {
    readonly bundle: IndexedBundle;
    readonly metadata: ButlerMetadata;
    /** Why the bundle's secret is invalid (it is checked once per message), or undefined. */
    readonly badSecret: string | undefined;
    /** The message's failures: counted all, the first few kept and logged. */
    readonly tally: FailureTally;
    /** Entries of this message dropped (not failed): logged for the first few, then summed up. */
    drops: MessageDrops;
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
    dispatch({ type: 'entry-refused' });
    if (work.tally.full) work.tally.countOnly(`InvalidEntry:${reason}`, false);
    else report(work, new InvalidEntryError(reason, describe(), path));
  }

  async function processEntry(work: MessageWork, entry: BundleEntry): Promise<void> {
    const { bundle, metadata } = work;
    const plan = planEntry(bundle.prefix, work.badSecret, entry);
    if (plan.kind === 'skip') {
      dispatch({ type: 'entry-skipped' });
      logger.debug('logs: bundle entry is non-terminal and has no logs; skipped');
      return;
    }
    if (plan.kind === 'refuse') {
      refuse(work, plan.reason, plan.describe, plan.path);
      return;
    }
    const { descriptor, path, first, data } = plan;

    const request: LogStreamState = {
      project: bundle.project,
      path,
      protoVersion: metadata.protoVersion,
      secret: bundle.secret,
      terminalIndex: entry.terminal ? entry.terminalIndex : -1,
      archived: false,
      purged: false,
    };
    let stream: LogStreamState;
    try {
      stream = await attempt(() => coordinator.registerStream(request, descriptor));
    } catch (error) {
      report(work, asCoordinatorError('register', error), { path });
      return;
    }
    const verdict = streamVerdict(stream, bundle.secret, entry);
    if (verdict.kind !== 'store') {
      const why = verdict.kind;
      dispatch({ type: 'entry-dropped', why });
      const counted = countDrop(work.drops, why);
      work.drops = counted.drops;
      if (!counted.log) return;
      if (verdict.kind === 'wrong-secret') logger.warn('logs: bundle entry has the wrong secret for its stream; dropped', { path });
      else logger.info(`logs: stream is ${verdict.status}; bundle entry dropped`, { path });
      return;
    }
    if (verdict.terminalMismatch) {
      logger.warn('logs: terminal index disagrees with the coordinator', {
        path,
        coordinator: stream.terminalIndex,
        bundle: entry.terminalIndex,
      });
    }

    const tasks: Promise<void>[] = [];
    if (data.length > 0) {
      tasks.push(
        attempt(() => storage.put({ project: bundle.project, path, index: first, entries: data })).then(
          (stored) => {
            dispatch({ type: 'logs-stored', count: stored });
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
        secret: stream.secret,
        terminalIndex: entry.terminalIndex,
        ...(stream.id === undefined ? {} : { id: stream.id }),
      };
      tasks.push(
        attempt(() => coordinator.terminateStream(terminate)).catch((error: unknown) => {
          report(work, asCoordinatorError('terminate', error), { path });
        }),
      );
    }
    await Promise.all(tasks);
  }

  /** Reads a message's bundle a step at a time (yielding on a long one); undefined when the message is dropped. */
  async function readBundle(message: Uint8Array, turn: TurnTaker): Promise<{ metadata: ButlerMetadata; bundle: IndexedBundle } | undefined> {
    try {
      const { metadata, data } = unpackMessage(message);
      // Only where each entry lies is kept, and entries are decoded one by one as they are worked on.
      const scanner = bundleScanner(data);
      for (;;) {
        let bundle: IndexedBundle | undefined;
        try {
          bundle = scanner.step(SCAN_STEP);
        } catch (cause) {
          throw new MessageDecodeError('bundle', `malformed bundle: ${String(cause)}`, { cause });
        }
        if (bundle !== undefined) return { metadata, bundle };
        if (turn.due()) await turn.pause();
      }
    } catch (error) {
      if (!(error instanceof MessageDecodeError)) throw error;
      dispatch({ type: 'message-dropped', reason: error.reason });
      logger.warn(`logs: message dropped: ${error.message}`, { reason: error.reason, bytes: message.length });
      return undefined;
    }
  }

  async function run(message: Uint8Array): Promise<void> {
    const turn = turnTaker();
    const read = await readBundle(message, turn);
    if (read === undefined) return;
    const { metadata, bundle } = read;
    const badProject = projectNameError(bundle.project);
    if (badProject !== undefined) throw new InvalidBundleError('project', clipValue(bundle.project), badProject);
    const badPrefix = streamNameError(bundle.prefix);
    if (badPrefix !== undefined) throw new InvalidBundleError('prefix', clipValue(bundle.prefix), badPrefix);
    dispatch({ type: 'bundle-read', entries: bundle.entryCount });
    if (bundle.entryCount === 0) return;
    const work: MessageWork = {
      bundle,
      metadata,
      badSecret: secretError(bundle.secret),
      tally: new FailureTally(),
      drops: NO_DROPS,
    };
    await runAll(
      bundle.entryCount,
      workers,
      turn,
      (i) => processEntry(work, bundle.entry(i)),
      (error) => {
        report(work, error instanceof LogsError ? error : new UnexpectedError(error));
      },
    );
    const dropped = dropSummary(work.drops);
    if (dropped !== undefined) {
      logger.warn(`logs: bundle entries of one message dropped: ${dropped.wrongSecret} wrong secret, ${dropped.archived} archived or purged`, dropped);
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
    if (state.closed) return Promise.reject(new CollectorClosedError());
    dispatch({ type: 'message-started' });
    const work = run(message).catch((error: unknown) => {
      const failure = error instanceof LogsError ? error : new UnexpectedError(error);
      dispatch({ type: 'message-failed', transient: failure.transient });
      throw failure;
    });
    inFlight.add(work);
    const done = (): void => {
      inFlight.delete(work);
      dispatch({ type: 'message-settled' });
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
      if (!state.closed) {
        dispatch({ type: 'closed' });
        closing$.next();
        closing$.complete();
      }
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    stats: () => ({ ...state.stats, dropped: { ...state.stats.dropped } }),
  };
}
