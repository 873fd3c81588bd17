import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { kubernetesReader, pipeline, pipelineCollector, REDACTED } from '../../src/pipeline/index.js';
import type { Entry, EntryChange, KubeObject, PipelineCollector } from '../../src/pipeline/index.js';
import { containerId, podUid } from '../../src/tagger/entity-id.js';
import { createTagger } from '../../src/tagger/tagger.js';
import { SourcePriority } from '../../src/tagger/types.js';
import type { TagInfo } from '../../src/tagger/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { podInput, waitFor } from '../collectors/kubernetes/helpers.js';
import { startKubeApiServer } from '../services/kube-api-server.js';

const dir = mkdtempSync(join(tmpdir(), 'tagstream-tagger-processor-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function podEntry(uid: string, change: EntryChange, rv: string, containers: readonly string[], node = 'node-a'): Entry {
  const object: KubeObject = {
    metadata: { uid, name: `pod-${uid}`, namespace: 'default', resourceVersion: rv, labels: { 'tags.datadoghq.com/env': `rv${rv}` } },
    spec: { nodeName: node, containers: containers.map((id) => ({ name: `c-${id}`, image: 'redis:7' })) },
    status: { containerStatuses: containers.map((id) => ({ name: `c-${id}`, image: 'redis:7', containerID: `containerd://${id}` })) },
  };
  return { uid, kind: 'pod', change, object, source: 'test', observedAt: 0 };
}

function recorded(feed: PipelineCollector): TagInfo[] {
  const seen: TagInfo[] = [];
  feed.collector.tagInfo$.subscribe((info) => seen.push(info));
  return seen;
}

const show = (infos: readonly TagInfo[]): string[] => infos.map((i) => `${i.deleteEntity === true ? '-' : '+'}${i.entity}`);

describe('pipelineCollector', () => {
  it('is a stream collector at node-orchestrator priority, source kubernetes', () => {
    const feed = pipelineCollector();
    expect(feed.collector).toMatchObject({ source: 'kubernetes', priority: SourcePriority.NodeOrchestrator, mode: 'stream' });
  });

  it('turns pod entries into TagInfos: changes only, restarts and deletes as deletes', () => {
    const feed = pipelineCollector();
    const seen = recorded(feed);
    feed.processor.next([podEntry('a', 'add', '1', ['c1']), { ...podEntry('n', 'add', '1', []), kind: 'node' }]);
    expect(show(seen)).toEqual(['+kubernetes_pod_uid://a', '+container_id://c1']);
    expect(seen[0]?.lowCardTags).toContain('env:rv1');

    feed.processor.next([podEntry('a', 'snapshot', '1', ['c1'])]);
    expect(seen).toHaveLength(2);

    feed.processor.next([podEntry('a', 'update', '2', ['c2'])]);
    expect(show(seen.slice(2))).toEqual(['-container_id://c1', '+kubernetes_pod_uid://a', '+container_id://c2']);

    feed.processor.next([podEntry('a', 'delete', '3', ['c2'])]);
    expect(show(seen.slice(5))).toEqual(['-kubernetes_pod_uid://a', '-container_id://c2']);
    expect(feed.counters).toEqual({ batches: 4, podEntries: 4, ignored: 1, unchanged: 1, pods: 0, emitted: 4, deletes: 3, extractErrors: 0 });
  });

  it('tags a pod whose container has no image anywhere, without image tags and without an error', () => {
    const warnings: string[] = [];
    const feed = pipelineCollector({ logger: { ...silentLogger, warn: (m) => void warnings.push(m) } });
    const seen = recorded(feed);
    const broken = podEntry('x', 'add', '1', ['cx']);
    // no image anywhere: neither in the spec nor in the status
    const object = { ...broken.object, spec: { containers: [{ name: 'c-cx' }] }, status: { containerStatuses: [{ name: 'c-cx', containerID: 'containerd://cx' }] } };
    feed.processor.next([{ ...broken, object }, podEntry('a', 'add', '1', [])]);
    expect(show(seen)).toEqual(['+kubernetes_pod_uid://x', '+container_id://cx', '+kubernetes_pod_uid://a']);
    expect(feed.counters.extractErrors).toBe(0);
    expect(warnings).toEqual([]);
  });

  it('with nodeName, keeps to the pods of that node', () => {
    const feed = pipelineCollector({ nodeName: 'node-a' });
    const seen = recorded(feed);
    feed.processor.next([podEntry('a', 'add', '1', ['c1']), podEntry('b', 'add', '1', ['c9'], 'node-b'), podEntry('b', 'delete', '2', ['c9'], 'node-b')]);
    expect(show(seen)).toEqual(['+kubernetes_pod_uid://a', '+container_id://c1']);
    expect(feed.counters.ignored).toBe(2);
  });

  it('gives a late subscriber every pod known first, and completes when the router closes', async () => {
    const feed = pipelineCollector();
    feed.processor.next([podEntry('a', 'add', '1', ['c1'])]);
    const all = lastValueFrom(feed.collector.tagInfo$.pipe(toArray()));
    feed.processor.next([podEntry('b', 'add', '1', [])]);
    feed.processor.complete();
    expect(show(await all)).toEqual(['+kubernetes_pod_uid://a', '+container_id://c1', '+kubernetes_pod_uid://b']);
  });

  it('end to end: pod changes on the API server reach tagger.tag through the pipeline, and no secret reaches a tag', async () => {
    const server = await startKubeApiServer();
    const secrets = ['s3cr3t-env-value', 'hunter2-annotation', 'applied-env-secret'];
    const env = [{ name: 'DB_PASSWORD', value: secrets[0]! }];
    const applied = JSON.stringify({ spec: { containers: [{ name: 'api', env: [{ name: 'X', value: secrets[2]! }] }] } });
    const annotations = { 'example.com/api-token': secrets[1]!, 'kubectl.kubernetes.io/last-applied-configuration': applied };
    const web = server.create('pod', podInput('web-0', 'node-a', [{ name: 'api', id: 'c-1', env }], { 'tags.datadoghq.com/env': 'prod' }, annotations));
    const elsewhere = server.create('pod', podInput('other', 'node-b', [{ name: 'api', id: 'c-9' }]));
    const kc = new KubeConfig();
    kc.loadFromFile(server.writeKubeconfig(dir));
    // every annotation becomes a tag: what the scrubber left of them is all a tag can hold
    const feed = pipelineCollector({ nodeName: 'node-a', podAnnotationsAsTags: { '*': 'ann_%%annotation%%' }, podLabelsAsTags: { '*': 'label_%%label%%' } });
    const everything = recorded(feed);
    const tagger = createTagger({ collectors: [feed.collector], pruneInterval: 30, logger: silentLogger });
    tagger.start();
    const p = pipeline({
      readers: [kubernetesReader(kc, 'pod', { backoff: { initial: 10, max: 50 } })],
      batch: { maxItems: 100, maxTime: 20 },
      processors: { tagger: { processor: feed.processor, overflow: 'block' } },
      logger: silentLogger,
    });
    const done = lastValueFrom(p.run$, { defaultValue: undefined });
    try {
      const pod = podUid(web.metadata.uid);
      await waitFor('the pod', () => tagger.storedTags(pod, 'orchestrator').includes('pod_name:web-0'));
      expect(await tagger.tag(containerId('c-1'), 'high')).toEqual(expect.arrayContaining(['env:prod', 'container_id:c-1', 'kube_container_name:api']));
      expect(await tagger.tag(podUid(elsewhere.metadata.uid))).toEqual([]);
      expect(tagger.storedTags(pod, 'high')).toContain(`ann_example.com/api-token:${REDACTED}`);

      server.update('pod', podInput('web-0', 'node-a', [{ name: 'api', id: 'c-1', env }], { 'tags.datadoghq.com/env': 'staging' }, annotations));
      await waitFor('the new label', () => tagger.storedTags(pod).includes('env:staging'));
      expect(await tagger.tag(pod)).not.toContain('env:prod');

      server.update('pod', podInput('web-0', 'node-a', [{ name: 'api', id: 'c-2', env }], { 'tags.datadoghq.com/env': 'staging' }, annotations));
      await waitFor('the restarted container', () => tagger.storedTags(containerId('c-2')).includes('kube_container_name:api'));
      await waitFor('the old container gone', () => tagger.storedTags(containerId('c-1')).length === 0);

      const allTags = JSON.stringify(tagger.list()) + JSON.stringify(everything);
      expect(allTags).toContain('ann_kubectl.kubernetes.io/last-applied-configuration');
      for (const secret of secrets) expect(allTags).not.toContain(secret);

      server.remove('pod', web.metadata.uid);
      await waitFor('the pod gone', () => tagger.storedTags(pod).length === 0 && tagger.storedTags(containerId('c-2')).length === 0);
      expect(feed.counters.pods).toBe(0);
    } finally {
      p.stop();
      await done;
      tagger.stop();
      await server.close();
    }
    expect(everything.length).toBeGreaterThan(0);
  });
});
