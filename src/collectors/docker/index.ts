/**
 * `tagstream/docker`: the Docker collector (stream mode, over dockerode) and the Docker tag rules.
 *
 * @module
 */
export { dockerClient } from './client.js';
export { dockerCollector } from './collector.js';
export type {
  DockerClient,
  DockerCollector,
  DockerCollectorCounters,
  DockerCollectorOptions,
  DockerConnectionState,
  DockerInspectRetry,
  DockerReconnectDelay,
} from './collector.js';
export { DockerCollectorError, DockerCollectorOptionError } from './errors.js';
export type { DockerFailure } from './errors.js';
export { extractDockerTags } from './extract.js';
export type { DockerContainerInspect, DockerExtractOptions, DockerImageNames, DockerTags } from './extract.js';
export type { MetadataAsTags } from '../shared/metadata-as-tags.js';
export type { CardinalityTags } from '../shared/tag-builder.js';
