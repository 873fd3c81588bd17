import { Subject, lastValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { etcdBackend } from '../../src/kvstore/etcd.js';
import {
  type KvBackend,
  type SharedStore,
  type TagKey,
  type TagPublication,
  createMemoryKv,
  desiredTagKeys,
  diffTagKeys,
  joinSharedStore,
  memoryBackend,
  publishTags,
  sharedStoreCollector,
  tagKeyCodec,
} from '../../src/kvstore/index.js';
import { SourcePriority, type TagInfo, createTagger, deleteEntityInfo, streamCollector, tagInfo, type Tagger } from '../../src/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { etcdUnavailableReason, startEtcd } from '../services/etcd.js';
import { freshPrefix, record, waitFor } from './helpers.js';

interface Agent {
  readonly name: string;
  readonly docker: Subject<TagInfo>;
  readonly tagger: Tagger;
  readonly store: SharedStore<TagKey>;
  readonly publications: TagPublication[];
  readonly backend: KvBackend;
  stopPublishing(): void;
}

const running: Agent[] = [];

async function startAgent(name: string, prefix: string, backend: KvBackend): Promise<Agent> {
  const store = await joinSharedStore({ prefix, codec: tagKeyCodec, backend, name, logger: silentLogger, deleteGracePeriod: 0 });
  const docker = new Subject<TagInfo>();
  const tagger = createTagger({ collectors: [streamCollector('docker', docker), sharedStoreCollector(store)], pruneInterval: 20, logger: silentLogger });
  tagger.start();
  const publications = record(publishTags(tagger, store, { batchWindow: 20 }));
  const agent: Agent = { name, docker, tagger, store, backend, publications: publications.values, stopPublishing: () => publications.stop() };
  running.push(agent);
  return agent;
}

async function stopAgent(agent: Agent, how: 'close' | 'die'): Promise<void> {
  agent.stopPublishing();
  agent.tagger.stop();
  if (how === 'close') await agent.store.close();
  else await agent.store.release();
  await lastValueFrom(agent.backend.close(), { defaultValue: undefined });
}

afterEach(async () => {
  await Promise.allSettled(running.splice(0).map((a) => stopAgent(a, 'close')));
});

const container = (id: string, host: string): TagInfo =>
  tagInfo({ entity: `container_id://${id}`, source: 'docker', low: [`image_name:redis`, `host:${host}`], orchestrator: [`pod_name:p-${id}`], high: [`container_id:${id}`] });

function tagsAcrossHosts(label: string, makeBackend: () => Promise<{ backend: () => KvBackend; ttl: number; done: () => Promise<void> }>): void {
  describe(`tags across hosts: ${label}`, () => {
    it('two agents see each other’s entities, tags by cardinality intact, and not their own twice', async () => {
      const env = await makeBackend();
      try {
        const prefix = freshPrefix('tags');
        const a = await startAgent('host-a', prefix, env.backend());
        const b = await startAgent('host-b', prefix, env.backend());
        a.docker.next(container('a1', 'host-a'));
        b.docker.next(container('b1', 'host-b'));
        await waitFor('a to know b1', () => a.tagger.storedTags('container_id://b1', 'high').length === 4);
        await waitFor('b to know a1', () => b.tagger.storedTags('container_id://a1', 'high').length === 4);
        expect([...a.tagger.storedTags('container_id://b1', 'low')].sort()).toEqual(['host:host-b', 'image_name:redis']);
        expect([...a.tagger.storedTags('container_id://b1', 'orchestrator')].sort()).toEqual(['host:host-b', 'image_name:redis', 'pod_name:p-b1']);
        expect(a.tagger.list().find((e) => e.entity === 'container_id://b1')?.sources).toEqual(['kvstore']);
        // Each host owns only its own entity: b1, seen by a through the store, is not published back by a.
        // (A host counts a key as its own once its put has answered, which can come after the others saw it.)
        await waitFor('b to hold b1 as its own', () => b.store.localKeys().size === 1);
        await waitFor('a to hold a1 as its own', () => a.store.localKeys().size === 1);
        expect([...a.store.localKeys().keys()]).toEqual(['host-a/container_id://a1']);
        expect([...b.store.localKeys().keys()]).toEqual(['host-b/container_id://b1']);
        expect(
          [...a.store.sharedKeys().keys()].sort(),
        ).toEqual(['host-a/container_id://a1', 'host-b/container_id://b1']);

        // An entity deleted on b goes from a.
        b.docker.next(deleteEntityInfo('container_id://b1', 'docker'));
        await waitFor('a to forget b1', () => a.tagger.storedTags('container_id://b1', 'high').length === 0);
        expect(a.store.sharedKeys().has('host-b/container_id://b1')).toBe(false);
      } finally {
        await Promise.allSettled(running.splice(0).map((x) => stopAgent(x, 'close')));
        await env.done();
      }
    });

    it('an agent that dies without closing has its entities removed when its lease expires', async () => {
      const env = await makeBackend();
      try {
        const prefix = freshPrefix('tags-die');
        const a = await startAgent('host-a', prefix, env.backend());
        const b = await startAgent('host-b', prefix, env.backend());
        b.docker.next(container('b1', 'host-b'));
        b.docker.next(container('b2', 'host-b'));
        await waitFor('a to know b1 and b2', () => a.tagger.storedTags('container_id://b2', 'low').length > 0 && a.tagger.storedTags('container_id://b1', 'low').length > 0);
        running.splice(running.indexOf(b), 1);
        await stopAgent(b, 'die');
        expect(a.tagger.storedTags('container_id://b1', 'low').length).toBeGreaterThan(0);
        await waitFor('a to forget b’s entities', () => a.tagger.list().length === 0, env.ttl * 3 + 5000);
      } finally {
        await Promise.allSettled(running.splice(0).map((x) => stopAgent(x, 'close')));
        await env.done();
      }
    }, 30_000);
  });
}

tagsAcrossHosts('memory', () => {
  const kv = createMemoryKv();
  return Promise.resolve({ backend: () => memoryBackend({ kv, leaseTtl: 300 }), ttl: 300, done: () => Promise.resolve() });
});

const skip = etcdUnavailableReason();
describe.skipIf(skip !== undefined)('etcd', () => {
  tagsAcrossHosts('etcd', async () => {
    const etcd = await startEtcd();
    return { backend: () => etcdBackend({ hosts: etcd.endpoint, leaseTtl: 2000 }), ttl: 2000, done: () => etcd.stop() };
  });
});

describe('tag keys', () => {
  const listing = (entity: string, sources: string[], low: string[], orchestrator: string[], high: string[]) => ({
    entity,
    sources,
    tags: { low, orchestrator: [...low, ...orchestrator], high: [...low, ...orchestrator, ...high] },
  });

  it('desiredTagKeys splits cumulative tags by cardinality and keeps only this host’s entities', () => {
    const keys = desiredTagKeys(
      [
        listing('container_id://a', ['docker'], ['l'], ['o'], ['h']),
        listing('container_id://remote', ['kvstore'], ['x'], [], []),
        listing('container_id://both', ['kvstore', 'docker'], ['y'], [], []),
        listing('kubernetes_pod_uid://p', ['kubelet'], ['z'], [], []),
      ],
      { host: 'n1', prefix: 'container_id://' },
    );
    expect([...keys.keys()]).toEqual(['n1/container_id://a', 'n1/container_id://both']);
    expect(keys.get('n1/container_id://a')).toEqual({ host: 'n1', entity: 'container_id://a', low: ['l'], orchestrator: ['o'], high: ['h'] });
    expect(desiredTagKeys([listing('container_id://a', ['docker'], [], [], [])], { host: 'n1', filter: () => false }).size).toBe(0);
  });

  it('diffTagKeys writes what is new or changed and deletes what went', () => {
    const key = (entity: string, low: string[]): TagKey => ({ host: 'n', entity, low, orchestrator: [], high: [] });
    const before = new Map([
      ['n/e://1', key('e://1', ['a'])],
      ['n/e://2', key('e://2', ['b'])],
      ['n/e://3', key('e://3', ['c'])],
    ]);
    const after = new Map([
      ['n/e://1', key('e://1', ['a'])],
      ['n/e://2', key('e://2', ['B'])],
      ['n/e://4', key('e://4', ['d'])],
    ]);
    const diff = diffTagKeys(before, after);
    expect(diff.upserts.map((k) => k.entity)).toEqual(['e://2', 'e://4']);
    expect(diff.deletes.map((k) => k.entity)).toEqual(['e://3']);
  });

  it('tagKeyCodec round-trips a key and refuses what is not one', () => {
    const key: TagKey = { host: 'n', entity: 'container_id://x', low: ['a'], orchestrator: [], high: ['c'] };
    expect(tagKeyCodec.decode(tagKeyCodec.encode(key), tagKeyCodec.keyName(key))).toEqual(key);
    expect(() => tagKeyCodec.decode('{"host":"n","entity":"container_id://x","low":[1],"orchestrator":[],"high":[]}', 'n/container_id://x')).toThrow(/low/);
    expect(() => tagKeyCodec.decode(tagKeyCodec.encode(key), 'other/container_id://x')).toThrow(/named/);
    expect(() => tagKeyCodec.decode('[]', 'n/container_id://x')).toThrow();
  });

  it('sharedStoreCollector is a stream collector at cluster-orchestrator priority by default', async () => {
    const store = await joinSharedStore({ prefix: freshPrefix('collector'), codec: tagKeyCodec, backend: memoryBackend(), name: 'me', logger: silentLogger });
    try {
      expect(sharedStoreCollector(store)).toMatchObject({ source: 'kvstore', priority: SourcePriority.ClusterOrchestrator, mode: 'stream' });
      expect(sharedStoreCollector(store, { priority: SourcePriority.NodeRuntime, source: 'peers' })).toMatchObject({ source: 'peers', priority: SourcePriority.NodeRuntime });
    } finally {
      await store.close();
    }
  });
});
