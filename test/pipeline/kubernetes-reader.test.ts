import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { Subscription } from 'rxjs';
import fc from 'fast-check';
import { kubernetesReader, PipelineTelemetry } from '../../src/pipeline/index.js';
import type { Entry, KubernetesReaderOptions } from '../../src/pipeline/index.js';
import { startKubeApiServer } from '../services/kube-api-server.js';
import type { KubeApiServer, KubeKind } from '../services/kube-api-server.js';

const dir = mkdtempSync(join(tmpdir(), 'tagstream-reader-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const FAST: KubernetesReaderOptions = { backoff: { initial: 5, max: 40 }, pageSize: 10, requestTimeout: 300 };

/** A consumer that keeps the view a downstream user would build from the entries. */
function consume(server: KubeApiServer, kind: KubeKind, options: KubernetesReaderOptions = {}) {
  const kc = new KubeConfig();
  kc.loadFromFile(server.writeKubeconfig(mkdtempSync(join(dir, 'kc-'))));
  const telemetry = new PipelineTelemetry();
  const entries: Entry[] = [];
  const view = new Map<string, string>();
  const errors: unknown[] = [];
  const subscription: Subscription = kubernetesReader(kc, kind, { ...FAST, telemetry, ...options }).subscribe({
    next: (entry) => {
      entries.push(entry);
      if (entry.change === 'delete') view.delete(entry.uid);
      else view.set(entry.uid, entry.object.metadata?.resourceVersion ?? '');
    },
    error: (err: unknown) => errors.push(err),
  });
  return { entries, view, errors, telemetry, subscription };
}

const serverView = (server: KubeApiServer, kind: KubeKind): Map<string, string> =>
  new Map(server.list(kind).map((o) => [o.metadata.uid, o.metadata.resourceVersion]));

async function eventually(check: () => void, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const pod = (name: string, extra: Record<string, unknown> = {}) => ({ metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'i' }] }, ...extra });

describe('kubernetesReader against a test API server', () => {
  let server: KubeApiServer;
  let consumers: { subscription: Subscription }[] = [];
  const open = (kind: KubeKind, options?: KubernetesReaderOptions) => {
    const c = consume(server, kind, options);
    consumers.push(c);
    return c;
  };
  beforeAll(async () => {
    server = await startKubeApiServer();
  });
  afterEach(() => {
    for (const c of consumers) c.subscription.unsubscribe();
    consumers = [];
  });
  afterAll(async () => {
    await server.close();
  });

  it('lists every object as add, page by page, then watches from the list\'s resourceVersion', async () => {
    for (let i = 0; i < 25; i += 1) server.create('node', { metadata: { name: `node-${i}` } });
    const listRv = server.resourceVersion();
    const before = server.requests.length;
    const c = open('node');
    await eventually(() => {
      expect(c.view).toEqual(serverView(server, 'node'));
      expect(server.openWatches('node')).toBe(1);
    });
    expect(c.entries.every((e) => e.change === 'add' && e.kind === 'node' && e.source === 'kubernetes')).toBe(true);
    const mine = server.requests.slice(before).filter((r) => r.kind === 'node');
    const lists = mine.filter((r) => !r.watch);
    expect(lists.map((r) => r.query['limit'])).toEqual(['10', '10', '10']);
    expect(lists[0]!.query['continue']).toBeUndefined();
    expect(lists[1]!.query['continue']).toBeDefined();
    const watch = mine.find((r) => r.watch)!;
    expect(watch.query['resourceVersion']).toBe(listRv);
    expect(watch.query['allowWatchBookmarks']).toBe('true');
  });

  it('streams add, update and delete from the watch', async () => {
    const c = open('pod');
    await eventually(() => {
      expect(server.openWatches('pod')).toBe(1);
    });
    const a = server.create('pod', pod('a'));
    server.update('pod', { ...pod('a'), metadata: { name: 'a', namespace: 'default', labels: { v: '2' } } });
    const b = server.create('pod', pod('b'));
    server.remove('pod', a.metadata.uid);
    await eventually(() => {
      expect(c.entries.map((e) => `${e.change}:${e.object.metadata?.name ?? ''}`)).toEqual(['add:a', 'update:a', 'add:b', 'delete:a']);
    });
    expect(c.view).toEqual(new Map([[b.metadata.uid, b.metadata.resourceVersion]]));
    server.remove('pod', b.metadata.uid);
  });

  it('resumes after a dropped connection from the last resourceVersion, bookmarks included', async () => {
    const c = open('namespace');
    await eventually(() => {
      expect(server.openWatches('namespace')).toBe(1);
    });
    server.create('namespace', { metadata: { name: 'ns-1' } });
    server.create('pod', pod('elsewhere')); // moves the global resourceVersion on
    server.bookmark();
    const bookmarkRv = server.resourceVersion();
    await sleep(50);
    const before = server.requests.length;
    server.dropWatches();
    await eventually(() => {
      expect(server.requests.slice(before).some((r) => r.kind === 'namespace' && r.watch)).toBe(true);
    });
    const resumed = server.requests.slice(before).filter((r) => r.kind === 'namespace');
    expect(resumed[0]!.watch).toBe(true); // no relist
    expect(resumed[0]!.query['resourceVersion']).toBe(bookmarkRv);
    server.create('namespace', { metadata: { name: 'ns-2' } });
    await eventually(() => {
      expect(c.view).toEqual(serverView(server, 'namespace'));
    });
  });

  it('relists on 410 Gone (as a watch ERROR event) and deletes what the relist no longer shows', async () => {
    const c = open('persistentvolume');
    const keep = server.create('persistentvolume', { metadata: { name: 'pv-keep' } });
    const gone = server.create('persistentvolume', { metadata: { name: 'pv-gone' } });
    await eventually(() => {
      expect(c.view.size).toBe(2);
    });
    // while the reader is away, pv-gone is deleted and the history compacted: the delete is lost
    server.failNext(3, 503, 'watch');
    server.dropWatches();
    server.remove('persistentvolume', gone.metadata.uid);
    server.update('persistentvolume', { metadata: { name: 'pv-keep', labels: { x: 'y' } } });
    server.compact();
    await eventually(() => {
      expect(c.view).toEqual(serverView(server, 'persistentvolume'));
    });
    const tail = c.entries.slice(2).map((e) => `${e.change}:${e.object.metadata?.name ?? ''}`);
    expect(tail.sort()).toEqual(['delete:pv-gone', 'update:pv-keep']);
    expect(c.view.get(keep.metadata.uid)).toBe(server.list('persistentvolume').find((o) => o.metadata.name === 'pv-keep')!.metadata.resourceVersion);
    expect(c.telemetry.snapshot().readerErrors['persistentvolume']).toBeGreaterThanOrEqual(1);
  });

  it('relists on an HTTP 410 and on an expired continue token', async () => {
    for (let i = 0; i < 15; i += 1) server.create('service', { metadata: { name: `svc-${i}` } });
    const c = open('service');
    await eventually(() => {
      expect(server.openWatches('service')).toBe(1);
    });
    server.goneNextWatch('http');
    server.expireNextContinue(); // the relist's second page: the list starts over
    server.dropWatches();
    const extra = server.create('service', { metadata: { name: 'svc-late' } });
    await eventually(() => {
      expect(c.view.get(extra.metadata.uid)).toBe(extra.metadata.resourceVersion);
      expect(c.view).toEqual(serverView(server, 'service'));
    });
    const lists = server.requests.filter((r) => r.kind === 'service' && !r.watch);
    // first list: 2 pages; relist: page 1, page 2 refused (410), then 2 pages again
    expect(lists.map((r) => (r.query['continue'] === undefined ? 'first' : 'next'))).toEqual(['first', 'next', 'first', 'next', 'first', 'next']);
  });

  it('drops stale events (an older resourceVersion or generation) and refuses objects without uid', async () => {
    const c = open('deployment');
    await eventually(() => {
      expect(server.openWatches('deployment')).toBe(1);
    });
    const d = server.create('deployment', { metadata: { name: 'web' } });
    const d2 = server.update('deployment', { metadata: { name: 'web', labels: { v: '2' } } });
    await eventually(() => {
      expect(c.view.get(d.metadata.uid)).toBe(d2.metadata.resourceVersion);
    });
    // a replay of the first version, and an event with a newer rv but an older generation
    server.sendRaw('deployment', { type: 'MODIFIED', object: d });
    server.sendRaw('deployment', {
      type: 'MODIFIED',
      object: { ...d, metadata: { ...d.metadata, resourceVersion: String(Number(server.resourceVersion()) + 100), generation: 1 } },
    });
    server.sendRaw('deployment', { type: 'ADDED', object: { kind: 'Deployment', metadata: { name: 'no-uid', resourceVersion: '1' } } });
    const after = server.create('deployment', { metadata: { name: 'after' } });
    await eventually(() => {
      expect(c.view.has(after.metadata.uid)).toBe(true);
    });
    expect(c.view.get(d.metadata.uid)).toBe(d2.metadata.resourceVersion);
    expect(c.entries.map((e) => e.object.metadata?.name)).toEqual(['web', 'web', 'after']);
    expect(c.telemetry.snapshot().dropped).toMatchObject({ stale: 2, 'missing-uid': 1 });
    expect(c.errors).toEqual([]);
  });

  it('re-sends a full dump as snapshot entries every resync period', async () => {
    const a = server.create('endpoints', { metadata: { name: 'ep-a' } });
    const b = server.create('endpoints', { metadata: { name: 'ep-b' } });
    const c = open('endpoints', { resync: 150 });
    await eventually(() => {
      const snaps = c.entries.filter((e) => e.change === 'snapshot').map((e) => e.uid);
      expect(new Set(snaps)).toEqual(new Set([a.metadata.uid, b.metadata.uid]));
    });
    expect(c.view).toEqual(serverView(server, 'endpoints'));
  });

  it('backs off and reconnects after 500s and truncated list bodies', async () => {
    for (let i = 0; i < 12; i += 1) server.create('pod', pod(`p-${i}`));
    server.failNext(2, 500, 'list');
    server.truncateNextList();
    const c = open('pod');
    await eventually(() => {
      expect(c.view).toEqual(serverView(server, 'pod'));
      expect(server.openWatches('pod')).toBe(1);
    });
    expect(c.telemetry.snapshot().readerErrors['pod']).toBeGreaterThanOrEqual(3);
    // an ERROR event other than 410 in the watch stream: back off and resume, no relist
    const before = server.requests.length;
    server.sendRaw('pod', { type: 'ERROR', object: { kind: 'Status', code: 500, message: 'etcd leader changed' } });
    server.endWatches();
    const late = server.create('pod', pod('late'));
    await eventually(() => {
      expect(c.view.get(late.metadata.uid)).toBe(late.metadata.resourceVersion);
    });
    expect(server.requests.slice(before).filter((r) => r.kind === 'pod').every((r) => r.watch)).toBe(true);
    expect(c.telemetry.snapshot().readerErrors['pod']).toBeGreaterThanOrEqual(4);
    expect(c.errors).toEqual([]);
  });
});

describe('kubernetesReader (property)', () => {
  type Op =
    | { op: 'create' }
    | { op: 'update'; pick: number }
    | { op: 'delete'; pick: number }
    | { op: 'drop' | 'end' | 'compact' | 'bookmark' | 'expire' | 'expire-next' | 'truncate' | 'gone-event' | 'gone-http' }
    | { op: 'fail'; count: number; on: 'list' | 'watch' }
    | { op: 'sleep'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.constant<Op>({ op: 'create' }), weight: 3 },
    { arbitrary: fc.nat(50).map<Op>((pick) => ({ op: 'update', pick })), weight: 2 },
    { arbitrary: fc.nat(50).map<Op>((pick) => ({ op: 'delete', pick })), weight: 2 },
    {
      arbitrary: fc.constantFrom<Op>(
        { op: 'drop' },
        { op: 'end' },
        { op: 'compact' },
        { op: 'bookmark' },
        { op: 'expire' },
        { op: 'expire-next' },
        { op: 'truncate' },
        { op: 'gone-event' },
        { op: 'gone-http' },
      ),
      weight: 3,
    },
    { arbitrary: fc.constantFrom<Op>({ op: 'drop' }, { op: 'end' }), weight: 2 },
    {
      arbitrary: fc
        .record({ count: fc.integer({ min: 1, max: 3 }), on: fc.constantFrom<'list' | 'watch'>('list', 'watch') })
        .map<Op>((f) => ({ op: 'fail', ...f })),
      weight: 1,
    },
    { arbitrary: fc.integer({ min: 0, max: 30 }).map<Op>((ms) => ({ op: 'sleep', ms })), weight: 2 },
  );

  it('after any sequence of faults, the consumer\'s view equals the server\'s', async () => {
    let runsWithReconnect = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 25 }), fc.array(op, { maxLength: 14 }), async (seed, ops) => {
        const server = await startKubeApiServer();
        const c = consume(server, 'pod', { pageSize: 4, backoff: { initial: 2, max: 20 }, requestTimeout: 200 });
        try {
          for (let i = 0; i < seed; i += 1) server.create('pod', pod(`seed-${i}`));
          await eventually(() => {
            expect(server.openWatches('pod')).toBe(1);
          });
          let n = 0;
          for (const step of ops) {
            const live = server.list('pod');
            switch (step.op) {
              case 'create':
                server.create('pod', pod(`new-${n++}`));
                break;
              case 'update': {
                const target = live[step.pick % Math.max(1, live.length)];
                if (target) server.update('pod', { ...target, metadata: { ...target.metadata, labels: { n: String(n++) } } });
                break;
              }
              case 'delete': {
                const target = live[step.pick % Math.max(1, live.length)];
                if (target) server.remove('pod', target.metadata.uid);
                break;
              }
              case 'drop':
                server.dropWatches();
                break;
              case 'end':
                server.endWatches();
                break;
              case 'compact':
                server.compact();
                break;
              case 'bookmark':
                server.bookmark();
                break;
              case 'expire':
                server.expireContinueTokens();
                break;
              case 'expire-next':
                server.expireNextContinue();
                break;
              case 'truncate':
                server.truncateNextList();
                break;
              case 'gone-event':
                server.goneNextWatch('event');
                break;
              case 'gone-http':
                server.goneNextWatch('http');
                break;
              case 'fail':
                server.failNext(step.count, 500, step.on);
                break;
              case 'sleep':
                await sleep(step.ms);
                break;
            }
          }
          await eventually(() => {
            expect(c.view).toEqual(serverView(server, 'pod'));
          }, 10_000);
          expect(c.errors).toEqual([]);
          if (server.requests.filter((r) => r.watch).length > 1) runsWithReconnect += 1;
        } finally {
          c.subscription.unsubscribe();
          await server.close();
        }
      }),
      { numRuns: 25 },
    );
    // the runs did go through reconnections, not only through calm weather
    expect(runsWithReconnect).toBeGreaterThanOrEqual(5);
  }, 120_000);
});
