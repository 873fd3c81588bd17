/**
 * The default tagger of this process: a local Tagger running the collectors given to `init`. This
 * is what `tagstream/default` resolves to without the `tagstream-remote` export condition.
 *
 * - `init(config)`: creates and starts it (`createTagger(config)`); a second call without
 *   `shutdown()` throws `TaggerAlreadyInitializedError`.
 * - `tag()` / `tags$()`: its answers (see `Tagger.tag`, `Tagger.tags$`); before `init`, they reject
 *   / error with `TaggerNotInitializedError`.
 * - `defaultTagger()`: the Tagger itself (for `events$`, `list`, `telemetry`).
 * - `shutdown()`: stops it; `init` may be called again afterwards. Idempotent.
 *
 * @example
 * ```ts
 * import { init, tag, shutdown } from 'tagstream/default';
 * init({ collectors: [dockerCollector()] });
 * console.log(await tag('container_id://3f4a'));
 * process.on('SIGTERM', shutdown);
 * ```
 *
 * @packageDocumentation
 */
import { createTagger } from '../tagger.js';
import { createDefaultTagger } from './create-default-tagger.js';

export const { init, tag, tags$, defaultTagger, shutdown } = createDefaultTagger(createTagger);
