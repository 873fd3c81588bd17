import { type Observable, defer } from 'rxjs';
import type { Tagger } from '../contract.js';
import { TaggerAlreadyInitializedError, TaggerNotInitializedError } from '../errors.js';
import type { TagCardinality } from '../types.js';
import type { DefaultTaggerApi } from './api.js';

/**
 * A package-level tagger made by `create`: one per process, created and started by `init(config)`,
 * queried through `tag()` / `tags$()`, stopped by `shutdown()`. The local default tagger
 * (`tagstream/default`) and the remote one (under the `tagstream-remote` condition) are each this,
 * with their own `create`.
 *
 * @example
 * ```ts
 * export const { init, tag, tags$, defaultTagger, shutdown } = createDefaultTagger(createTagger);
 * ```
 */
export function createDefaultTagger<Config, T extends Tagger>(create: (config: Config) => T): DefaultTaggerApi<Config, T> {
  let current: T | undefined;
  const currentTagger = (): T => {
    if (current === undefined) throw new TaggerNotInitializedError();
    return current;
  };
  return {
    init: (config: Config): void => {
      if (current !== undefined) throw new TaggerAlreadyInitializedError();
      const tagger = create(config);
      tagger.start();
      current = tagger;
    },
    tag: (entity: string, cardinality: TagCardinality = 'low'): Promise<string[]> => {
      if (current === undefined) return Promise.reject(new TaggerNotInitializedError());
      return current.tag(entity, cardinality);
    },
    tags$: (entity: string, cardinality: TagCardinality = 'low'): Observable<string[]> => defer(() => currentTagger().tags$(entity, cardinality)),
    defaultTagger: currentTagger,
    shutdown: (): void => {
      current?.stop();
      current = undefined;
    },
  };
}
