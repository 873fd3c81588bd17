import { type Observable, defer } from 'rxjs';
import { type TaggerClient, type TaggerClientOptions, createTaggerClient } from '../../ipc/client.js';
import { TaggerAlreadyInitializedError, TaggerNotInitializedError } from '../errors.js';
import type { Tagger } from '../contract.js';
import type { TagCardinality } from '../types.js';

/**
 * The default tagger of this process as a client of another process's tagger (its IPC server).
 * This is what `tagstream/default` resolves to under the `tagstream-remote` export condition
 * (`node --conditions=tagstream-remote app.js`, or the same condition in a bundler).
 */
let current: TaggerClient | undefined;

function currentTagger(): TaggerClient {
  if (current === undefined) throw new TaggerNotInitializedError();
  return current;
}

/**
 * Creates and starts the package-level tagger: a client of the tagstream server at `socketPath` (or
 * `url`), authenticated with `token` (or `tokenFile`); see `createTaggerClient` in `tagstream/ipc`
 * for the defaults (`$TAGSTREAM_SOCKET`, `$TAGSTREAM_TOKEN`, `$TAGSTREAM_TOKEN_FILE`). A second call
 * without {@link shutdown} throws `TaggerAlreadyInitializedError`.
 *
 * @example
 * ```ts
 * import { init, tag } from 'tagstream/default'; // run with node --conditions=tagstream-remote
 * init({ socketPath: '/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token' });
 * console.log(await tag('container_id://3f4a'));
 * ```
 */
export function init(config: TaggerClientOptions): void {
  if (current !== undefined) throw new TaggerAlreadyInitializedError();
  const tagger = createTaggerClient(config);
  tagger.start();
  current = tagger;
}

/**
 * The entity's tags from the package-level tagger (see `Tagger.tag`); rejects with
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
 * The entity's live tags from the package-level tagger (see `Tagger.tags$`); errors with
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
 * The package-level Tagger itself (a `TaggerClient`: also `state$`, `connection()`, `entities$()`);
 * throws `TaggerNotInitializedError` before {@link init}.
 *
 * @example
 * ```ts
 * defaultTagger().events$().subscribe(console.log);
 * ```
 */
export function defaultTagger(): Tagger {
  return currentTagger();
}

/**
 * Stops the package-level tagger (closes its stream); {@link init} may be called again afterwards.
 * Idempotent.
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
