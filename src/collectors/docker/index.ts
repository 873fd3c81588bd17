/**
 * `tagstream/docker`: the Docker tag rules. The Docker collector (the IO) is coming.
 *
 * @module
 */
export { extractDockerTags } from './extract.js';
export type { DockerContainerInspect, DockerExtractOptions, DockerImageNames, DockerTags } from './extract.js';
export type { MetadataAsTags } from '../shared/metadata-as-tags.js';
