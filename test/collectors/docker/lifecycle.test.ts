/**
 * A container's lifecycle against a real, private Docker engine (test/services/docker.ts), observed
 * through a real Tagger: `docker restart` keeps the container id, so a restart must never take
 * the tags of a running container away; a stopped container keeps its tags for `stoppedGrace`
 * (its last log lines are read after it died); `destroy` deletes at the next prune; a fetch that
 * finds a container stopped answers its tags within the grace and never hides a later start.
 * Needs the Debian packages docker.io and busybox-static, and root; skipped with a printed reason
 * elsewhere, failed under CI.
 */
import Docker from 'dockerode';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerCollector, DockerCollectorOptions } from '../../../src/collectors/docker/index.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import { createTagger } from '../../../src/tagger/tagger.js';
import type { TagEvent, Tagger } from '../../../src/tagger/contract.js';
import { silentLogger } from '../../../src/util/logger.js';
import { TINY_IMAGE, requireDockerEngine, skipDockerSuite, startDockerEngine } from '../../services/docker.js';
import type { DockerEngine } from '../../services/docker.js';

const WAIT = 15_000;
const PRUNE = 200;

let engine: DockerEngine;
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A collector on the engine and a started Tagger over it (prune window 200 ms), both stopped after the test. */
function setUp(options: DockerCollectorOptions = {}, pruneInterval = PRUNE): { collector: DockerCollector; tagger: Tagger } {
  const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }), ...options });
  const tagger = createTagger({ collectors: [collector], pruneInterval, logger: silentLogger });
  tagger.start();
  cleanups.push(() => {
    tagger.stop();
  });
  return { collector, tagger };
}

function waitForTags(tagger: Tagger, id: string, predicate: (tags: string[]) => boolean): Promise<string[]> {
  return firstValueFrom(tagger.tags$(containerId(id), 'high').pipe(filter(predicate), timeout(WAIT)));
}

function waitConnected(collector: DockerCollector): Promise<unknown> {
  return firstValueFrom(collector.state$.pipe(filter((state) => state.status === 'connected'), timeout(30_000)));
}

/** Records every `tags$` emission and every event of container `id` from now on. */
function observe(tagger: Tagger, id: string): { tags: string[][]; events: TagEvent['type'][] } {
  const seen = { tags: [] as string[][], events: [] as TagEvent['type'][] };
  const a = tagger.tags$(containerId(id), 'high').subscribe((tags) => seen.tags.push(tags));
  const b = tagger.events$({ prefix: containerId(id) }).subscribe((event) => seen.events.push(event.type));
  cleanups.push(() => {
    a.unsubscribe();
    b.unsubscribe();
  });
  return seen;
}

function held(tagger: Tagger, id: string): boolean {
  return tagger.list().some((listing) => listing.entity === containerId(id));
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function removeAll(): Promise<void> {
  const all = await engine.docker.listContainers({ all: true });
  await Promise.all(all.map((c) => engine.docker.getContainer(c.Id).remove({ force: true })));
}

/** Runs `work` on each item, at most `limit` at once. */
async function bounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next] as T;
      next += 1;
      await work(item);
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

const skip = skipDockerSuite();

describe.skipIf(skip)('a Docker container\'s lifecycle (real Docker engine)', () => {
  beforeAll(async () => {
    requireDockerEngine();
    engine = await startDockerEngine();
  }, 120_000);
  afterAll(async () => {
    await engine.destroy();
  }, 60_000);
  afterEach(async () => {
    await removeAll();
  }, 120_000);

  it('a container restarted 20 times in a row never loses its tags: tags$ never [] while it runs, no deleted event, always listed', async () => {
    const { collector, tagger } = setUp();
    await waitConnected(collector);
    const id = await engine.run({ name: 'restarted' });
    await waitForTags(tagger, id, (tags) => tags.includes('container_name:restarted'));
    const seen = observe(tagger, id);
    const container = engine.docker.getContainer(id);
    const missing: number[] = [];
    for (let restart = 1; restart <= 20; restart++) {
      // Kill at once (t=0): `die` and `start` land in one prune window, as a restart policy does.
      await container.restart({ t: 0 });
      // Past the prune window that holds the die: a delete would have been applied by now.
      await sleep(PRUNE * 2);
      if (!held(tagger, id) || (await tagger.tag(containerId(id), 'high')).length === 0) missing.push(restart);
    }
    expect((await container.inspect()).State.Running).toBe(true);
    expect(missing).toEqual([]);
    expect(seen.tags.length).toBeGreaterThanOrEqual(1);
    expect(seen.tags.filter((tags) => tags.length === 0)).toEqual([]);
    expect(seen.events.filter((type) => type === 'deleted')).toEqual([]);
    expect(seen.tags.at(-1)).toContain('container_name:restarted');
    // The daemon said so each time: 20 dies, 20 starts.
    expect(collector.counters.events).toBeGreaterThanOrEqual(40);
  }, 120_000);

  it('a stopped container keeps its tags for the grace, then loses them', async () => {
    const grace = 1500;
    const { collector, tagger } = setUp({ stoppedGrace: grace });
    await waitConnected(collector);
    const id = await engine.run({ name: 'stopping' });
    await waitForTags(tagger, id, (tags) => tags.includes('container_name:stopping'));
    const seen = observe(tagger, id);
    const deleted = firstValueFrom(tagger.events$({ prefix: containerId(id) }).pipe(filter((e) => e.type === 'deleted'), timeout(WAIT)));

    // Taken before the kill: the grace counts from the daemon's FinishedAt, which is after this.
    const killedAt = Date.now();
    await engine.docker.getContainer(id).kill();
    // Several prune windows later, well within the grace: still tagged, by tag(), tags$ and list().
    await sleep(PRUNE * 3);
    expect(Date.now() - killedAt).toBeLessThan(grace);
    expect(await tagger.tag(containerId(id), 'high')).toContain('container_name:stopping');
    expect(held(tagger, id)).toBe(true);
    expect(seen.tags.filter((tags) => tags.length === 0)).toEqual([]);

    await deleted;
    // Not before the grace ran out, counted from before the kill.
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(grace);
    expect(await tagger.tag(containerId(id), 'high')).toEqual([]);
    expect(held(tagger, id)).toBe(false);
    expect(seen.tags.at(-1)).toEqual([]);
  }, 60_000);

  it('destroy deletes at the next prune, running or stopped within the grace', async () => {
    const { collector, tagger } = setUp(); // default grace: 5 minutes
    await waitConnected(collector);
    const running = await engine.run({ name: 'removed-running' });
    const stopped = await engine.run({ name: 'removed-stopped' });
    await waitForTags(tagger, running, (tags) => tags.includes('container_name:removed-running'));
    await waitForTags(tagger, stopped, (tags) => tags.includes('container_name:removed-stopped'));
    await engine.docker.getContainer(stopped).kill();
    await sleep(PRUNE * 3);
    expect(held(tagger, stopped)).toBe(true);

    const gone = (id: string): Promise<unknown> =>
      firstValueFrom(tagger.events$({ prefix: containerId(id) }).pipe(filter((e) => e.type === 'deleted'), timeout(WAIT)));
    const bothGone = Promise.all([gone(running), gone(stopped)]);
    await engine.docker.getContainer(running).remove({ force: true });
    await engine.docker.getContainer(stopped).remove();
    await bothGone;
    expect(held(tagger, running)).toBe(false);
    expect(held(tagger, stopped)).toBe(false);
    expect(await tagger.tag(containerId(stopped), 'high')).toEqual([]);
  }, 60_000);

  it('a fetch that finds a container stopped answers its tags within the grace, and never hides its later start and restarts', async () => {
    const id = await engine.run({ name: 'fetched-stopped' });
    await engine.docker.getContainer(id).kill();
    // The Tagger starts after it stopped: the stream never saw it run, only a fetch on miss can tag it.
    const grace = 2000;
    const { collector, tagger } = setUp({ stoppedGrace: grace });
    await waitConnected(collector);
    expect(await tagger.tag(containerId(id), 'high')).toContain('container_name:fetched-stopped');

    const seen = observe(tagger, id);
    const container = engine.docker.getContainer(id);
    await container.start();
    await waitForTags(tagger, id, (tags) => tags.includes('container_name:fetched-stopped'));
    for (let restart = 0; restart < 3; restart++) {
      await container.restart({ t: 0 });
      await sleep(PRUNE * 2);
    }
    // Past the grace the fetch started: the start cancelled it.
    await sleep(grace);
    expect(await tagger.tag(containerId(id), 'high')).toContain('container_name:fetched-stopped');
    expect(held(tagger, id)).toBe(true);
    expect(seen.tags.filter((tags) => tags.length === 0)).toEqual([]);
  }, 60_000);

  it('a tag() while a container is stopped never hides its later start and restarts from tag()', async () => {
    // The defaults: a 1 s prune window (a restart's die and start land in one), a 5 minute grace;
    // the Tagger's not-found memory: 30 s.
    const prune = 1000;
    const { collector, tagger } = setUp({}, prune);
    await waitConnected(collector);
    const id = await engine.run({ name: 'asked-while-stopped' });
    await waitForTags(tagger, id, (tags) => tags.includes('container_name:asked-while-stopped'));
    const container = engine.docker.getContainer(id);
    await container.kill();
    // Past the prune window of the die: asked while stopped (a fetch, were the tags gone).
    await sleep(prune * 2);
    expect.soft(await tagger.tag(containerId(id), 'high')).toContain('container_name:asked-while-stopped');
    await container.start();
    const missing: number[] = [];
    for (let restart = 1; restart <= 5; restart++) {
      await container.restart({ t: 0 });
      await sleep(prune * 2);
      if ((await tagger.tag(containerId(id), 'high')).length === 0) missing.push(restart);
    }
    expect(missing).toEqual([]);
  }, 60_000);

  it('a fetch does not bring back a container stopped for longer than the grace; its "not found" never hides the start', async () => {
    const grace = 500;
    const id = await engine.run({ name: 'long-stopped' });
    await engine.docker.getContainer(id).kill();
    await sleep(grace * 2);
    const { collector, tagger } = setUp({ stoppedGrace: grace });
    await waitConnected(collector);
    expect(await tagger.tag(containerId(id), 'high')).toEqual([]);
    expect(held(tagger, id)).toBe(false);
    // That "not found" is remembered (notFoundTtl, 30 s), yet it never hides the container's start:
    // the start's tags reach the store, and a stored source is never fetched.
    await engine.docker.getContainer(id).start();
    await waitForTags(tagger, id, (tags) => tags.includes('container_name:long-stopped'));
    const hits = tagger.telemetry().negativeCacheHits;
    expect(await tagger.tag(containerId(id), 'high')).toContain('container_name:long-stopped');
    expect(tagger.telemetry().negativeCacheHits).toBe(hits);
  }, 30_000);

  // 250 by default, not the 1,000 of the issue: under the vfs storage driver each container copies
  // its root filesystem, and creating and starting 1,000 (8 at a time) took 174 s on the 2-core CI
  // machine (all of them gone 3.4 s after the last start, with a 3 s grace). The rule is the same
  // for 250 (about 45 s); TAGSTREAM_LIFECYCLE_COUNT=1000 runs the full count.
  const COUNT = Number(process.env.TAGSTREAM_LIFECYCLE_COUNT ?? 250);
  it(`${COUNT} containers started and stopped are all tagged, and leave nothing after the grace`, async () => {
    const grace = 3000;
    const { collector, tagger } = setUp({ stoppedGrace: grace, inspectConcurrency: 16 });
    await waitConnected(collector);
    const added = new Set<string>();
    const deleted = new Set<string>();
    const subscription = tagger.events$({ prefix: 'container_id://' }).subscribe((event) => {
      (event.type === 'deleted' ? deleted : added).add(event.entity);
    });
    cleanups.push(() => {
      subscription.unsubscribe();
    });
    const ids: string[] = [];
    const began = Date.now();
    // A container whose process exits at once: start, then die on its own.
    await bounded(Array.from({ length: COUNT }, (_, i) => i), 8, async (i) => {
      const container = await engine.docker.createContainer({
        Image: TINY_IMAGE,
        Cmd: ['/bin/sh', '-c', 'exit 0'],
        name: `short-${i}`,
        HostConfig: { NetworkMode: 'none' },
      });
      await container.start();
      ids.push(container.id);
    });
    const created = Date.now() - began;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline && (deleted.size < COUNT || tagger.list().length > 0)) await sleep(200);
    console.info(`lifecycle: ${COUNT} containers created and started in ${created} ms; all gone ${Date.now() - began} ms after the first`);

    const entities = ids.map((id) => containerId(id)).sort();
    expect([...added].sort()).toEqual(entities);
    expect([...deleted].sort()).toEqual(entities);
    expect(tagger.list()).toEqual([]);
    expect(tagger.telemetry()).toMatchObject({ entities: 0, pendingDeletes: 0 });
    expect(await tagger.tag(containerId(ids[0] ?? ''), 'high')).toEqual([]);
  }, 600_000);
});
