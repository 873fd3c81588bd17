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

/**
 * Several entries of one bundle failed. Transient when any of them is: redelivering the message
 * repeats the entries that succeeded, which storage ignores, and retries the transient ones.
 */
export class BundleEntriesError extends LogsError {
  readonly tag = 'BundleEntries';
  override readonly name = 'BundleEntriesError';
  readonly transient: boolean;
  constructor(readonly errors: readonly LogsError[]) {
    super(`${errors.length} bundle entries failed: ${errors.map((e) => e.message).join('; ')}`);
    this.transient = errors.some((e) => e.transient);
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
