/**
 * The default tagger of this process as a client of another process's tagger (its IPC server).
 * This is what `tagstream/default` resolves to under the `tagstream-remote` export condition
 * (`node --conditions=tagstream-remote app.js`, or the same condition in a bundler).
 *
 * - `init(config)`: creates and starts a client of the tagstream server at `socketPath` (or `url`),
 *   authenticated with `token` (or `tokenFile`); see `createTaggerClient` in `tagstream/ipc` for the
 *   defaults (`$TAGSTREAM_SOCKET`, `$TAGSTREAM_TOKEN`, `$TAGSTREAM_TOKEN_FILE`). A second call
 *   without `shutdown()` throws `TaggerAlreadyInitializedError`.
 * - `tag()` / `tags$()`: its answers; before `init`, they reject / error with `TaggerNotInitializedError`.
 * - `defaultTagger()`: the `TaggerClient` itself (also `state$`, `connection()`, `entities$()`).
 * - `shutdown()`: stops it (closes its stream); `init` may be called again afterwards. Idempotent.
 *
 * @example
 * ```ts
 * import { init, tag } from 'tagstream/default'; // run with node --conditions=tagstream-remote
 * init({ socketPath: '/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token' });
 * console.log(await tag('container_id://3f4a'));
 * ```
 *
 * @packageDocumentation
 */
import { createDefaultTagger } from '../tagger/default/create-default-tagger.js';
import { createTaggerClient } from './client.js';

export const { init, tag, tags$, defaultTagger, shutdown } = createDefaultTagger(createTaggerClient);
