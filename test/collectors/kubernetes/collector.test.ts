import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { Subject, lastValueFrom, toArray } from 'rxjs';
import type { Subscription } from 'rxjs';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  KubernetesCollectorOptionError,
  KubernetesListError,
  kubernetesCollector,
} from '../../../src/collectors/kubernetes/index.js';
import type { KubernetesCollector, KubernetesCollectorOptions, KubernetesCollectorState } from '../../../src/collectors/kubernetes/index.js';
import { containerId, podUid } from '../../../src/tagger/entity-id.js';
import { streamCollector, tagInfo } from '../../../src/tagger/stream-collector.js';
import { createTagger } from '../../../src/tagger/tagger.js';
import type { Tagger } from '../../../src/tagger/contract.js';
import { SourcePriority } from '../../../src/tagger/types.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { startKubeApiServer } from '../../services/kube-api-server.js';
import type { KubeApiServer } from '../../services/kube-api-server.js';
import { RecordingLogger } from '../recording-logger.js';
import { podInput, waitFor } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tagstream-k8s-collector-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let server: KubeApiServer;
let kc: KubeConfig;
const cleanups: (() => void)[] = [];
beforeEach(async () => {
  server = await startKubeApiServer();
  kc = new KubeConfig();
  kc.loadFromFile(server.writeKubeconfig(dir));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  await server.close();
});

// a generous request timeout, so that a busy machine does not fail lists; the timeout tests set theirs
const FAST = { period: 60, requestTimeout: 3000, backoff: { initial: 20, max: 80 } } as const;

function collector(options: KubernetesCollectorOptions = {}): KubernetesCollector {
  return kubernetesCollector({ kubeConfig: kc, nodeName: 'node-a', ...FAST, logger: silentLogger, ...options });
}

function tagger(k8s: KubernetesCollector): Tagger {
  const t = createTagger({ collectors: [k8s], pruneInterval: 30, logger: silentLogger });
  t.start();
  cleanups.push(() => {
    t.stop();
  });
  return t;
}

function record(k8s: KubernetesCollector): TagInfo[] {
  const seen: TagInfo[] = [];
  const sub: Subscription = k8s.tagInfo$.subscribe((info) => seen.push(info));
  cleanups.push(() => {
    sub.unsubscribe();
  });
  return seen;
}

function recordStates(k8s: KubernetesCollector): KubernetesCollectorState[] {
  const states: KubernetesCollectorState[] = [];
  const sub = k8s.state$.subscribe((s) => states.push(s));
  cleanups.push(() => {
    sub.unsubscribe();
  });
  return states;
}

const podLists = (): number => server.requests.filter((r) => r.kind === 'pod' && !r.watch).length;

describe('kubernetesCollector: options', () => {
  it('refuses to start without a node name, with a typed error', () => {
    const saved = process.env['NODE_NAME'];
    delete process.env['NODE_NAME'];
    try {
      expect(() => kubernetesCollector({ kubeConfig: kc })).toThrow(KubernetesCollectorOptionError);
      expect(() => kubernetesCollector({ kubeConfig: kc })).toThrow(/NODE_NAME/);
      try {
        kubernetesCollector({ kubeConfig: kc, nodeName: ' ' });
      } catch (error) {
        expect(error).toMatchObject({ tag: 'KubernetesCollectorOption', option: 'nodeName' });
      }
      process.env['NODE_NAME'] = 'from-env';
      expect(() => kubernetesCollector({ kubeConfig: kc })).not.toThrow();
    } finally {
      if (saved === undefined) delete process.env['NODE_NAME'];
      else process.env['NODE_NAME'] = saved;
    }
  });

  it.each([
    [{ period: 0 }, 'period'],
    [{ requestTimeout: Number.NaN }, 'requestTimeout'],
    [{ pageSize: 1.5 }, 'pageSize'],
    [{ backoff: { initial: 100, max: 10 } }, 'backoff'],
  ])('refuses %j', (options, option) => {
    expect(() => kubernetesCollector({ kubeConfig: kc, nodeName: 'n', ...options })).toThrow(expect.objectContaining({ option }));
  });

  it('is a pull collector at node-orchestrator priority, source kubernetes, idle and lazy until subscribed', () => {
    const k8s = collector();
    expect(k8s).toMatchObject({ source: 'kubernetes', priority: SourcePriority.NodeOrchestrator, mode: 'pull' });
    expect(k8s.state).toEqual({ status: 'idle' });
    expect(server.requests).toEqual([]);
  });
});

describe('kubernetesCollector: tags follow the pods of its node', () => {
  it('add, label update, container restart and delete reach a real Tagger', async () => {
    const web = server.create('pod', podInput('web-0', 'node-a', [{ name: 'api', id: 'c-1' }], { 'tags.datadoghq.com/env': 'prod' }));
    const other = server.create('pod', podInput('other-0', 'node-b', [{ name: 'api', id: 'c-9' }]));
    const k8s = collector();
    const t = tagger(k8s);
    const pod = podUid(web.metadata.uid);
    const podTags: string[][] = [];
    t.tags$(pod, 'orchestrator').subscribe((tags) => podTags.push(tags));

    await waitFor('the pod', () => t.storedTags(pod, 'orchestrator').includes('pod_name:web-0'));
    expect(t.storedTags(pod)).toContain('env:prod');
    expect(t.storedTags(containerId('c-1'), 'high')).toEqual(expect.arrayContaining(['kube_container_name:api', 'container_id:c-1']));
    // the other node's pod is never listed: the list asks for this node only
    expect(await t.tag(podUid(other.metadata.uid))).toEqual([]);
    expect(server.requests.filter((r) => r.kind === 'pod').every((r) => r.query['fieldSelector'] === 'spec.nodeName=node-a')).toBe(true);

    server.update('pod', podInput('web-0', 'node-a', [{ name: 'api', id: 'c-1' }], { 'tags.datadoghq.com/env': 'staging' }));
    await waitFor('the new label', () => t.storedTags(pod).includes('env:staging'));
    expect(t.storedTags(pod)).not.toContain('env:prod');
    expect(t.storedTags(containerId('c-1'))).toContain('env:staging');

    server.update('pod', podInput('web-0', 'node-a', [{ name: 'api', id: 'c-2' }], { 'tags.datadoghq.com/env': 'staging' }));
    await waitFor('the restarted container', () => t.storedTags(containerId('c-2')).includes('kube_container_name:api'));
    await waitFor('the old container gone', () => t.storedTags(containerId('c-1')).length === 0);
    expect(t.storedTags(pod)).toContain('env:staging');

    server.remove('pod', web.metadata.uid);
    await waitFor('the pod gone', () => t.storedTags(pod).length === 0 && t.storedTags(containerId('c-2')).length === 0);
    expect(podTags.at(-1)).toEqual([]);
    expect(podTags.some((tags) => tags.includes('env:prod'))).toBe(true);
    expect(podTags.some((tags) => tags.includes('env:staging'))).toBe(true);
    expect(k8s.counters).toMatchObject({ listErrors: 0, pods: 0, deletes: 3 }); // c-1, then the pod and c-2
  });

  it('emits only what changed: an unchanged node gives nothing, period after period', async () => {
    const a = server.create('pod', podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }]));
    server.create('pod', podInput('b', 'node-a', [{ name: 'app', id: 'b-1' }]));
    const k8s = collector();
    const seen = record(k8s);
    await waitFor('the first list', () => seen.length === 4);
    const first = k8s.counters.lists;
    await waitFor('three more lists', () => k8s.counters.lists >= first + 3);
    expect(seen).toHaveLength(4);
    expect(k8s.counters).toMatchObject({ emitted: 4, deletes: 0, pods: 2 });

    server.update('pod', { ...podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }], { team: 'core' }), metadata: { name: 'a', uid: a.metadata.uid } });
    await waitFor('the change', () => seen.length > 4);
    await waitFor('one more list', () => k8s.counters.lists >= first + 5);
    expect(seen.slice(4).map((i) => i.entity)).toEqual([podUid(a.metadata.uid), containerId('a-1')]);
  });

  it('shares one list per period among subscribers; a late subscriber first gets the current pods', async () => {
    server.create('pod', podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }]));
    const k8s = collector();
    const one = record(k8s);
    const two = record(k8s);
    await waitFor('the first list', () => one.length === 2 && two.length === 2);
    const late = record(k8s);
    expect(late.map((i) => i.entity)).toEqual(one.map((i) => i.entity));
    await waitFor('a few periods', () => k8s.counters.lists >= 4);
    // one loop for the three subscribers: the pod and its container were emitted once
    expect(k8s.counters.emitted).toBe(2);
    expect(k8s.state).toEqual({ status: 'connected', pods: 1 });
    for (const cleanup of cleanups.splice(0)) cleanup();
    expect(k8s.state).toEqual({ status: 'idle' });
    // and the server saw just those lists (a list in flight when they left arrives too)
    await waitFor('the lists in flight', () => podLists() >= k8s.counters.lists);
    expect(podLists()).toBe(k8s.counters.lists);
  });

  it('tags a pod whose container has no image anywhere, without image tags, and the others too', async () => {
    const broken = podInput('broken', 'node-a', [{ name: 'app', id: 'x-1' }]);
    // no image anywhere: neither in the spec nor in the status
    server.create('pod', {
      ...broken,
      spec: { nodeName: 'node-a', containers: [{ name: 'app' }] },
      status: { containerStatuses: [{ name: 'app', containerID: 'containerd://x-1' }] },
    });
    server.create('pod', podInput('fine', 'node-a', [{ name: 'app', id: 'f-1' }]));
    const logger = new RecordingLogger();
    const k8s = collector({ logger });
    const t = tagger(k8s);
    await waitFor('both pods', () => t.storedTags(containerId('f-1')).length > 0 && t.storedTags(containerId('x-1')).length > 0);
    expect(k8s.counters).toMatchObject({ extractErrors: 0, pods: 2, listErrors: 0 });
    expect(t.storedTags(containerId('x-1'), 'high')).toContain('container_id:x-1');
    expect(t.storedTags(containerId('x-1')).filter((tag) => tag.startsWith('image_name:'))).toEqual([]);
  });

  it('answers kube_service tags with listServices, and re-sends pods when the services change', async () => {
    server.create('pod', podInput('web', 'node-a', [{ name: 'app', id: 'w-1' }], { app: 'web' }));
    server.create('service', { metadata: { name: 'web-svc' }, spec: { selector: { app: 'web' } } });
    const k8s = collector({ listServices: true });
    const t = tagger(k8s);
    await waitFor('kube_service', () => t.storedTags(containerId('w-1')).includes('kube_service:web-svc'));
    server.create('service', { metadata: { name: 'web-canary' }, spec: { selector: { app: 'web' } } });
    await waitFor('the new service', () => t.storedTags(containerId('w-1')).includes('kube_service:web-canary'));
  });
});

describe('kubernetesCollector: a failed list deletes nothing', () => {
  async function running(options: KubernetesCollectorOptions = {}) {
    const pods = [0, 1, 2].map((i) => server.create('pod', podInput(`p${i}`, 'node-a', [{ name: 'app', id: `id-${i}` }])));
    const logger = new RecordingLogger();
    const k8s = collector({ logger, ...options });
    const states = recordStates(k8s);
    const t = tagger(k8s);
    await waitFor('the pods', () => pods.every((p) => t.storedTags(podUid(p.metadata.uid)).length > 0));
    return { pods, k8s, t, logger, states };
  }

  async function recovers(k8s: KubernetesCollector, t: Tagger): Promise<void> {
    const added = server.create('pod', podInput('late', 'node-a', [{ name: 'app', id: 'late-1' }]));
    await waitFor('recovery', () => t.storedTags(podUid(added.metadata.uid)).includes('kube_namespace:default'));
    expect(k8s.state).toEqual({ status: 'connected', pods: 4 });
  }

  it('on 500s: counted, logged with a growing backoff, the tags kept, then it recovers', async () => {
    const { pods, k8s, t, logger, states } = await running();
    server.failNext(3, 500, 'list');
    await waitFor('three failed lists', () => k8s.counters.listErrors === 3);
    expect(k8s.counters.deletes).toBe(0);
    expect(t.telemetry().pendingDeletes).toBe(0);
    for (const p of pods) expect(t.storedTags(podUid(p.metadata.uid))).toContain('kube_namespace:default');
    const warnings = logger.at('warn');
    expect(warnings.map((w) => w.fields?.['delayMs'])).toEqual([20, 40, 80]);
    expect(warnings.map((w) => w.fields?.['reason'])).toEqual(['http-status', 'http-status', 'http-status']);
    expect(warnings[0]?.fields?.['status']).toBe(500);
    const retrying = states.filter((s) => s.status === 'retrying');
    expect(retrying.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(retrying[0]?.reason).toBeInstanceOf(KubernetesListError);
    await recovers(k8s, t);
    expect(k8s.counters.deletes).toBe(0);
  });

  it('on a list that gets no answer: a timeout, the tags kept, then it recovers', async () => {
    const { pods, k8s, t, states } = await running({ requestTimeout: 300 });
    server.stallNextList();
    await waitFor('a timeout', () => k8s.counters.listErrors === 1, 5000);
    expect(states.find((s) => s.status === 'retrying')).toMatchObject({ reason: { reason: 'timeout', page: 1 } });
    expect(k8s.counters.deletes).toBe(0);
    expect(t.telemetry().pendingDeletes).toBe(0);
    for (const p of pods) expect(t.storedTags(podUid(p.metadata.uid))).toContain('kube_namespace:default');
    await recovers(k8s, t);
    expect(k8s.counters.deletes).toBe(0);
  });

  it('on a truncated body: counted as failed, the tags kept, then it recovers', async () => {
    const { pods, k8s, t } = await running({ requestTimeout: 300 });
    server.truncateNextList();
    await waitFor('a failed list', () => k8s.counters.listErrors === 1, 5000);
    expect(k8s.counters.deletes).toBe(0);
    expect(t.telemetry().pendingDeletes).toBe(0);
    for (const p of pods) expect(t.storedTags(podUid(p.metadata.uid))).toContain('kube_namespace:default');
    await recovers(k8s, t);
    expect(k8s.counters.deletes).toBe(0);
  });

  it('on a list broken after its first page: partial, the tags kept, then it recovers', async () => {
    const { pods, k8s, t, states } = await running({ pageSize: 1 });
    server.expireNextContinue();
    await waitFor('a partial list', () => k8s.counters.partialLists === 1);
    expect(k8s.counters.listErrors).toBe(1);
    expect(states.find((s) => s.status === 'retrying')).toMatchObject({ reason: { reason: 'partial', page: 2 } });
    expect(k8s.counters.deletes).toBe(0);
    expect(t.telemetry().pendingDeletes).toBe(0);
    for (const p of pods) expect(t.storedTags(podUid(p.metadata.uid))).toContain('kube_namespace:default');
    await recovers(k8s, t);
    expect(k8s.counters.deletes).toBe(0);
  });
});

describe('kubernetesCollector: fetch', () => {
  const fetchAll = (k8s: KubernetesCollector, entity: string): Promise<TagInfo[]> => lastValueFrom(k8s.fetch(entity).pipe(toArray()));

  it('answers from the last list, lists on a miss, and finds nothing for what the node does not run', async () => {
    const a = server.create('pod', podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }]));
    const k8s = collector({ period: 60_000 });
    const seen = record(k8s);
    await waitFor('the first list', () => seen.length === 2);
    expect(k8s.counters.lists).toBe(1);

    const known = await fetchAll(k8s, containerId('a-1'));
    expect(known.map((i) => i.entity)).toEqual([podUid(a.metadata.uid), containerId('a-1')]);
    expect(k8s.counters.lists).toBe(1);

    const b = server.create('pod', podInput('b', 'node-a', [{ name: 'app', id: 'b-1' }]));
    const fresh = await fetchAll(k8s, podUid(b.metadata.uid));
    expect(fresh.map((i) => i.entity)).toEqual([podUid(b.metadata.uid), containerId('b-1')]);
    expect(k8s.counters.lists).toBe(2);

    expect(await fetchAll(k8s, containerId('nowhere'))).toEqual([]);
    expect(await fetchAll(k8s, 'ecs_task://x')).toEqual([]);
    expect(k8s.counters).toMatchObject({ lists: 3, fetchMisses: 2 });
  });

  it("serves a real Tagger's miss for a pod created between two lists", async () => {
    server.create('pod', podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }]));
    const k8s = collector({ period: 60_000 });
    const t = tagger(k8s);
    await waitFor('the first list', () => t.storedTags(containerId('a-1')).length > 0);
    server.create('pod', podInput('b', 'node-a', [{ name: 'app', id: 'b-1' }]));
    expect(await t.tag(containerId('b-1'), 'orchestrator')).toEqual(expect.arrayContaining(['pod_name:b', 'kube_container_name:app']));
  });

  it('lists nothing for an id that is not in the form the node reports', async () => {
    const k8s = collector({ period: 60_000 });
    for (const entity of [podUid('../x'), podUid('0C5D2B8E-4F1A-4B7E-9C3D-8A2F6E1B7C90'), podUid('a?b=c'), containerId('a/../b'), containerId('..'), containerId('x?y'), containerId('-x')]) {
      expect(await fetchAll(k8s, entity)).toEqual([]);
    }
    expect(k8s.counters).toMatchObject({ lists: 0, fetchMisses: 7 });
  });

  it('never follows a redirect off the API server: the list fails, nothing reaches another host', async () => {
    const reached: string[] = [];
    const elsewhere = createServer((request, response) => {
      reached.push(`${request.url ?? ''} ${request.headers.authorization ?? ''}`);
      response.end('{"items":[]}');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/api/v1/pods`;
    const redirecting = createServer((_request, response) => {
      response.writeHead(302, { location: target });
      response.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const redirected = new KubeConfig();
      redirected.loadFromOptions({
        clusters: [{ name: 'r', server: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}`, skipTLSVerify: true }],
        users: [{ name: 'u', token: 'the-api-server-token' }],
        contexts: [{ name: 'r', cluster: 'r', user: 'u' }],
        currentContext: 'r',
      });
      const k8s = collector({ kubeConfig: redirected });
      expect(await fetchAll(k8s, podUid(randomUUID()))).toEqual([]);
      expect(k8s.counters).toMatchObject({ lists: 1, listErrors: 1 });
      expect(reached).toEqual([]);
    } finally {
      redirecting.closeAllConnections();
      elsewhere.closeAllConnections();
      await Promise.all([new Promise((resolve) => redirecting.close(resolve)), new Promise((resolve) => elsewhere.close(resolve))]);
    }
  });

  it('a failed list on a miss finds nothing and is counted', async () => {
    const k8s = collector();
    server.failNext(1, 503, 'list');
    expect(await fetchAll(k8s, containerId('x'))).toEqual([]);
    expect(k8s.counters).toMatchObject({ lists: 1, listErrors: 1, fetchMisses: 1 });
  });
});

describe('kubernetesCollector: covers, and look-ups coalesced into lists that start after them', () => {
  const fetchAll = (k8s: KubernetesCollector, entity: string): Promise<TagInfo[]> => lastValueFrom(k8s.fetch(entity).pipe(toArray()));

  it('declares the container and pod kinds, so a Tagger expects it for both', () => {
    expect(collector().covers).toEqual(['container_id', 'kubernetes_pod_uid']);
  });

  it('50 early asks of a real Tagger in a burst cost at most 3 lists, and every container is complete with its pod', async () => {
    const k8s = collector({ period: 60_000 });
    const runtime = new Subject<TagInfo>();
    const t = createTagger({ collectors: [streamCollector('runtime', runtime), k8s], pruneInterval: 30, logger: silentLogger });
    t.start();
    cleanups.push(() => {
      t.stop();
    });
    await waitFor('the first list', () => k8s.state.status === 'connected');
    const listsBefore = podLists();
    const ids = Array.from({ length: 50 }, (_, i) => `burst-${i}`);
    for (const [i, id] of ids.entries()) server.create('pod', podInput(`p-${i}`, 'node-a', [{ name: 'app', id }]));
    // The runtime reports the 50 containers at once: the Tagger asks the Kubernetes collector for each.
    for (const id of ids) runtime.next(tagInfo({ entity: containerId(id), source: 'runtime', high: [`container_name:${id}`] }));
    const answers = await Promise.all(ids.map((id) => t.lookup(containerId(id), { cardinality: 'orchestrator', waitForComplete: 5000 })));
    for (const [i, answer] of answers.entries()) {
      expect(answer.complete).toBe(true);
      expect(answer.tags).toContain(`pod_name:p-${i}`);
    }
    const lists = podLists() - listsBefore;
    expect(lists).toBeGreaterThanOrEqual(1);
    expect(lists).toBeLessThanOrEqual(3);
    expect(k8s.counters.fetchMisses).toBe(0);
  });

  it('an ask made while a list is on the wire is answered by the next list, never by the one in flight', async () => {
    const k8s = collector({ period: 60_000, requestTimeout: 400 });
    record(k8s);
    await waitFor('the first list', () => k8s.state.status === 'connected');
    server.create('pod', podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }]));
    server.stallNextList();
    const listsBefore = podLists();
    const first = fetchAll(k8s, containerId('a-1'));
    await waitFor('the stalled list on the wire', () => podLists() === listsBefore + 1);
    // Pod b appears after that list's snapshot; the ask for it must not join that list.
    server.create('pod', podInput('b', 'node-a', [{ name: 'app', id: 'b-1' }]));
    const second = fetchAll(k8s, containerId('b-1'));
    const third = fetchAll(k8s, containerId('a-1'));
    expect(await first).toEqual([]); // its list timed out: a miss, logged
    expect((await second).map((i) => i.entity)).toContain(containerId('b-1'));
    expect((await third).map((i) => i.entity)).toContain(containerId('a-1'));
    expect(podLists() - listsBefore).toBe(2);
  });

  it('what a look-up list found reaches the stream once, as a periodic list would give it', async () => {
    const k8s = collector({ period: 300 });
    const seen = record(k8s);
    await waitFor('the first list', () => k8s.state.status === 'connected');
    const b = server.create('pod', podInput('b', 'node-a', [{ name: 'app', id: 'b-1' }]));
    const answer = await fetchAll(k8s, containerId('b-1'));
    expect(answer.map((i) => i.entity)).toEqual([podUid(b.metadata.uid), containerId('b-1')]);
    const listsAfter = k8s.counters.lists;
    await waitFor('two more periodic lists', () => k8s.counters.lists >= listsAfter + 2);
    expect(seen.filter((i) => i.entity === containerId('b-1'))).toHaveLength(1);
  });

  it('a container in no pod (started by hand on the node) is a quick "not found", so a Tagger completes it', async () => {
    server.create('pod', podInput('a', 'node-a', [{ name: 'app', id: 'a-1' }]));
    const k8s = collector({ period: 60_000 });
    const runtime = new Subject<TagInfo>();
    const t = createTagger({
      collectors: [streamCollector('runtime', runtime), k8s],
      pruneInterval: 30,
      completenessRetryDelays: [20, 40],
      logger: silentLogger,
    });
    t.start();
    cleanups.push(() => {
      t.stop();
    });
    await waitFor('the first list', () => k8s.state.status === 'connected');
    const listsBefore = podLists();
    const started = Date.now();
    runtime.next(tagInfo({ entity: containerId('byhand1'), source: 'runtime', high: ['container_name:by-hand'] }));
    const answer = await t.lookup(containerId('byhand1'), { cardinality: 'high', waitForComplete: 5000 });
    expect(answer).toEqual({ tags: ['container_name:by-hand'], complete: true, missing: [] });
    expect(Date.now() - started).toBeLessThan(3000);
    // The first ask and the two re-asks: a list each, answered "not found".
    expect(podLists() - listsBefore).toBe(3);
    expect(k8s.counters.fetchMisses).toBe(3);
  });
});
