import { containerId, podUid } from '../../tagger/entity-id.js';
import type { IndexedPod, PodIndex } from './pod-index.js';

/**
 * What changed between two lists of the pods of a node.
 *
 * @example
 * ```ts
 * const { changed, removed, deletedEntities }: PodListDiff = diffPodLists(previous, next);
 * ```
 */
export interface PodListDiff {
  /** Pods that are new, or whose resourceVersion changed (all of them with `resendAll`). */
  readonly changed: readonly IndexedPod[];
  /** Pods of the previous list that the next one no longer shows. */
  readonly removed: readonly IndexedPod[];
  /**
   * The entities to delete: each removed pod and its containers, and each container that a pod
   * still listed no longer runs (a restart gives a container a new id).
   */
  readonly deletedEntities: readonly string[];
}

/**
 * Options of {@link diffPodLists}.
 *
 * @example
 * ```ts
 * diffPodLists(previous, next, { resendAll: servicesChanged });
 * ```
 */
export interface DiffPodListsOptions {
  /** Count every pod of `next` as changed (what tags derive from changed outside the pods: services). */
  readonly resendAll?: boolean;
}

/**
 * Compares two complete lists of pods by uid and resourceVersion: a pure function, it costs one
 * look-up per pod and reads nothing else. Pods with the same uid and resourceVersion are unchanged
 * and give nothing; a pod that keeps its uid with a new resourceVersion is changed, and the
 * containers it no longer runs are deleted; a pod absent from `next` is deleted with its
 * containers. Only ever call it with complete lists: a partial list would delete live pods.
 *
 * @example
 * ```ts
 * const diff = diffPodLists(indexPods(before).index, indexPods(after).index);
 * for (const entity of diff.deletedEntities) emit(deleteEntityInfo(entity, 'kubernetes'));
 * for (const item of diff.changed) for (const info of extractPodTags(item.pod)) emit(info);
 * ```
 */
export function diffPodLists(previous: PodIndex, next: PodIndex, options: DiffPodListsOptions = {}): PodListDiff {
  const changed: IndexedPod[] = [];
  const removed: IndexedPod[] = [];
  const deletedEntities: string[] = [];
  const resendAll = options.resendAll === true;
  for (const item of next.pods.values()) {
    const before = previous.pods.get(item.uid);
    if (before === undefined) {
      changed.push(item);
      continue;
    }
    if (before.resourceVersion !== item.resourceVersion || resendAll) changed.push(item);
    if (before.containerIds === item.containerIds) continue;
    for (const id of before.containerIds) {
      if (!item.containerIds.includes(id)) deletedEntities.push(containerId(id));
    }
  }
  for (const before of previous.pods.values()) {
    if (next.pods.has(before.uid)) continue;
    removed.push(before);
    deletedEntities.push(podUid(before.uid));
    for (const id of before.containerIds) deletedEntities.push(containerId(id));
  }
  return { changed, removed, deletedEntities };
}
