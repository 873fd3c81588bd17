/**
 * `tagstream/kubernetes`: the Kubernetes pod tag rules. The Kubernetes collector (the IO) is
 * coming.
 *
 * @module
 */
export { extractPodTags } from './extract.js';
export type { PodExtractOptions } from './extract.js';
export type { MetadataAsTags } from '../shared/metadata-as-tags.js';
