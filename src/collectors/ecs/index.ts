/**
 * `tagstream/ecs`: the ECS tag rules and the fetch-only ECS collector.
 *
 * @module
 */
export { ecsCollector } from './collector.js';
export type {
  EcsCollector,
  EcsCollectorCounters,
  EcsCollectorOptions,
  EcsCollectorState,
  EcsFetch,
  EcsFetchResponse,
} from './collector.js';
export { EcsCollectorOptionError, EcsMetadataError } from './errors.js';
export type { EcsMetadataFailure } from './errors.js';
export { extractEcsContainerTags, extractEcsTags, isFargateTask } from './extract.js';
export type { EcsContainerExtractOptions, EcsExtractOptions } from './extract.js';
export { readTaskMetadata } from './task-metadata.js';
export type { EcsContainerMetadata, EcsTaskMetadata } from './task-metadata.js';
