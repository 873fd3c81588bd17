/**
 * `tagstream/kvstore`: a shared store of keys that collaborators (typically one agent per host)
 * own and contribute under a common prefix, each keeping a cache of every key through a watch —
 * over etcd (`tagstream/kvstore/etcd`) or the embedded in-memory backend — and the pieces that
 * share a tagger's entities across hosts through it.
 *
 * @packageDocumentation
 */
export type {
  KvBackend,
  KvCloseOptions,
  KvConnectionEvent,
  KvEntry,
  KvListing,
  KvKeyValue,
  KvPutOptions,
  KvSessionEvent,
  KvWatchEvent,
  KvWriteResult,
} from './backend.js';
export {
  KvCompactedError,
  KvConfigError,
  KvConflictError,
  KvDecodeError,
  KvEncodeError,
  KvEpochError,
  KvError,
  KvJoinTimeoutError,
  KvLeaseLostError,
  KvStoreClosedError,
  KvUnavailableError,
} from './errors.js';
export type { KvOperation } from './errors.js';
export { MemoryKv, createMemoryKv } from './memory-kv.js';
export type { MemoryKvOptions } from './memory-kv.js';
export { MemoryBackend, memoryBackend } from './memory-backend.js';
export type { MemoryBackendOptions } from './memory-backend.js';
export { processMemoryKv } from './default-backend.js';
export { jsonCodec } from './codec.js';
export type { JsonCodecOptions, KeyCodec } from './codec.js';
export { createCacheState, reduceCache } from './cache-state.js';
export type { CacheChange, CacheContext, CacheInput, CacheState, CacheStep, CachedKey } from './cache-state.js';
export { graceDeletes } from './grace-deletes.js';
export type { GraceDeletesOptions, PendingChange } from './grace-deletes.js';
export { joinSharedStore } from './shared-store.js';
export type { SharedStore, SharedStoreEvent, SharedStoreTelemetry } from './shared-store-contract.js';
export { initialStoreHealth, reduceStoreHealth, storeHealthOf } from './store-health.js';
export type { SharedStoreHealth, SharedStoreState, StoreHealthEffect, StoreHealthEvent, StoreHealthState, StoreHealthTransition } from './store-health.js';
export type { JoinSharedStoreOptions } from './shared-store-options.js';
export { desiredTagKeys, diffTagKeys, tagKeyCodec } from './tag-key.js';
export type { DesiredTagKeysOptions, TagKey, TagKeysDiff } from './tag-key.js';
export { publishTags } from './publish-tags.js';
export type { PublishTagsOptions, TagPublication } from './publish-tags.js';
export { sharedStoreCollector } from './shared-store-collector.js';
export type { SharedStoreCollectorOptions } from './shared-store-collector.js';
