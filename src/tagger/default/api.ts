import type { Observable } from 'rxjs';
import type { Tagger } from '../contract.js';
import type { TagCardinality } from '../types.js';

/**
 * The package-level tagger's API. `tagstream/default` resolves to one implementation of it, chosen
 * at build time by a package export condition (the local tagger by default); both are built by
 * `createDefaultTagger`.
 *
 * @example
 * ```ts
 * import * as defaults from 'tagstream/default';
 * const api: DefaultTaggerApi<CreateTaggerOptions> = defaults;
 * ```
 */
export interface DefaultTaggerApi<Config, T extends Tagger = Tagger> {
  /** Creates and starts the default tagger; once (call `shutdown()` before a second `init`). */
  readonly init: (config: Config) => void;
  /** The entity's tags; rejects with `TaggerNotInitializedError` before `init`. */
  readonly tag: (entity: string, cardinality?: TagCardinality) => Promise<string[]>;
  /** The entity's live tags; errors with `TaggerNotInitializedError` before `init`. */
  readonly tags$: (entity: string, cardinality?: TagCardinality) => Observable<string[]>;
  /** The default Tagger itself; throws `TaggerNotInitializedError` before `init`. */
  readonly defaultTagger: () => T;
  /** Stops the default tagger; `init` may be called again afterwards. Idempotent. */
  readonly shutdown: () => void;
}
