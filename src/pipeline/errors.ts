/**
 * The base of every error the pipeline throws, rejects with or counts; branch on `tag`, not on the
 * message.
 *
 * @example
 * ```ts
 * try { router.register('ndjson', write); } catch (e) {
 *   if (e instanceof PipelineError && e.tag === 'DuplicateProcessor') { ... }
 * }
 * ```
 */
export abstract class PipelineError extends Error {
  /** A stable discriminant for callers. */
  abstract readonly tag: string;
}

/**
 * An object that reached the pipeline without `metadata.uid` (or an entry without `uid`): it is
 * refused, counted as `missing-uid` and logged; the stream goes on.
 *
 * @example
 * ```ts
 * const e = new MissingUidError('pod', 'default/web-0');
 * e.tag; // 'MissingUid'
 * ```
 */
export class MissingUidError extends PipelineError {
  readonly tag = 'MissingUid';
  override readonly name = 'MissingUidError';
  constructor(
    readonly kind: string,
    /** `namespace/name` or `name` of the object when it has one, else `''`. */
    readonly object: string,
  ) {
    super(`refused ${kind} ${object === '' ? '(unnamed)' : object}: the object has no metadata.uid`);
  }
}

/**
 * A preprocessor threw: the entry is dropped, counted as `preprocess-error` and logged.
 *
 * @example
 * ```ts
 * logger.error(err.message, { preprocessor: err.preprocessor, uid: err.uid });
 * ```
 */
export class PreprocessError extends PipelineError {
  readonly tag = 'Preprocess';
  override readonly name = 'PreprocessError';
  constructor(
    /** The function's name, or `#<index>` for an anonymous one. */
    readonly preprocessor: string,
    readonly uid: string,
    override readonly cause: unknown,
  ) {
    super(`preprocessor ${preprocessor} failed on ${uid}; the entry is dropped: ${String(cause)}`);
  }
}

/**
 * A processor threw or failed on a batch: counted per processor and logged; the processor gets the
 * next batch and the other processors are not affected.
 *
 * @example
 * ```ts
 * router.stats().get('ndjson')?.errors;
 * ```
 */
export class ProcessorError extends PipelineError {
  readonly tag = 'Processor';
  override readonly name = 'ProcessorError';
  constructor(
    readonly processor: string,
    override readonly cause: unknown,
  ) {
    super(`processor ${processor} failed on a batch: ${String(cause)}`);
  }
}

/**
 * `register()` was called with a name that is already registered.
 *
 * @example
 * ```ts
 * router.register('a', fn);
 * router.register('a', fn); // throws DuplicateProcessorError
 * ```
 */
export class DuplicateProcessorError extends PipelineError {
  readonly tag = 'DuplicateProcessor';
  override readonly name = 'DuplicateProcessorError';
  constructor(readonly processor: string) {
    super(`a processor named ${JSON.stringify(processor)} is already registered`);
  }
}

/**
 * The router was used after `close()`.
 *
 * @example
 * ```ts
 * await router.close();
 * router.register('late', fn); // throws RouterClosedError
 * ```
 */
export class RouterClosedError extends PipelineError {
  readonly tag = 'RouterClosed';
  override readonly name = 'RouterClosedError';
  constructor(readonly operation: string) {
    super(`the router is closed: cannot ${operation}`);
  }
}

/**
 * An option out of its range (a non-positive `maxItems`, a negative buffer...).
 *
 * @example
 * ```ts
 * batch({ maxItems: 0, maxTime: 100 }); // throws InvalidPipelineOptionError
 * ```
 */
export class InvalidPipelineOptionError extends PipelineError {
  readonly tag = 'InvalidPipelineOption';
  override readonly name = 'InvalidPipelineOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid pipeline option ${option}=${JSON.stringify(value)}: expected ${expected}`);
  }
}

/**
 * A request of the Kubernetes reader failed (list or watch); the reader logs it, counts it and
 * reconnects with backoff. `status` is the HTTP status when there was one.
 *
 * @example
 * ```ts
 * telemetry.snapshot().readerErrors; // counts ReaderError per kind
 * ```
 */
export class ReaderError extends PipelineError {
  readonly tag = 'Reader';
  override readonly name = 'ReaderError';
  constructor(
    readonly kind: string,
    readonly operation: 'list' | 'watch',
    readonly status: number | undefined,
    override readonly cause: unknown,
  ) {
    super(
      `kubernetes reader (${kind}) ${operation} failed${status === undefined ? '' : ` with HTTP ${status}`}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
    );
  }
}
