/**
 * The errors of the log collector. Every one says whether it is `transient` — a backend that may
 * succeed later, so the transport should redeliver the message — or permanent, where retrying
 * cannot help and the message should be acknowledged. Branch on `tag` and `transient`, not on the
 * message.
 */
export abstract class LogsError extends Error {
  /** A stable discriminant for callers. */
  abstract readonly tag: string;
  /** True when the same message may succeed later: the caller should redeliver it. */
  abstract readonly transient: boolean;
}

/**
 * True when `error` says it is transient: a {@link LogsError} that is, or any error with a
 * `transient: true` property (so a backend can signal it without importing these classes).
 *
 * @example
 * ```ts
 * isTransient(new StorageError('put', 'connection lost', { transient: true })); // true
 * isTransient(new Error('boom')); // false
 * ```
 */
export function isTransient(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { transient?: unknown }).transient === true;
}

/**
 * Calls `call` and answers its promise; a `call` that throws instead of rejecting answers a
 * promise rejected with what it threw, unchanged — so a backend's failure is classified (by
 * {@link isTransient}) the same way whether it threw or rejected.
 *
 * @example
 * ```ts
 * await attempt(() => storage.put(request)); // rejects, never throws
 * ```
 */
export function attempt<T>(call: () => PromiseLike<T> | T): Promise<T> {
  try {
    return Promise.resolve(call());
  } catch (error) {
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- classified as thrown, not wrapped
    return Promise.reject(error);
  }
}

/** Why a message could not be decoded. */
export type DecodeFailure =
  | 'frame'
  | 'metadata'
  | 'content-type'
  | 'compression'
  | 'too-large'
  | 'unknown-version'
  | 'bundle';

/**
 * A message that is not a valid LogDog message. The collector drops such a message (counted and
 * logged) and does not reject: redelivering it cannot help.
 */
export class MessageDecodeError extends LogsError {
  readonly tag = 'MessageDecode';
  override readonly name = 'MessageDecodeError';
  readonly transient = false;
  constructor(
    readonly reason: DecodeFailure,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A bundle whose project or prefix is invalid: permanent. */
export class InvalidBundleError extends LogsError {
  readonly tag = 'InvalidBundle';
  override readonly name = 'InvalidBundleError';
  readonly transient = false;
  constructor(
    readonly field: 'project' | 'prefix',
    readonly value: string,
    readonly reason: string,
  ) {
    super(`invalid bundle ${field} ${JSON.stringify(value)}: ${reason}`);
  }
}

/** What made a bundle entry invalid. */
export type InvalidEntryReason = 'secret' | 'prefix-mismatch' | 'descriptor' | 'log-entry' | 'non-contiguous';

/** A bundle entry that breaks a rule (secret, prefix, descriptor, log entries): permanent. */
export class InvalidEntryError extends LogsError {
  readonly tag = 'InvalidEntry';
  override readonly name = 'InvalidEntryError';
  readonly transient = false;
  constructor(
    readonly reason: InvalidEntryReason,
    message: string,
    /** The stream's path, where it was known. */
    readonly path?: string,
  ) {
    super(message);
  }
}

/** The coordinator failed to register or terminate a stream. */
export class CoordinatorError extends LogsError {
  readonly tag = 'Coordinator';
  override readonly name = 'CoordinatorError';
  readonly transient: boolean;
  constructor(
    readonly operation: 'register' | 'terminate',
    message: string,
    options: { readonly transient: boolean; readonly cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.transient = options.transient;
  }
}

/** Storage failed to put or read entries. */
export class StorageError extends LogsError {
  readonly tag = 'Storage';
  override readonly name = 'StorageError';
  readonly transient: boolean;
  constructor(
    readonly operation: 'put' | 'get' | 'tail' | 'follow',
    message: string,
    options: { readonly transient: boolean; readonly cause?: unknown },
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.transient = options.transient;
  }
}

/** How many failures a {@link BundleEntriesError} keeps whole; the rest are only counted. */
export const MAX_SAMPLE_ERRORS = 8;

/** The longest message of a failure that a {@link BundleEntriesError}'s own message quotes. */
const MAX_SAMPLE_MESSAGE = 240;

/** The key a failure is counted under in {@link BundleEntriesError.counts}: its tag, and reason. */
export function failureKind(error: LogsError): string {
  if (error instanceof InvalidEntryError) return `${error.tag}:${error.reason}`;
  if (error instanceof CoordinatorError || error instanceof StorageError) {
    return `${error.tag}:${error.operation}${error.transient ? ':transient' : ''}`;
  }
  return error.tag;
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} chars)`;
}

/**
 * Several entries of one bundle failed. Transient when any of them is: redelivering the message
 * repeats the entries that succeeded, which storage ignores, and retries the transient ones.
 *
 * A hostile bundle may hold hundreds of thousands of bad entries: the error keeps the first
 * {@link MAX_SAMPLE_ERRORS} failures whole (`errors`) and counts all of them (`count`, and
 * `counts` by {@link failureKind}), so its size does not grow with the bundle.
 */
export class BundleEntriesError extends LogsError {
  readonly tag = 'BundleEntries';
  override readonly name = 'BundleEntriesError';
  readonly transient: boolean;
  /** The first failures, at most {@link MAX_SAMPLE_ERRORS}. */
  readonly errors: readonly LogsError[];
  /** How many failures there were. */
  readonly count: number;
  /** How many failures of each kind (see {@link failureKind}), e.g. `InvalidEntry:secret`. */
  readonly counts: Readonly<Record<string, number>>;
  constructor(
    errors: readonly LogsError[],
    summary?: { readonly count: number; readonly counts: Readonly<Record<string, number>>; readonly transient: boolean },
  ) {
    const counts: Record<string, number> = {};
    if (summary === undefined) for (const e of errors) counts[failureKind(e)] = (counts[failureKind(e)] ?? 0) + 1;
    const all = summary?.counts ?? counts;
    const count = summary?.count ?? errors.length;
    const samples = errors.slice(0, MAX_SAMPLE_ERRORS);
    const kinds = Object.entries(all)
      .map(([kind, n]) => `${n} ${kind}`)
      .join(', ');
    const shown = samples.map((e) => clip(e.message, MAX_SAMPLE_MESSAGE)).join('; ');
    super(
      `${count} bundle entries failed (${kinds})` +
        (count > samples.length ? `; the first ${samples.length}: ${shown}` : `: ${shown}`),
    );
    this.errors = samples;
    this.count = count;
    this.counts = Object.freeze({ ...all });
    this.transient = summary?.transient ?? errors.some((e) => e.transient);
  }
}

/**
 * Tallies the failures of one message in bounded memory: counts every one by kind, keeps the first
 * {@link MAX_SAMPLE_ERRORS} whole. `add` answers true for a failure that was kept (so the caller
 * logs it) and false for one that was only counted.
 *
 * @example
 * ```ts
 * const tally = new FailureTally();
 * for (const error of errors) tally.add(error);
 * const failure = tally.result(); // undefined, the one error, or a BundleEntriesError
 * ```
 */
export class FailureTally {
  private readonly samples: LogsError[] = [];
  private readonly counts: Record<string, number> = {};
  private count = 0;
  private transient = false;

  /** Adds a failure (a BundleEntriesError's own tally is merged in). */
  add(failure: unknown): boolean {
    if (failure instanceof BundleEntriesError) {
      let kept = false;
      for (const [kind, n] of Object.entries(failure.counts)) this.counts[kind] = (this.counts[kind] ?? 0) + n;
      this.count += failure.count;
      this.transient ||= failure.transient;
      for (const e of failure.errors) {
        if (this.samples.length < MAX_SAMPLE_ERRORS) {
          this.samples.push(e);
          kept = true;
        }
      }
      return kept;
    }
    const error = failure instanceof LogsError ? failure : new UnexpectedError(failure);
    const kind = failureKind(error);
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.count += 1;
    this.transient ||= error.transient;
    if (this.samples.length >= MAX_SAMPLE_ERRORS) return false;
    this.samples.push(error);
    return true;
  }

  /** True once the tally keeps no more failures whole: {@link FailureTally.countOnly} suffices. */
  get full(): boolean {
    return this.samples.length >= MAX_SAMPLE_ERRORS;
  }

  /** Counts a failure of `kind` without one in hand (when {@link FailureTally.full}: no need to build it). */
  countOnly(kind: string, transient: boolean): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
    this.count += 1;
    this.transient ||= transient;
  }

  /** How many failures were added. */
  get size(): number {
    return this.count;
  }

  /** How many failures of each kind. */
  kinds(): Readonly<Record<string, number>> {
    return { ...this.counts };
  }

  /** Undefined when nothing failed, the failure itself when one did, else a BundleEntriesError. */
  result(): LogsError | undefined {
    if (this.count === 0) return undefined;
    if (this.count === 1 && this.samples.length === 1) return this.samples[0];
    return new BundleEntriesError(this.samples, {
      count: this.count,
      counts: this.counts,
      transient: this.transient,
    });
  }
}

/** A message reached a collector after `close()`: transient, redeliver it to another one. */
export class CollectorClosedError extends LogsError {
  readonly tag = 'CollectorClosed';
  override readonly name = 'CollectorClosedError';
  readonly transient = true;
  constructor() {
    super('the log collector is closed');
  }
}

/**
 * A failure that is not a {@link LogsError} — a bug, ours or a backend's that threw something
 * untyped outside its promise: permanent, and never silent.
 */
export class UnexpectedError extends LogsError {
  readonly tag = 'Unexpected';
  override readonly name = 'UnexpectedError';
  readonly transient = false;
  constructor(cause: unknown) {
    super(`unexpected failure: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}
