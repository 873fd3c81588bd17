/**
 * The base of every error tagstream's tagger throws or rejects with; branch on `tag`, not on the
 * message.
 */
export abstract class TaggerError extends Error {
  /** A stable discriminant for callers. */
  abstract readonly tag: string;
}

/** An entity id that is not of the form `prefix://id`. */
export class InvalidEntityIdError extends TaggerError {
  readonly tag = 'InvalidEntityId';
  override readonly name = 'InvalidEntityIdError';
  constructor(
    readonly entity: string,
    readonly reason: string,
  ) {
    super(`invalid entity id ${JSON.stringify(entity)}: ${reason}`);
  }
}

/** A cardinality other than 'low', 'orchestrator' or 'high'. */
export class InvalidCardinalityError extends TaggerError {
  readonly tag = 'InvalidCardinality';
  override readonly name = 'InvalidCardinalityError';
  constructor(readonly cardinality: unknown) {
    super(`invalid cardinality ${JSON.stringify(cardinality)}: expected 'low', 'orchestrator' or 'high'`);
  }
}

/** The package-level tagger was used before `init()`. */
export class TaggerNotInitializedError extends TaggerError {
  readonly tag = 'TaggerNotInitialized';
  override readonly name = 'TaggerNotInitializedError';
  constructor() {
    super('the default tagger is not initialized: call init(config) from tagstream/default first');
  }
}

/** `init()` was called while the package-level tagger was already initialized. */
export class TaggerAlreadyInitializedError extends TaggerError {
  readonly tag = 'TaggerAlreadyInitialized';
  override readonly name = 'TaggerAlreadyInitializedError';
  constructor() {
    super('the default tagger is already initialized: init(config) may be called once (shutdown() first to re-init)');
  }
}

/** A query reached a Tagger that is not running (never started, or stopped). */
export class TaggerNotRunningError extends TaggerError {
  readonly tag = 'TaggerNotRunning';
  override readonly name = 'TaggerNotRunningError';
  constructor(readonly state: 'created' | 'stopped') {
    super(state === 'created' ? 'the tagger is not started: call start() first' : 'the tagger is stopped');
  }
}

/** A fetch on miss took longer than the tagger's `fetchTimeout`. */
export class FetchTimeoutError extends TaggerError {
  readonly tag = 'FetchTimeout';
  override readonly name = 'FetchTimeoutError';
  constructor(
    readonly entity: string,
    readonly source: string,
    readonly timeoutMs: number,
  ) {
    super(`fetch of ${entity} from ${source} took longer than ${timeoutMs} ms`);
  }
}
