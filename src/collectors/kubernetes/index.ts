/**
 * `tagstream/kubernetes`: the Kubernetes pod tag rules and the pull-mode Kubernetes collector.
 *
 * @module
 */
export { loadKubeConfig } from './client.js';
export type { KubeConfigSource } from './client.js';
export { kubernetesCollector } from './collector.js';
export type {
  KubernetesCollector,
  KubernetesCollectorCounters,
  KubernetesCollectorOptions,
  KubernetesCollectorState,
} from './collector.js';
export { KubernetesCollectorOptionError, KubernetesListError } from './errors.js';
export type { KubernetesListFailure } from './errors.js';
export { extractPodTags } from './extract.js';
export type { PodExtractOptions } from './extract.js';
export { EMPTY_POD_INDEX, indexPods, podContainerIds } from './pod-index.js';
export type { IndexedPod, PodIndex } from './pod-index.js';
export { diffPodLists } from './pod-list-diff.js';
export type { DiffPodListsOptions, PodListDiff } from './pod-list-diff.js';
export type { MetadataAsTags } from '../shared/metadata-as-tags.js';
