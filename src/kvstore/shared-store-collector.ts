import { filter, map } from 'rxjs';
import { deleteEntityInfo, tagInfo } from '../tagger/stream-collector.js';
import { type Collector, SourcePriority } from '../tagger/types.js';
import type { SharedStore } from './shared-store-contract.js';
import type { TagKey } from './tag-key.js';

/** Options of {@link sharedStoreCollector}. */
export interface SharedStoreCollectorOptions {
  /** The source name of the TagInfo it produces. Default: 'kvstore'. */
  readonly source?: string;
  /** Default: `SourcePriority.ClusterOrchestrator`. */
  readonly priority?: SourcePriority;
  /** The keys of this host are left out (they are the tagger's own). Default: the store's collaborator name. */
  readonly host?: string;
}

/**
 * A stream collector that turns the tag keys of the other hosts in a shared store into TagInfo:
 * every key as it appears or changes, and a delete when it goes (after the store's grace period —
 * for a host that died, when its lease expires).
 *
 * @example
 * ```ts
 * const store = await joinSharedStore({ prefix: 'tagstream/tags/v1', codec: tagKeyCodec, backend, name: 'node-a' });
 * const tagger = createTagger({ collectors: [dockerCollector(), sharedStoreCollector(store)] });
 * ```
 */
export function sharedStoreCollector(store: SharedStore<TagKey>, options: SharedStoreCollectorOptions = {}): Collector {
  const source = options.source ?? 'kvstore';
  const host = options.host ?? store.name;
  return {
    source,
    priority: options.priority ?? SourcePriority.ClusterOrchestrator,
    mode: 'stream',
    tagInfo$: store.events$.pipe(
      filter((event) => event.key.host !== host),
      map((event) =>
        event.type === 'delete'
          ? deleteEntityInfo(event.key.entity, source)
          : tagInfo({ entity: event.key.entity, source, low: event.key.low, orchestrator: event.key.orchestrator, high: event.key.high }),
      ),
    ),
  };
}
