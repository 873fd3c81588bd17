/**
 * `tagstream/logs`: a log collector for LogDog's wire format. It decodes log bundles, registers
 * each stream with a coordinator (through a cache), and stores the entries for streaming
 * retrieval.
 *
 * @packageDocumentation
 */
export {
  StreamType,
  ButlerContentType,
  Compression,
  PROTOCOL_VERSION,
  MAX_MESSAGE_SIZE,
  PREFIX_SECRET_LENGTH,
} from './types.js';
export type {
  Timestamp,
  Duration,
  LogStreamDescriptor,
  TextLine,
  DatagramPartial,
  LogContent,
  LogEntry,
  BundleEntry,
  ButlerLogBundle,
  ButlerMetadata,
} from './types.js';
export {
  encodeBundle,
  decodeBundle,
  encodeLogEntry,
  decodeLogEntry,
  encodeDescriptor,
  decodeDescriptor,
  encodeMetadata,
  decodeMetadata,
} from './codec.js';
export { encodeMessage, decodeMessage, frame, DEFAULT_COMPRESS_THRESHOLD } from './message.js';
export type { EncodeMessageOptions, DecodeMessageOptions, DecodedMessage } from './message.js';
export {
  LogsError,
  MessageDecodeError,
  InvalidBundleError,
  InvalidEntryError,
  CoordinatorError,
  StorageError,
  BundleEntriesError,
  CollectorClosedError,
  UnexpectedError,
  isTransient,
  failureKind,
  MAX_SAMPLE_ERRORS,
} from './errors.js';
export type { DecodeFailure, InvalidEntryReason } from './errors.js';
export {
  streamNameError,
  projectNameError,
  secretError,
  descriptorError,
  tagError,
  logEntryError,
  streamPath,
  MAX_STREAM_NAME_LENGTH,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
} from './validate.js';
export { memoryCoordinator, streamId } from './coordinator.js';
export type {
  Coordinator,
  LogStreamState,
  TerminateRequest,
  MemoryCoordinator,
  RegisteredStream,
} from './coordinator.js';
export {
  cachingCoordinator,
  DEFAULT_STREAM_STATE_CACHE_EXPIRE,
  DEFAULT_STREAM_STATE_CACHE_SIZE,
} from './cache.js';
export type { CachingCoordinatorOptions } from './cache.js';
export { followEntries, FOLLOW_BATCH } from './storage.js';
export type {
  Storage,
  StoredEntry,
  PutRequest,
  GetRequest,
  FollowRequest,
  FollowEntriesOptions,
  FollowRetry,
} from './storage.js';
export { memoryStorage } from './memory-storage.js';
export { createLogCollector } from './collector.js';
export { DEFAULT_MAX_MESSAGE_WORKERS } from './collector-options.js';
export {
  containerTagsCoordinator,
  createTaggedLogCollector,
  mergeTags,
  CONTAINER_ID_TAG,
} from './container-tags.js';
export type { ContainerTagsOptions, TaggedLogCollectorOptions } from './container-tags.js';
export type { LogCollector, CollectorMessage, CollectOutcome } from './collector.js';
export type { LogCollectorOptions } from './collector-options.js';
export type { LogCollectorStats } from './collector-state.js';
