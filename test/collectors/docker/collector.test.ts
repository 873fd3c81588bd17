/**
 * The Docker collector against a real, private Docker engine (test/services/docker.ts): real
 * containers with labels and env, observed through a real Tagger. Needs the Debian packages
 * docker.io and busybox-static, and root; skipped with a printed reason elsewhere, failed under CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { filter, firstValueFrom, lastValueFrom, take, timeout, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { DockerCollectorOptionError, dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerCollector, DockerCollectorOptions, DockerConnectionState } from '../../../src/collectors/docker/index.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import { createTagger } from '../../../src/tagger/tagger.js';
import type { Tagger } from '../../../src/tagger/contract.js';
import { SourcePriority } from '../../../src/tagger/types.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { requireDockerEngine, skipDockerSuite, startDockerEngine } from '../../services/docker.js';
import type { DockerEngine } from '../../services/docker.js';
import { RecordingLogger } from '../recording-logger.js';
import { startSocketProxy } from './socket-proxy.js';

const WAIT = 15_000;

let engine: DockerEngine;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A collector on the engine and a started Tagger over it, both stopped after the test. */
function setUp(options: DockerCollectorOptions = {}): { collector: DockerCollector; tagger: Tagger } {
  const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }), reconnectDelay: { base: 100, max: 1000 }, ...options });
  const tagger = createTagger({ collectors: [collector], pruneInterval: 200, logger: silentLogger });
  tagger.start();
  cleanups.push(() => {
    tagger.stop();
  });
  return { collector, tagger };
}

/** The first tags of container `id` (at `cardinality`) that satisfy `predicate`. */
function waitForTags(tagger: Tagger, id: string, predicate: (tags: string[]) => boolean, cardinality: 'low' | 'high' = 'high'): Promise<string[]> {
  return firstValueFrom(tagger.tags$(containerId(id), cardinality).pipe(filter(predicate), timeout(WAIT)));
}

function waitForState(collector: DockerCollector, status: DockerConnectionState['status']): Promise<DockerConnectionState> {
  return firstValueFrom(collector.state$.pipe(filter((state) => state.status === status), timeout(30_000)));
}

function dockerEntities(tagger: Tagger): string[] {
  return tagger
    .list()
    .filter((listing) => listing.sources.includes('docker'))
    .map((listing) => listing.entity)
    .sort();
}

/** Waits until the Tagger holds Docker tags for exactly the running containers; returns them. */
async function waitUntilInSync(tagger: Tagger): Promise<string[]> {
  const deadline = Date.now() + 30_000;
  let truth: string[] = [];
  let held: string[] = [];
  while (Date.now() < deadline) {
    truth = (await engine.runningIds()).map((id) => containerId(id)).sort();
    held = dockerEntities(tagger);
    if (JSON.stringify(truth) === JSON.stringify(held)) return held;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the tagger never matched the running containers: running ${JSON.stringify(truth)}, tagged ${JSON.stringify(held)}`);
}

async function removeAll(): Promise<void> {
  const all = await engine.docker.listContainers({ all: true });
  await Promise.all(all.map((c) => engine.docker.getContainer(c.Id).remove({ force: true })));
}

const skip = skipDockerSuite();

describe.skipIf(skip)('dockerCollector against a real Docker engine', () => {
  beforeAll(async () => {
    requireDockerEngine();
    engine = await startDockerEngine();
  }, 120_000);
  afterAll(async () => {
    await engine.destroy();
  }, 60_000);
  afterEach(async () => {
    await removeAll();
  }, 60_000);

  it('is a stream collector at node-runtime priority, with fetch', () => {
    const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }) });
    expect(collector.source).toBe('docker');
    expect(collector.priority).toBe(SourcePriority.NodeRuntime);
    expect(collector.mode).toBe('stream');
    expect(collector.covers).toEqual(['container_id']);
    expect(collector.state).toEqual({ status: 'idle' });
  });

  it.each([
    [{ inspectConcurrency: 0 }, 'inspectConcurrency'],
    [{ inspectConcurrency: 1.5 }, 'inspectConcurrency'],
    [{ reconnectDelay: { base: -1 } }, 'reconnectDelay.base'],
    [{ reconnectDelay: { base: 1000, max: 10 } }, 'reconnectDelay.max'],
    [{ imageCacheSize: 0 }, 'imageCacheSize'],
    [{ stoppedGrace: 0 }, 'stoppedGrace'],
    [{ stoppedGrace: Number.NaN }, 'stoppedGrace'],
  ])('refuses %j with a typed error', (options, option) => {
    const docker = new Docker({ socketPath: engine.socketPath });
    expect(() => dockerCollector({ docker, ...options })).toThrow(DockerCollectorOptionError);
    expect(() => dockerCollector({ docker, ...options })).toThrow(expect.objectContaining({ tag: 'DockerCollectorOption', option }));
  });

  it('tags the containers running at start, from labels and env, with the configured mappings', async () => {
    const id = await engine.run({
      name: 'payments-api',
      labels: { 'com.example.team': 'payments', 'com.docker.swarm.service.name': 'api', 'com.datadoghq.ad.tags': '["tier:1"]' },
      env: ['DD_ENV=prod', 'DD_SERVICE=api', 'REGION=eu-west-1', 'SECRET=hunter2'],
    });
    const { collector, tagger } = setUp({ labelsAsTags: { 'com.example.team': 'team' }, envAsTags: { REGION: '+region' } });

    const high = await waitForTags(tagger, id, (tags) => tags.includes('container_name:payments-api'));
    expect(high).toEqual(
      expect.arrayContaining([
        'docker_image:tiny:1.0',
        'image_name:tiny',
        'short_image:tiny',
        'image_tag:1.0',
        'swarm_service:api',
        'env:prod',
        'service:api',
        'team:payments',
        'container_name:payments-api',
        `container_id:${id}`,
        'tier:1',
        'region:eu-west-1',
      ]),
    );
    expect(high.some((tag) => tag.includes('hunter2'))).toBe(false);
    const low = await tagger.tag(containerId(id), 'low');
    expect(low).toContain('team:payments');
    expect(low).not.toContain('region:eu-west-1');
    expect(low).not.toContain(`container_id:${id}`);
    // The tags may have come first from a fetch on miss; the stream connects having listed one container.
    expect(await waitForState(collector, 'connected')).toEqual({ status: 'connected', containers: 1 });
    expect(collector.counters.inspects).toBeGreaterThanOrEqual(1);
  });

  it('follows events: a started container gets tags, a rename changes them, a stop removes them after the grace', async () => {
    const { collector, tagger } = setUp({ stoppedGrace: 500 });
    await waitForState(collector, 'connected');

    const id = await engine.run({ name: 'before-rename', labels: { 'com.datadoghq.tags.version': '1.2' } });
    const first = await waitForTags(tagger, id, (tags) => tags.includes('container_name:before-rename'));
    expect(first).toContain('version:1.2');

    await engine.docker.getContainer(id).rename({ name: 'after-rename' });
    const renamed = await waitForTags(tagger, id, (tags) => tags.includes('container_name:after-rename'));
    expect(renamed).not.toContain('container_name:before-rename');

    const deleted = firstValueFrom(tagger.events$({ prefix: containerId(id) }).pipe(filter((e) => e.type === 'deleted'), timeout(WAIT)));
    await engine.docker.getContainer(id).kill();
    await deleted;
    expect(await tagger.tag(containerId(id), 'high')).toEqual([]);
    expect(collector.counters.events).toBeGreaterThanOrEqual(3);
  });

  it('names an image given by id from the image\'s repo tags, asking the daemon once', async () => {
    const a = await engine.run({ image: engine.imageId });
    const b = await engine.run({ image: engine.imageId });
    const { collector, tagger } = setUp();
    for (const id of [a, b]) {
      const low = await waitForTags(tagger, id, (tags) => tags.includes('image_name:tiny'), 'low');
      expect(low).toEqual(expect.arrayContaining(['docker_image:tiny:1.0', 'short_image:tiny', 'image_tag:1.0']));
    }
    expect(collector.counters.imageInspects).toBe(1);
  });

  it('answers fetch for a running container, and for a stopped one within its grace only', async () => {
    const running = await engine.run({ name: 'fetched' });
    const stopped = await engine.run({ name: 'stopped' });
    await engine.docker.getContainer(stopped).kill();
    const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }) });
    const graceOver = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }), stoppedGrace: 1 });
    const fetchAll = (entity: string): Promise<TagInfo[]> => lastValueFrom(collector.fetch(entity).pipe(toArray()));

    const [info] = await fetchAll(containerId(running));
    expect(info).toMatchObject({ entity: containerId(running), source: 'docker' });
    expect(info?.highCardTags).toContain('container_name:fetched');
    const [stoppedInfo] = await fetchAll(containerId(stopped));
    expect(stoppedInfo?.highCardTags).toContain('container_name:stopped');
    expect(await lastValueFrom(graceOver.fetch(containerId(stopped)).pipe(toArray()))).toEqual([]);
    expect(await fetchAll(containerId('0123456789abcdef0123456789abcdef'))).toEqual([]);
    expect(await fetchAll('kubernetes_pod_uid://abc')).toEqual([]);
    expect(await fetchAll('container_id://')).toEqual([]);
    expect(collector.counters.inspectErrors).toBe(0);
    // fetch does not connect the stream.
    expect(collector.state).toEqual({ status: 'idle' });
  });

  it('fetch fails with a typed error when the daemon cannot answer', async () => {
    const collector = dockerCollector({ docker: new Docker({ socketPath: join(tmpdir(), 'no-such-docker.sock') }) });
    // A container id in the daemon's form (hex): anything else is not found without a request.
    await expect(lastValueFrom(collector.fetch(containerId('abcabcabcabc')).pipe(toArray()))).rejects.toMatchObject({
      tag: 'DockerCollector',
      reason: 'inspect-failed',
      containerId: 'abcabcabcabc',
    });
    expect(collector.counters.inspectErrors).toBe(1);
  });

  it('is hot and shared: one event stream for every subscriber; a late one first gets what is known', async () => {
    const a = await engine.run({ name: 'shared-a' });
    let eventStreams = 0;
    const real = new Docker({ socketPath: engine.socketPath });
    const counted = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'getEvents') eventStreams += 1;
        return Reflect.get(target, property, receiver) as unknown;
      },
    });
    const collector = dockerCollector({ docker: counted });
    const first: TagInfo[] = [];
    const subscription = collector.tagInfo$.subscribe((info) => first.push(info));
    cleanups.push(() => {
      subscription.unsubscribe();
    });
    await vi.waitFor(
      () => {
        expect(first.map((info) => info.entity)).toContain(containerId(a));
      },
      { timeout: WAIT, interval: 50 },
    );

    const late = await firstValueFrom(collector.tagInfo$.pipe(take(1), timeout(WAIT)));
    expect(late.entity).toBe(containerId(a));
    expect(late.highCardTags).toContain('container_name:shared-a');

    const b = await engine.run({ name: 'shared-b' });
    const seenLate = firstValueFrom(collector.tagInfo$.pipe(filter((info) => info.entity === containerId(b)), timeout(WAIT)));
    expect((await seenLate).highCardTags).toContain('container_name:shared-b');
    expect(first.some((info) => info.entity === containerId(b))).toBe(true);
    expect(eventStreams).toBe(1);

    subscription.unsubscribe();
    expect(collector.state).toEqual({ status: 'idle' });
  });

  it('after a lost connection, reconnects, deletes what vanished and tags what appeared meanwhile', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tagstream-proxy-'));
    const proxy = await startSocketProxy(engine.socketPath, join(dir, 'proxy.sock'));
    cleanups.push(async () => {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const keep = await engine.run({ name: 'keep' });
    const gone = await engine.run({ name: 'gone' });
    const logger = new RecordingLogger();
    const collector = dockerCollector({ docker: new Docker({ socketPath: proxy.socketPath }), reconnectDelay: { base: 100, max: 400 }, logger });
    const tagger = createTagger({ collectors: [collector], pruneInterval: 200, logger: silentLogger });
    tagger.start();
    cleanups.push(() => {
      tagger.stop();
    });
    await waitForTags(tagger, gone, (tags) => tags.includes('container_name:gone'));
    await waitForTags(tagger, keep, (tags) => tags.includes('container_name:keep'));

    proxy.cut();
    const retrying = await waitForState(collector, 'retrying');
    expect(retrying).toMatchObject({ status: 'retrying', reason: { tag: 'DockerCollector' } });
    await engine.docker.getContainer(gone).remove({ force: true });
    const appeared = await engine.run({ name: 'appeared' });
    await engine.docker.getContainer(keep).rename({ name: 'kept' });
    // Still cut: the tagger has heard nothing of it.
    expect(dockerEntities(tagger)).toContain(containerId(gone));
    proxy.restore();

    await waitForState(collector, 'connected');
    expect(await waitUntilInSync(tagger)).toEqual([containerId(appeared), containerId(keep)].sort());
    expect(await waitForTags(tagger, appeared, (tags) => tags.includes('container_name:appeared'))).toContain(`container_id:${appeared}`);
    expect(await waitForTags(tagger, keep, (tags) => tags.includes('container_name:kept'))).not.toContain('container_name:keep');
    expect(await tagger.tag(containerId(gone), 'high')).toEqual([]);
    expect(collector.counters.reconnects).toBeGreaterThanOrEqual(1);
    // The events missed while cut off were replayed (`since`): the relist had nothing left to delete.
    expect(collector.counters.vanished).toBe(0);
    expect(logger.at('warn').some((record) => record.message.includes('reconnecting'))).toBe(true);
  });

  it.each([
    ['watching', false],
    ['cut off (the old daemon\'s events lost: the relist decides)', true],
  ])('survives a daemon restart while %s: nothing stale, nothing missing', async (_, cutOff) => {
    const dir = mkdtempSync(join(tmpdir(), 'tagstream-proxy-'));
    const proxy = await startSocketProxy(engine.socketPath, join(dir, 'proxy.sock'));
    cleanups.push(async () => {
      await proxy.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const survivor = await engine.run({ name: 'survivor', restartAlways: true });
    const casualty = await engine.run({ name: 'casualty' });
    const { collector, tagger } = setUp({ docker: new Docker({ socketPath: proxy.socketPath }), reconnectDelay: { base: 200, max: 1000 }, stoppedGrace: 2000 });
    await waitForTags(tagger, survivor, (tags) => tags.includes('container_name:survivor'));
    await waitForTags(tagger, casualty, (tags) => tags.includes('container_name:casualty'));

    if (cutOff) proxy.cut();
    await engine.stop();
    await waitForState(collector, 'retrying');
    await engine.start();
    // Changes right after the restart, racing the collector's reconnection (or while it is cut off).
    const newcomer = await engine.run({ name: 'newcomer' });
    // Cut off, the casualty's `die` went to nobody and the new daemon never mentions it: only the
    // relist can tell it stopped (it keeps its tags for the grace, then loses them). Watching, it
    // is also removed, racing the reconnection.
    if (!cutOff) await engine.docker.getContainer(casualty).remove({ force: true });
    if (cutOff) {
      expect(dockerEntities(tagger)).toContain(containerId(casualty));
      proxy.restore();
    }

    await waitForState(collector, 'connected');
    const held = await waitUntilInSync(tagger);
    expect(held).toEqual([containerId(newcomer), containerId(survivor)].sort());
    expect(await waitForTags(tagger, survivor, (tags) => tags.includes('container_name:survivor'))).toContain(`container_id:${survivor}`);
    expect(await waitForTags(tagger, newcomer, (tags) => tags.includes('container_name:newcomer'))).toContain('image_name:tiny');
    expect(await tagger.tag(containerId(casualty), 'high')).toEqual([]);
    expect(collector.counters.reconnects).toBeGreaterThanOrEqual(1);
    if (cutOff) expect(collector.counters.expired).toBeGreaterThanOrEqual(1);
  }, 90_000);
});
