import type { Observable } from 'rxjs';
import type { TagCardinality } from '../types.js';
import type { Tagger } from '../contract.js';

/**
 * The package-level tagger's API. `tagstream/default` resolves to one implementation of it, chosen
 * at build time by a package export condition (the local tagger by default).
 */
export interface DefaultTaggerApi<Config> {
  /** Creates and starts the default tagger; once (call `shutdown()` before a second `init`). */
  init(config: Config): void;
  /** The entity's tags; rejects with `TaggerNotInitializedError` before `init`. */
  tag(entity: string, cardinality?: TagCardinality): Promise<string[]>;
  /** The entity's live tags; errors with `TaggerNotInitializedError` before `init`. */
  tags$(entity: string, cardinality?: TagCardinality): Observable<string[]>;
  /** The default Tagger itself; throws `TaggerNotInitializedError` before `init`. */
  defaultTagger(): Tagger;
  /** Stops the default tagger; `init` may be called again afterwards. Idempotent. */
  shutdown(): void;
}
