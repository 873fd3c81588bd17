import type { V1Pod } from '@kubernetes/client-node';
import { containerId, podUid } from '../../tagger/entity-id.js';

/**
 * One pod of a list, with what the diff compares: its uid, its resourceVersion and the ids of its
 * started containers (runtime prefix stripped, as {@link extractPodTags} names their entities).
 *
 * @example
 * ```ts
 * const item: IndexedPod = { uid: 'a1', resourceVersion: '42', containerIds: ['3f4a'], pod };
 * ```
 */
export interface IndexedPod {
  readonly uid: string;
  readonly resourceVersion: string;
  readonly containerIds: readonly string[];
  readonly pod: V1Pod;
}

/**
 * A list of pods by uid, with every entity it names (`kubernetes_pod_uid://…` and
 * `container_id://…`) mapped to the uid of its pod.
 *
 * @example
 * ```ts
 * const index: PodIndex = indexPods(list.items);
 * index.entities.get('container_id://3f4a'); // the uid of the pod running it
 * ```
 */
export interface PodIndex {
  readonly pods: ReadonlyMap<string, IndexedPod>;
  readonly entities: ReadonlyMap<string, string>;
}

/**
 * The index of no pod: the state before the first list.
 *
 * @example
 * ```ts
 * diffPodLists(EMPTY_POD_INDEX, indexPods(pods)); // every pod changed
 * ```
 */
export const EMPTY_POD_INDEX: PodIndex = Object.freeze({ pods: new Map(), entities: new Map() });

/** The container id without its runtime prefix (`containerd://abc` -> `abc`). */
function stripRuntime(id: string): string {
  const at = id.indexOf('://');
  return at === -1 ? id : id.slice(at + 3);
}

/**
 * The ids of a pod's started containers (init, regular and ephemeral), runtime prefix stripped;
 * containers not started yet (no id) are left out. The same rule as {@link extractPodTags}.
 *
 * @example
 * ```ts
 * podContainerIds({ status: { containerStatuses: [{ name: 'api', containerID: 'containerd://3f4a', … }] } });
 * // ['3f4a']
 * ```
 */
export function podContainerIds(pod: V1Pod): string[] {
  const ids: string[] = [];
  const status = pod.status;
  for (const statuses of [status?.initContainerStatuses, status?.containerStatuses, status?.ephemeralContainerStatuses]) {
    for (const container of statuses ?? []) {
      const id = stripRuntime(container.containerID ?? '');
      if (id.length > 0) ids.push(id);
    }
  }
  return ids;
}

/**
 * Indexes a list of pods by uid. A pod without a uid names no entity and is left out (counted in
 * the returned `skipped`); of two pods with the same uid the later one is kept.
 *
 * @example
 * ```ts
 * const { index, skipped } = indexPods(podList.items);
 * ```
 */
export function indexPods(pods: readonly V1Pod[]): { readonly index: PodIndex; readonly skipped: number } {
  const byUid = new Map<string, IndexedPod>();
  let skipped = 0;
  for (const pod of pods) {
    const uid = pod.metadata?.uid ?? '';
    if (uid.length === 0) {
      skipped += 1;
      continue;
    }
    byUid.set(uid, { uid, resourceVersion: pod.metadata?.resourceVersion ?? '', containerIds: podContainerIds(pod), pod });
  }
  const entities = new Map<string, string>();
  for (const item of byUid.values()) {
    entities.set(podUid(item.uid), item.uid);
    for (const id of item.containerIds) entities.set(containerId(id), item.uid);
  }
  return { index: { pods: byUid, entities }, skipped };
}
