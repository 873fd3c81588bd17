/**
 * `tagstream/pipeline`: API-server readers -> secret scrubbing -> preprocessing -> batching ->
 * routing -> processors. See docs/pipeline.md.
 */
export { batch, dedupe, mergeChange } from './batch.js';
export type { Batch, BatchOptions } from './batch.js';
export { ENTRY_KINDS, isEntry, objectName, toEntry } from './entry.js';
export type { Entry, EntryChange, EntryKind, KubeObject, KubeObjectMeta } from './entry.js';
export {
  DuplicateProcessorError,
  InvalidPipelineOptionError,
  MissingUidError,
  PipelineError,
  PreprocessError,
  ProcessorError,
  ReaderError,
  RouterClosedError,
} from './errors.js';
export { kubernetesReader } from './kubernetes-reader.js';
export type { KubernetesReaderOptions } from './kubernetes-reader.js';
export { ndjsonProcessor } from './ndjson-processor.js';
export type { NdjsonOptions, NdjsonProcessor } from './ndjson-processor.js';
export { pipeline } from './pipeline.js';
export type { Pipeline, PipelineOptions, ProcessorRegistration } from './pipeline.js';
export { preprocess, preprocessWith, stripManagedFields } from './preprocess.js';
export type { PreprocessOptions, Preprocessor } from './preprocess.js';
export { applyListItem, applyWatchEvent, compareResourceVersions, finishList, newReaderState } from './reader-state.js';
export type { Applied, KnownObject, ReaderState } from './reader-state.js';
export { DEFAULT_MAX_PENDING, DEFAULT_PROCESSOR_BUFFER, route, Router } from './router.js';
export type {
  BacklogStats,
  Overflow,
  Processor,
  ProcessorObserver,
  ProcessorStats,
  RegisterOptions,
  RouterOptions,
} from './router.js';
export {
  MAX_SCRUB_DEPTH,
  MAX_SCRUB_JSON_LENGTH,
  REDACTED,
  SECRET_NAME_PATTERN,
  scrubObject,
  scrubSecrets,
} from './scrub-secrets.js';
export type { ScrubOptions } from './scrub-secrets.js';
export { pipelineCollector } from './tagger-processor.js';
export type { PipelineCollector, PipelineCollectorCounters, PipelineCollectorOptions } from './tagger-processor.js';
export { PipelineTelemetry } from './telemetry.js';
export type { DropReason, TelemetrySnapshot } from './telemetry.js';
