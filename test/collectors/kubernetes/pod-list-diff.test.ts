import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EMPTY_POD_INDEX, diffPodLists, indexPods, podContainerIds } from '../../../src/collectors/kubernetes/index.js';
import type { PodIndex } from '../../../src/collectors/kubernetes/index.js';

/** Plain JSON, as the API server sends it. */
const asPod = (json: unknown): V1Pod => json as V1Pod;

function pod(uid: string, rv: string, containers: readonly string[] = [], init: readonly string[] = []): V1Pod {
  return asPod({
    metadata: { uid, name: uid, namespace: 'default', resourceVersion: rv },
    status: {
      initContainerStatuses: init.map((id) => ({ name: `i-${id}`, image: 'x', imageID: '', ready: true, restartCount: 0, containerID: `containerd://${id}` })),
      containerStatuses: containers.map((id) => ({ name: `c-${id}`, image: 'x', imageID: '', ready: true, restartCount: 0, containerID: `docker://${id}` })),
    },
  });
}

const index = (...pods: V1Pod[]): PodIndex => indexPods(pods).index;
const uids = (items: readonly { uid: string }[]): string[] => items.map((i) => i.uid);

describe('podContainerIds / indexPods', () => {
  it('takes started containers of every kind, runtime prefix stripped, and skips those without an id', () => {
    const p = pod('a', '1', ['c1', ''], ['i1']);
    expect(podContainerIds(p)).toEqual(['i1', 'c1']);
  });

  it('maps every entity to its pod and skips pods without a uid', () => {
    const { index: idx, skipped } = indexPods([pod('a', '1', ['c1']), asPod({ metadata: { name: 'nouid' } })]);
    expect(skipped).toBe(1);
    expect([...idx.entities]).toEqual([
      ['kubernetes_pod_uid://a', 'a'],
      ['container_id://c1', 'a'],
    ]);
  });
});

describe('diffPodLists', () => {
  it('counts every pod of a first list as changed and deletes nothing', () => {
    const diff = diffPodLists(EMPTY_POD_INDEX, index(pod('a', '1', ['c1']), pod('b', '1')));
    expect(uids(diff.changed)).toEqual(['a', 'b']);
    expect(diff.deletedEntities).toEqual([]);
  });

  it('gives nothing for pods with the same uid and resourceVersion', () => {
    const diff = diffPodLists(index(pod('a', '1', ['c1'])), index(pod('a', '1', ['c1'])));
    expect(diff).toEqual({ changed: [], removed: [], deletedEntities: [] });
  });

  it('re-sends a pod whose resourceVersion changed, keeping its containers', () => {
    const diff = diffPodLists(index(pod('a', '1', ['c1'])), index(pod('a', '2', ['c1'])));
    expect(uids(diff.changed)).toEqual(['a']);
    expect(diff.deletedEntities).toEqual([]);
  });

  it('deletes the old entity of a restarted container', () => {
    const diff = diffPodLists(index(pod('a', '1', ['c1', 'c2'])), index(pod('a', '2', ['c1', 'c3'])));
    expect(uids(diff.changed)).toEqual(['a']);
    expect(diff.deletedEntities).toEqual(['container_id://c2']);
  });

  it('deletes a vanished pod and all its containers', () => {
    const diff = diffPodLists(index(pod('a', '1', ['c1'], ['i1']), pod('b', '1')), index(pod('b', '1')));
    expect(uids(diff.removed)).toEqual(['a']);
    expect(diff.deletedEntities).toEqual(['kubernetes_pod_uid://a', 'container_id://i1', 'container_id://c1']);
    expect(diff.changed).toEqual([]);
  });

  it('with resendAll counts every pod as changed (services changed)', () => {
    const diff = diffPodLists(index(pod('a', '1'), pod('b', '1')), index(pod('a', '1'), pod('b', '1')), { resendAll: true });
    expect(uids(diff.changed)).toEqual(['a', 'b']);
  });

  it('applied to the previous entities, gives exactly the next list\'s entities, and only touches what changed', () => {
    const podArb = fc.record({
      uid: fc.constantFrom('p1', 'p2', 'p3', 'p4', 'p5'),
      rv: fc.constantFrom('1', '2', '3'),
      containers: fc.uniqueArray(fc.constantFrom('c1', 'c2', 'c3', 'c4', 'c5', 'c6'), { maxLength: 3 }),
    });
    const listArb = fc.uniqueArray(podArb, { selector: (p) => p.uid, maxLength: 5 });
    fc.assert(
      fc.property(listArb, listArb, (before, after) => {
        // a container id belongs to one pod only, as in a real node
        const owner = new Map<string, string>();
        const clean = (list: typeof before) =>
          list.map((p) => ({ ...p, containers: p.containers.filter((c) => (owner.get(c) ?? p.uid) === p.uid && owner.set(c, p.uid)) }));
        // any change of a pod (its containers too) gives it a new resourceVersion, as on a real server
        const toPod = (p: (typeof before)[number]) => pod(p.uid, `${p.rv}/${p.containers.join('+')}`, p.containers);
        const prev = index(...clean(before).map(toPod));
        const next = index(...clean(after).map(toPod));
        const diff = diffPodLists(prev, next);
        const live = new Set(prev.entities.keys());
        for (const e of diff.deletedEntities) live.delete(e);
        for (const item of diff.changed) {
          live.add(`kubernetes_pod_uid://${item.uid}`);
          for (const c of item.containerIds) live.add(`container_id://${c}`);
        }
        expect([...live].sort()).toEqual([...next.entities.keys()].sort());
        for (const item of diff.changed) {
          const was = prev.pods.get(item.uid);
          expect(was === undefined || was.resourceVersion !== item.resourceVersion).toBe(true);
        }
        for (const e of diff.deletedEntities) expect(next.entities.has(e)).toBe(false);
      }),
    );
  });
});
