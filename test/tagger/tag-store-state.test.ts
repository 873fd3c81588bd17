import { describe, expect, it } from 'vitest';
import { SourcePriority, type TagStoreEvent, type TagStoreState, readTags } from '../../src/index.js';
import {
  createTagStoreState,
  isDeletePending,
  pruneGeneration,
  reduceTagStore,
  storeGauges,
  storedEntity,
} from '../../src/tagger/tag-store-state.js';
import { info, upsert } from './fixtures.js';

const A = 'container_id://a';
const B = 'container_id://b';

function run(events: readonly TagStoreEvent[], state: TagStoreState = createTagStoreState()) {
  return events.map((event) => reduceTagStore(state, event));
}

// Ported in spirit from the reference tagger's tagstore tests.
describe('reduceTagStore', () => {
  it('stores a TagInfo and reports the entity as added', () => {
    const state = createTagStoreState();
    const step = reduceTagStore(state, upsert(info(A, 'docker', ['image_name:redis'], ['pod_name:p'], ['container_name:c'])));
    expect(step.changes).toEqual([expect.objectContaining({ type: 'added', entity: A })]);
    expect(readTags(state, A, 'low')).toEqual(['image_name:redis']);
    expect(readTags(state, A, 'orchestrator')).toEqual(['image_name:redis', 'pod_name:p']);
    expect(readTags(state, A, 'high')).toEqual(['image_name:redis', 'pod_name:p', 'container_name:c']);
  });

  it('replaces what a source stored for an entity (replace per source)', () => {
    const state = createTagStoreState();
    run([upsert(info(A, 'docker', ['a:1', 'b:1'])), upsert(info(A, 'docker', ['c:1']))], state);
    expect(readTags(state, A, 'high')).toEqual(['c:1']);
  });

  it('keeps other sources when one source replaces its tags', () => {
    const state = createTagStoreState();
    run(
      [
        upsert(info(A, 'docker', ['image_name:redis'])),
        upsert(info(A, 'kubelet', ['kube_namespace:ns']), SourcePriority.NodeOrchestrator),
        upsert(info(A, 'docker', ['image_name:redis', 'short_image:redis'])),
      ],
      state,
    );
    expect([...readTags(state, A, 'low')].sort()).toEqual(['image_name:redis', 'kube_namespace:ns', 'short_image:redis']);
  });

  it('prune removes every source of a deleted entity, and only at the prune', () => {
    const state = createTagStoreState();
    run([upsert(info(A, 'docker', ['x:1'])), upsert(info(A, 'kubelet', ['y:1'])), upsert(info(B, 'docker', ['z:1']))], state);
    const marked = reduceTagStore(state, { type: 'markDelete', entity: A });
    expect(marked.changes).toEqual([]);
    expect(readTags(state, A, 'low')).not.toEqual([]);
    expect(isDeletePending(state, A)).toBe(true);
    const pruned = reduceTagStore(state, { type: 'prune', entities: [A] });
    expect(pruned.changes).toEqual([expect.objectContaining({ type: 'deleted', entity: A })]);
    expect(storedEntity(state, A) !== undefined).toBe(false);
    expect(readTags(state, B, 'low')).toEqual(['z:1']);
    expect(storeGauges(state).pendingDeletes).toBe(0);
    expect(storeGauges(state).entitiesBySource.kubelet).toBeUndefined();
    expect(storeGauges(state).entitiesBySource.docker).toBe(1);
  });

  it('lets a delete win over an add of the same window, before or after it', () => {
    const state = createTagStoreState();
    run(
      [
        upsert(info(A, 'docker', ['before:1'])),
        upsert({ ...info(A, 'docker'), deleteEntity: true }),
        upsert(info(A, 'kubelet', ['after:1'])),
        { type: 'prune', entities: [A] },
      ],
      state,
    );
    expect(storedEntity(state, A) !== undefined).toBe(false);
    // An add after the prune brings the entity back.
    reduceTagStore(state, upsert(info(A, 'docker', ['again:1'])));
    expect(readTags(state, A, 'low')).toEqual(['again:1']);
  });

  it('changes nothing and reports nothing for an identical update (order and duplicates aside)', () => {
    const state = createTagStoreState();
    reduceTagStore(state, upsert(info(A, 'docker', ['a:1', 'b:1'], [], ['h:1'])));
    const before = storedEntity(state, A)?.tags;
    const step = reduceTagStore(state, upsert(info(A, 'docker', ['b:1', 'a:1', 'a:1'], [], ['h:1'])));
    expect(step.changes).toEqual([]);
    expect(step.ignored).toBe('unchanged');
    expect(storedEntity(state, A)?.tags).toBe(before);
  });

  it('never lets a negative fetch result overwrite real tags', () => {
    const state = createTagStoreState();
    reduceTagStore(state, upsert(info(A, 'ecs', ['task_family:web'])));
    const step = reduceTagStore(state, { type: 'fetched', info: info(A, 'ecs'), priority: SourcePriority.NodeOrchestrator, generation: 0 });
    expect(step.ignored).toBe('negative-fetch');
    expect(readTags(state, A, 'low')).toEqual(['task_family:web']);
  });

  it('drops an entity left with no tags', () => {
    const state = createTagStoreState();
    run([upsert(info(A, 'docker', ['a:1'])), upsert(info(A, 'kubelet', [], [], ['h:1']))], state);
    reduceTagStore(state, upsert(info(A, 'docker')));
    expect(storedEntity(state, A) !== undefined).toBe(true);
    const step = reduceTagStore(state, upsert(info(A, 'kubelet')));
    expect(step.changes).toEqual([expect.objectContaining({ type: 'deleted', entity: A })]);
    expect(storedEntity(state, A) !== undefined).toBe(false);
    expect(storeGauges(state).entitiesBySource).toEqual({});
  });

  it('answers cumulative lookups by cardinality', () => {
    const state = createTagStoreState();
    run([upsert(info(A, 'docker', ['l:1'], ['o:1'], ['h:1'])), upsert(info(A, 'kubelet', ['l:2'], ['o:2'], ['h:2']))], state);
    const low = readTags(state, A, 'low');
    const orchestrator = readTags(state, A, 'orchestrator');
    const high = readTags(state, A, 'high');
    expect([...low].sort()).toEqual(['l:1', 'l:2']);
    expect([...orchestrator].sort()).toEqual(['l:1', 'l:2', 'o:1', 'o:2']);
    expect([...high].sort()).toEqual(['h:1', 'h:2', 'l:1', 'l:2', 'o:1', 'o:2']);
  });

  it('lists an exact duplicate tag once, across sources and cardinalities', () => {
    const state = createTagStoreState();
    run([upsert(info(A, 'docker', ['env:prod', 'env:prod'], [], ['env:prod'])), upsert(info(A, 'kubelet', ['env:prod']))], state);
    expect(readTags(state, A, 'high')).toEqual(['env:prod']);
  });

  it('keeps the higher-priority source values for a tag name, and every value within one source', () => {
    const state = createTagStoreState();
    run(
      [
        upsert(info(A, 'docker', ['service:from-docker', 'image_name:redis']), SourcePriority.NodeRuntime),
        upsert(info(A, 'kubelet', ['service:a', 'service:b']), SourcePriority.NodeOrchestrator),
        upsert(info(A, 'cluster', [], [], ['team:x'])),
      ],
      state,
    );
    const high = readTags(state, A, 'high');
    expect([...high].sort()).toEqual(['image_name:redis', 'service:a', 'service:b', 'team:x']);
    // When the higher-priority source stops giving the name, the lower one's value comes back.
    reduceTagStore(state, upsert(info(A, 'kubelet', ['kube_namespace:ns']), SourcePriority.NodeOrchestrator));
    expect(readTags(state, A, 'low')).toContain('service:from-docker');
  });

  it('orders merged tags by source priority whatever the arrival order', () => {
    const s1 = createTagStoreState();
    const s2 = createTagStoreState();
    const docker = upsert(info(A, 'docker', ['a:1']), SourcePriority.NodeRuntime);
    const kube = upsert(info(A, 'kubelet', ['b:1']), SourcePriority.NodeOrchestrator);
    run([docker, kube], s1);
    run([kube, docker], s2);
    expect(readTags(s1, A, 'low')).toEqual(readTags(s2, A, 'low'));
  });

  it('hands out frozen arrays that callers cannot mutate, at every cardinality, from one source or several', () => {
    const state = createTagStoreState();
    reduceTagStore(state, upsert(info(A, 'docker', ['a:1'], ['o:1'], ['h:1'])));
    for (const cardinality of ['low', 'orchestrator', 'high'] as const) {
      const tags = readTags(state, A, cardinality);
      expect(Object.isFrozen(tags)).toBe(true);
      expect(() => {
        (tags as string[]).push('x:1');
      }).toThrow(TypeError);
    }
    expect(readTags(state, A, 'high')).toEqual(['a:1', 'o:1', 'h:1']);
    reduceTagStore(state, upsert(info(A, 'kubelet', ['b:1']), SourcePriority.NodeOrchestrator));
    for (const cardinality of ['low', 'orchestrator', 'high'] as const) expect(Object.isFrozen(readTags(state, A, cardinality))).toBe(true);
  });

  it('drops a fetched answer whose entity is pending delete or was pruned since the fetch began', () => {
    const state = createTagStoreState();
    reduceTagStore(state, { type: 'markDelete', entity: A });
    const pending = reduceTagStore(state, { type: 'fetched', info: info(A, 'ecs', ['x:1']), priority: 1, generation: pruneGeneration(state) });
    expect(pending.ignored).toBe('delete-pending');
    const generation = pruneGeneration(state);
    reduceTagStore(state, { type: 'prune', entities: [A] });
    const late = reduceTagStore(state, { type: 'fetched', info: info(A, 'ecs', ['x:1']), priority: 1, generation });
    expect(late.ignored).toBe('deleted-since-fetch');
    expect(storedEntity(state, A) !== undefined).toBe(false);
    // A fetch of another entity that began before the prune still lands.
    const other = reduceTagStore(state, { type: 'fetched', info: info(B, 'ecs', ['y:1']), priority: 1, generation });
    expect(other.changes).toHaveLength(1);
  });

  it('releases interned strings when the last holder goes', () => {
    const state = createTagStoreState();
    run([upsert(info(A, 'docker', ['shared:1', 'only-a:1'])), upsert(info(B, 'docker', ['shared:1']))], state);
    expect(storeGauges(state).internedStrings).toBe(2);
    run([{ type: 'markDelete', entity: A }, { type: 'prune', entities: [A] }], state);
    expect(storeGauges(state).internedStrings).toBe(1);
    run([upsert(info(B, 'docker', ['other:1']))], state);
    expect(storeGauges(state).internedStrings).toBe(1);
  });

  it('shares one string instance for equal tags of different entities', () => {
    const state = createTagStoreState();
    const first = ['kube_namespace', 'default'].join(':');
    const second = ['kube_namespace', 'default'].join(':');
    run([upsert(info(A, 'k', [first])), upsert(info(B, 'k', [second]))], state);
    // Same value either way; interning is visible through the pool size.
    expect(readTags(state, A, 'low')[0]).toBe(readTags(state, B, 'low')[0]);
    expect(storeGauges(state).internedStrings).toBe(1);
  });
});

// Issue 11: replacing a source's tags was quadratic in their number (16,000 tags took 1.2 s, 100,000
// more than 90 s, and every query waited meanwhile). The cost per tag is benchmarked in
// `npm run bench -- tagger` ("replace cost per tag"); here the answers must be right, and a replace of
// 100,000 tags must finish within the test's time limit, which the quadratic replace cannot.
describe('reduceTagStore with many tags', () => {
  const N = 100_000;
  const tags = (version: number): string[] => Array.from({ length: N }, (_, i) => (i % 2 === 0 ? `keep:${i}` : `v${version}:${i}`));

  it('replaces a source of 100,000 low tags, keeping the repeated ones and releasing the rest', { timeout: 15_000 }, () => {
    const state = createTagStoreState();
    reduceTagStore(state, upsert(info(A, 'docker', tags(1))));
    reduceTagStore(state, upsert(info(B, 'docker', ['keep:0'])));
    const first = readTags(state, A, 'low');
    expect(first).toHaveLength(N);
    for (let version = 2; version <= 4; version++) {
      const step = reduceTagStore(state, upsert(info(A, 'docker', tags(version))));
      expect(step.changes).toEqual([expect.objectContaining({ type: 'modified', entity: A })]);
      const low = readTags(state, A, 'low');
      expect(low).toHaveLength(N);
      expect(low[1]).toBe(`v${version}:1`);
      expect(low[N - 1]).toBe(`v${version}:${N - 1}`);
      // The kept half plus this version's half: the previous version's strings were released.
      expect(storeGauges(state).internedStrings).toBe(N);
    }
    // A kept tag is the same pooled instance the other entity shares.
    expect(readTags(state, A, 'low')[0]).toBe(readTags(state, B, 'low')[0]);
    reduceTagStore(state, upsert(info(A, 'docker', ['keep:0'])));
    expect(storeGauges(state).internedStrings).toBe(1);
  });
});
