/**
 * tagstream: tags for every container, pod and task on a host, current to the second, as RxJS
 * streams. This entry point holds the tagger core; collectors and the other pipelines have their
 * own entry points (`tagstream/docker`, `tagstream/kubernetes`, `tagstream/ecs`, ...).
 *
 * @packageDocumentation
 */
export { SourcePriority, TAG_CARDINALITIES, isCardinality } from './tagger/types.js';
export type { Collector, CollectorMode, ShortIdRule, TagCardinality, TagInfo } from './tagger/types.js';
export {
  EntityIdPrefix,
  GLOBAL_ENTITY_ID,
  MAX_ENTITY_ID_LENGTH,
  checkEntityId,
  containerId,
  ecsTask,
  isEntityId,
  parseEntityId,
  podUid,
} from './tagger/entity-id.js';
export type { ParsedEntityId } from './tagger/entity-id.js';
export {
  AmbiguousEntityIdError,
  FetchTimeoutError,
  InvalidCardinalityError,
  InvalidEntityIdError,
  TaggerAlreadyInitializedError,
  TaggerError,
  TaggerNotInitializedError,
  TaggerNotRunningError,
} from './tagger/errors.js';
export { MAX_SOURCE_LENGTH, MAX_TAG_LENGTH, readTagInfo, validateTagInfo } from './tagger/validate-tag-info.js';
export type { TagInfoRejection } from './tagger/validate-tag-info.js';
export { readTags } from './tagger/tag-store-state.js';
export type { EntityChange, IgnoredReason, TagStoreEvent, TagStoreState, TagStoreStep } from './tagger/tag-store-state.js';
export { prune } from './tagger/prune.js';
export type { PruneOptions } from './tagger/prune.js';
export { storeChanges, tagStore } from './tagger/tag-store.js';
export type { TagStoreOptions } from './tagger/tag-store.js';
export { createTagger } from './tagger/tagger.js';
export type {
  CompletenessTelemetry,
  CreateTaggerOptions,
  DelayHistogram,
  EntityCompleteness,
  EntityListing,
  EntitySourcesListing,
  EntityTags,
  LookupOptions,
  OverriddenTag,
  QueryCounters,
  SourcePriorityName,
  SourceTagsListing,
  TagEvent,
  TagEventsFilter,
  TagLookup,
  Tagger,
  TaggerTelemetry,
} from './tagger/contract.js';
export { priorityName } from './tagger/source-listing.js';
export { deleteEntityInfo, streamCollector, tagInfo } from './tagger/stream-collector.js';
export type { StreamCollectorOptions, TagInfoInit } from './tagger/stream-collector.js';
export type { DefaultTaggerApi } from './tagger/default/api.js';
export { consoleLogger, silentLogger } from './util/logger.js';
export type { LogFields, LogLevel, Logger } from './util/logger.js';
