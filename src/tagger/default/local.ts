import { type Observable, defer } from 'rxjs';
import { TaggerAlreadyInitializedError, TaggerNotInitializedError } from '../errors.js';
import type { CreateTaggerOptions, Tagger } from '../contract.js';
import { createTagger } from '../tagger.js';
import type { TagCardinality } from '../types.js';

/**
 * The default tagger of this process: a local Tagger running the collectors given to {@link init}.
 * This is what `tagstream/default` resolves to without the `tagstream-remote` export condition.
 */
let current: Tagger | undefined;

function currentTagger(): Tagger {
  if (current === undefined) throw new TaggerNotInitializedError();
  return current;
}

/**
 * Creates and starts the package-level tagger. A second call without {@link shutdown} throws
 * `TaggerAlreadyInitializedError`.
 *
 * @example
 * ```ts
 * import { init, tag } from 'tagstream/default';
 * init({ collectors: [dockerCollector()] });
 * console.log(await tag('container_id://3f4a'));
 * ```
 */
export function init(config: CreateTaggerOptions): void {
  if (current !== undefined) throw new TaggerAlreadyInitializedError();
  const tagger = createTagger(config);
  tagger.start();
  current = tagger;
}

/**
 * The entity's tags from the package-level tagger (see {@link Tagger.tag}); rejects with
 * `TaggerNotInitializedError` before {@link init}.
 *
 * @example
 * ```ts
 * const tags = await tag('container_id://3f4a', 'high');
 * ```
 */
export function tag(entity: string, cardinality: TagCardinality = 'low'): Promise<string[]> {
  if (current === undefined) return Promise.reject(new TaggerNotInitializedError());
  return current.tag(entity, cardinality);
}

/**
 * The entity's live tags from the package-level tagger (see {@link Tagger.tags$}); errors with
 * `TaggerNotInitializedError` when subscribed before {@link init}.
 *
 * @example
 * ```ts
 * tags$('container_id://3f4a').subscribe((tags) => console.log(tags));
 * ```
 */
export function tags$(entity: string, cardinality: TagCardinality = 'low'): Observable<string[]> {
  return defer(() => currentTagger().tags$(entity, cardinality));
}

/**
 * The package-level Tagger itself (for `events$`, `list`, `telemetry`); throws
 * `TaggerNotInitializedError` before {@link init}.
 *
 * @example
 * ```ts
 * defaultTagger().telemetry().entities;
 * ```
 */
export function defaultTagger(): Tagger {
  return currentTagger();
}

/**
 * Stops the package-level tagger; {@link init} may be called again afterwards. Idempotent.
 *
 * @example
 * ```ts
 * process.on('SIGTERM', shutdown);
 * ```
 */
export function shutdown(): void {
  current?.stop();
  current = undefined;
}
