import { type Observable, type SchedulerLike, asyncScheduler, auditTime, concatMap, defer, merge } from 'rxjs';
import type { EntityListing, Tagger } from '../tagger/contract.js';
import type { SharedStore } from './shared-store-contract.js';
import { type TagKey, desiredTagKeys, diffTagKeys } from './tag-key.js';

/** Options of {@link publishTags}. */
export interface PublishTagsOptions {
  /** Only entities whose id starts with this prefix (or one of these). Default: all. */
  readonly prefix?: string | readonly string[];
  /** Only entities this accepts. Default: all. */
  readonly filter?: (entity: EntityListing) => boolean;
  /** The host written into each key. Default: the store's collaborator name. */
  readonly host?: string;
  /** Sources whose entities are not this host's (see {@link DesiredTagKeysOptions.excludeSources}). Default: `['kvstore']`. */
  readonly excludeSources?: readonly string[];
  /** Changes are gathered this long (ms) and published together. Default: 100. */
  readonly batchWindow?: number;
  /** The scheduler of the batch window. Default: `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
}

/** What one round of {@link publishTags} did. */
export interface TagPublication {
  /** Keys written (new or changed). */
  readonly upserted: number;
  /** Keys deleted. */
  readonly deleted: number;
  /**
   * Writes or deletes that failed; the store tries them again soon (after its `retryDelay`,
   * doubling up to 30 s, or at once when its backend's connection is back) and at each synchronization.
   */
  readonly failed: number;
  /** Keys this host publishes after the round. */
  readonly published: number;
}

/**
 * Publishes a tagger's entities as keys this host owns in `store`, while subscribed: every change
 * of the tagger (gathered over `batchWindow`) writes the keys that changed and deletes the keys of
 * entities that went. Each round emits a {@link TagPublication}. A failed write keeps the key as a
 * local key, so the store writes it again soon (see {@link SharedStore.updateLocalKeySync}). Unsubscribing stops publishing and
 * leaves the keys; `store.close()` deletes them.
 *
 * Entities that only the shared store's own collector holds (other hosts') are not published back.
 *
 * @example
 * ```ts
 * const store = await joinSharedStore({ prefix: 'tagstream/tags/v1', codec: tagKeyCodec, backend, name: 'node-a' });
 * const publishing = publishTags(tagger, store, { prefix: 'container_id://' }).subscribe();
 * ```
 */
export function publishTags(tagger: Tagger, store: SharedStore<TagKey>, options: PublishTagsOptions = {}): Observable<TagPublication> {
  return defer(() => {
    const host = options.host ?? store.name;
    let published = new Map<string, TagKey>();
    const eventsFilter = options.prefix === undefined ? {} : { prefix: options.prefix };
    const changes$ = merge(
      tagger.events$({ ...eventsFilter, cardinality: 'low' }),
      tagger.events$({ ...eventsFilter, cardinality: 'orchestrator' }),
      tagger.events$({ ...eventsFilter, cardinality: 'high' }),
    );
    const round = async (): Promise<TagPublication> => {
      const desired = desiredTagKeys(tagger.list(), {
        host,
        ...(options.prefix === undefined ? {} : { prefix: options.prefix }),
        ...(options.filter === undefined ? {} : { filter: options.filter }),
        ...(options.excludeSources === undefined ? {} : { excludeSources: options.excludeSources }),
      });
      const { upserts, deletes } = diffTagKeys(published, desired);
      published = desired;
      const results = await Promise.allSettled([
        ...upserts.map((key) =>
          store.updateLocalKeySync(key).catch((error: unknown) => {
            store.updateLocalKey(key);
            throw error;
          }),
        ),
        ...deletes.map((key) => store.deleteLocalKey(key)),
      ]);
      return {
        upserted: upserts.length,
        deleted: deletes.length,
        failed: results.filter((r) => r.status === 'rejected').length,
        published: desired.size,
      };
    };
    return changes$.pipe(
      auditTime(options.batchWindow ?? 100, options.scheduler ?? asyncScheduler),
      concatMap(round),
    );
  });
}
