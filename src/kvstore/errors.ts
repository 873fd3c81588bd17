/**
 * The errors of the kvstore. Branch on `tag`, not on the message; `cause` holds what the backend
 * said (an etcd3 error, for instance).
 */
export abstract class KvError extends Error {
  /** A stable discriminant for callers. */
  abstract readonly tag: string;
}

/** What a kvstore operation was doing when it failed. */
export type KvOperation =
  | 'get'
  | 'list'
  | 'put'
  | 'putIfDifferent'
  | 'compareAndPut'
  | 'delete'
  | 'watch'
  | 'lease'
  | 'health'
  | 'close';

/**
 * The backend could not answer: the server is down, unreachable or too slow, or the backend is
 * closed. Transient: the same call may succeed later.
 *
 * @example
 * ```ts
 * backend.put('k', 'v').subscribe({ error: (e) => { if (e instanceof KvUnavailableError) retryLater(); } });
 * ```
 */
export class KvUnavailableError extends KvError {
  readonly tag = 'KvUnavailable';
  override readonly name = 'KvUnavailableError';
  constructor(
    readonly operation: KvOperation,
    readonly key: string | undefined,
    options?: { readonly cause?: unknown; readonly reason?: string },
  ) {
    super(
      `kvstore ${operation}${key === undefined ? '' : ` of ${JSON.stringify(key)}`} failed: ${options?.reason ?? describeCause(options?.cause)}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * The session lease ended (it expired, was revoked, or its keep-alive failed): every key bound to
 * it is gone from the store. Backends grant a new lease and write their leased keys again.
 *
 * @example
 * ```ts
 * backend.session$.subscribe((s) => { if (s.type === 'lost') console.warn(s.error.message); });
 * ```
 */
export class KvLeaseLostError extends KvError {
  readonly tag = 'KvLeaseLost';
  override readonly name = 'KvLeaseLostError';
  constructor(
    readonly lease: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`kvstore lease ${lease} was lost: ${describeCause(options?.cause)}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A watch asked for a revision that the store has compacted away: the watcher must list again.
 *
 * @example
 * ```ts
 * backend.watch('tags/', 1).subscribe({ error: (e) => { if (e instanceof KvCompactedError) relist(); } });
 * ```
 */
export class KvCompactedError extends KvError {
  readonly tag = 'KvCompacted';
  override readonly name = 'KvCompactedError';
  constructor(
    readonly prefix: string,
    readonly requestedRevision: number,
    readonly compactedRevision: number | undefined,
    options?: { readonly cause?: unknown },
  ) {
    super(
      `kvstore watch of ${JSON.stringify(prefix)} from revision ${requestedRevision} is past compaction` +
        (compactedRevision === undefined ? '' : ` (compacted up to ${compactedRevision})`),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * The store is not the one a watch was following: its revision went back below what the watch had
 * seen (etcd lost its data and started empty, or was restored from an older backup), or its
 * cluster id changed. Revisions of the old epoch mean nothing in the new one: the watcher must
 * list again from scratch.
 *
 * @example
 * ```ts
 * backend.watch('tags/', rev).subscribe({ error: (e) => { if (e instanceof KvEpochError) relist(); } });
 * ```
 */
export class KvEpochError extends KvError {
  readonly tag = 'KvEpoch';
  override readonly name = 'KvEpochError';
  constructor(
    readonly prefix: string,
    /** What changed, e.g. "revision 3 is below 120, which the watch had seen". */
    readonly reason: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`kvstore watch of ${JSON.stringify(prefix)} found a new epoch of the store: ${reason}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A compare-and-put found another value than the one expected.
 *
 * @example
 * ```ts
 * backend.compareAndPut('k', 'v2', 7).subscribe({ error: (e) => { if (e instanceof KvConflictError) reread(); } });
 * ```
 */
export class KvConflictError extends KvError {
  readonly tag = 'KvConflict';
  override readonly name = 'KvConflictError';
  constructor(
    readonly key: string,
    readonly expectedModRevision: number,
    readonly actualModRevision: number | undefined,
    options?: { readonly cause?: unknown },
  ) {
    super(
      `kvstore compare-and-put of ${JSON.stringify(key)} expected mod revision ${expectedModRevision}, found ${actualModRevision === undefined ? 'none' : String(actualModRevision)}`,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * A shared store configuration that cannot work (no prefix, no codec, a bad interval).
 *
 * @example
 * ```ts
 * await joinSharedStore({ prefix: '', codec }).catch((e: unknown) => e instanceof KvConfigError); // true
 * ```
 */
export class KvConfigError extends KvError {
  readonly tag = 'KvConfig';
  override readonly name = 'KvConfigError';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`invalid shared store configuration: ${field} ${reason}`);
  }
}

/**
 * The initial list of a shared store did not complete in time: the backend could not answer.
 *
 * @example
 * ```ts
 * await joinSharedStore({ prefix: 'tags', codec, backend, joinTimeout: 5000 }); // rejects with KvJoinTimeoutError
 * ```
 */
export class KvJoinTimeoutError extends KvError {
  readonly tag = 'KvJoinTimeout';
  override readonly name = 'KvJoinTimeoutError';
  constructor(
    readonly prefix: string,
    readonly timeoutMs: number,
    options?: { readonly cause?: unknown },
  ) {
    super(
      `could not join the shared store ${JSON.stringify(prefix)}: the backend did not list it within ${timeoutMs} ms` +
        (options?.cause === undefined ? '' : ` (last error: ${describeCause(options.cause)})`),
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
  }
}

/**
 * A value in the store that the codec could not decode. The store reports it (logged, counted)
 * and skips the key; it never stops for it.
 *
 * @example
 * ```ts
 * store.errors$.subscribe((e) => { if (e instanceof KvDecodeError) console.warn(e.key); });
 * ```
 */
export class KvDecodeError extends KvError {
  readonly tag = 'KvDecode';
  override readonly name = 'KvDecodeError';
  constructor(
    readonly key: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`cannot decode the value of ${JSON.stringify(key)}: ${describeCause(options?.cause)}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * A key the codec could not name or encode: it is refused, and nothing is written.
 *
 * @example
 * ```ts
 * await store.updateLocalKeySync(badKey).catch((e: unknown) => e instanceof KvEncodeError); // true
 * ```
 */
export class KvEncodeError extends KvError {
  readonly tag = 'KvEncode';
  override readonly name = 'KvEncodeError';
  constructor(
    readonly prefix: string,
    options?: { readonly cause?: unknown },
  ) {
    super(`cannot name or encode a key of the shared store ${JSON.stringify(prefix)}: ${describeCause(options?.cause)}`, options?.cause === undefined ? undefined : { cause: options.cause });
  }
}

/**
 * The shared store was used after `close()` or `release()`.
 *
 * @example
 * ```ts
 * await store.close();
 * await store.updateLocalKeySync(key); // rejects with KvStoreClosedError
 * ```
 */
export class KvStoreClosedError extends KvError {
  readonly tag = 'KvStoreClosed';
  override readonly name = 'KvStoreClosedError';
  constructor(readonly prefix: string) {
    super(`the shared store ${JSON.stringify(prefix)} is closed`);
  }
}

/**
 * A short description of an error cause, for messages and logs.
 *
 * @example
 * ```ts
 * describeCause(new Error('boom')); // 'Error: boom'
 * ```
 */
export function describeCause(cause: unknown): string {
  if (cause === undefined) return 'no cause given';
  if (cause instanceof Error) return `${cause.name}: ${cause.message}`;
  if (typeof cause === 'string') return cause;
  if (typeof cause === 'number' || typeof cause === 'boolean' || typeof cause === 'bigint') return String(cause);
  return Object.prototype.toString.call(cause);
}
