/**
 * The base of every error tagstream's tagger throws or rejects with; branch on `tag`, not on the
 * message.
 */
export abstract class TaggerError extends Error {
  /** A stable discriminant for callers. */
  abstract readonly tag: string;
}

/** The most characters of an entity id an error message quotes. */
const QUOTED_ID_LENGTH = 200;

/** `text` as JSON, cut to its first {@link QUOTED_ID_LENGTH} characters: messages stay one short line. */
function quote(text: string): string {
  return text.length > QUOTED_ID_LENGTH ? `${JSON.stringify(text.slice(0, QUOTED_ID_LENGTH))}…` : JSON.stringify(text);
}

/**
 * An entity id that is not of the form `prefix://id`, is too long or holds a character that is not
 * printable. `entity` holds it whole; the message quotes at most 200 characters.
 */
export class InvalidEntityIdError extends TaggerError {
  readonly tag = 'InvalidEntityId';
  override readonly name = 'InvalidEntityIdError';
  constructor(
    readonly entity: string,
    readonly reason: string,
  ) {
    super(`invalid entity id ${quote(entity)}: ${reason}`);
  }
}

/**
 * A short entity id (a prefix, as `docker ps` prints a container id) that begins more than one
 * entity: ask with more of the id. `matches` is how many it begins: at least 2 (2 where the source,
 * as dockerd, does not say how many).
 */
export class AmbiguousEntityIdError extends TaggerError {
  readonly tag = 'AmbiguousEntityId';
  override readonly name = 'AmbiguousEntityIdError';
  constructor(
    readonly entity: string,
    readonly matches: number,
  ) {
    super(`ambiguous entity id ${quote(entity)}: it begins ${matches} entities; give more of the id`);
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
