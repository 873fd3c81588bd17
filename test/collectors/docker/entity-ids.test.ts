/**
 * Entity ids from outside against a real, private Docker engine (test/services/docker.ts): no id
 * reaches the Docker API unless it is a container id (hex, 12 to 64 characters), the client
 * tagstream builds never follows a redirect, and a short id as `docker ps` prints it resolves.
 * A loopback listener stands for every host the agent must never be sent to.
 */
import { type Server, createServer } from 'node:net';
import Docker from 'dockerode';
import fc from 'fast-check';
import { lastValueFrom, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dockerClient, dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerCollector } from '../../../src/collectors/docker/index.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import { TaggerError } from '../../../src/tagger/errors.js';
import { createTagger } from '../../../src/tagger/tagger.js';
import type { Tagger } from '../../../src/tagger/contract.js';
import type { Collector } from '../../../src/tagger/types.js';
import { silentLogger } from '../../../src/util/logger.js';
import { requireDockerEngine, skipDockerSuite, startDockerEngine } from '../../services/docker.js';
import type { DockerEngine } from '../../services/docker.js';

let engine: DockerEngine;
let listener: Server;
let port: number;
/** Every request line the loopback listener received. */
const reached: string[] = [];
/** Errors nobody handled while the suite ran (each one would have killed an agent). */
const unhandled: unknown[] = [];
const onUncaught = (error: unknown): void => {
  unhandled.push(error);
};
const cleanups: (() => void)[] = [];

afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

/** The ids of issue 11, plus the loopback forgery aimed at `port`. */
function hostileIds(): string[] {
  return ['../x', '..', '.', './x', 'a?b=c', 'x/logs?follow=1&stdout=1&y=', `../../127.0.0.1:${port}/x`, `..//127.0.0.1:${port}/x`, '%2e%2e/x', 'x#y', 'A'.repeat(64), '0123456789a', `http://127.0.0.1:${port}/`];
}

/** Arbitrary id parts: hostile shapes, printable text, anything at all. */
const idArb = fc.oneof(
  fc.constantFrom('..', '.', '/', '?', '#', '%2e', '%2f', 'logs?follow=1', `127.0.0.1`, ':', '@', '\\'),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.array(fc.constantFrom('..', '.', 'x', '127.0.0.1:1', 'logs?follow=1&stdout=1', ''), { maxLength: 6 }).map((parts) => parts.join('/')),
);

/** Waits for anything in flight (a followed redirect) to land. */
function settle(ms = 300): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function startTagger(collector: Collector): Tagger {
  const tagger = createTagger({ collectors: [collector], pruneInterval: 200, logger: silentLogger });
  tagger.start();
  cleanups.push(() => {
    tagger.stop();
  });
  return tagger;
}

/** The Docker collector as a fetch-only collector: it knows a container only by looking it up. */
function fetchOnly(collector: DockerCollector): Collector {
  return { source: collector.source, priority: collector.priority, mode: 'fetch', fetch: collector.fetch, shortIds: collector.shortIds };
}

const skip = skipDockerSuite();

describe.skipIf(skip)('entity ids against a real Docker engine', () => {
  beforeAll(async () => {
    requireDockerEngine();
    engine = await startDockerEngine();
    listener = createServer((socket) => {
      socket.on('data', (data) => {
        reached.push(data.toString('latin1').split('\r\n')[0] ?? '');
        socket.destroy();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as { port: number }).port;
    process.on('uncaughtException', onUncaught);
  }, 120_000);
  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    listener.close();
    await engine.destroy();
  }, 60_000);

  it('fetch sends no request for an id that is not a container id, and nothing reaches another host', async () => {
    // A plain dockerode client, which follows redirects: the collector alone must keep ids out.
    const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }), logger: silentLogger });
    const ids = [...hostileIds(), ...fc.sample(idArb, { numRuns: 300, seed: 11 })].filter((id) => !/^[0-9a-f]{12,64}$/.test(id));
    for (const id of ids) {
      const found = await lastValueFrom(collector.fetch(`container_id://${id}`).pipe(toArray()));
      expect(found).toEqual([]);
    }
    await settle();
    expect(collector.counters.inspects).toBe(0);
    expect(reached).toEqual([]);
    expect(unhandled).toEqual([]);
  }, 60_000);

  it('tag() of arbitrary ids answers [] or refuses with a typed error; the process lives and tags stay right', async () => {
    const id = await engine.run({ name: 'fuzzed', labels: { team: 'core' } });
    const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }), labelsAsTags: { team: 'team' }, logger: silentLogger });
    const tagger = startTagger(collector);
    await fc.assert(
      fc.asyncProperty(idArb, fc.boolean(), async (part, prefixed) => {
        const entity = prefixed ? `container_id://${part}` : part;
        try {
          const tags = await tagger.tag(entity, 'high');
          if (!/^container_id:\/\/[0-9a-f]{12,64}$/.test(entity)) expect(tags).toEqual([]);
        } catch (error) {
          expect(error).toBeInstanceOf(TaggerError);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
    for (const hostile of hostileIds()) expect(await tagger.tag(containerId(hostile), 'high')).toEqual([]);
    await settle();
    expect(reached).toEqual([]);
    expect(unhandled).toEqual([]);
    expect(await tagger.tag(containerId(id), 'low')).toContain('team:core');
  }, 120_000);

  it('the client dockerClient() builds never follows a redirect', async () => {
    const docker = dockerClient({ socketPath: engine.socketPath });
    await expect(docker.getContainer(`../../127.0.0.1:${port}/x`).inspect()).rejects.toThrow(/redirect/i);
    await expect(docker.getImage(`../127.0.0.1:${port}/x`).inspect()).rejects.toThrow(/redirect/i);
    await settle();
    expect(reached).toEqual([]);
    expect(unhandled).toEqual([]);
    // It still answers what a client is for.
    expect((await docker.getImage(engine.imageId).inspect()).Id).toBe(engine.imageId);
  });

  it('a short id as `docker ps` prints it answers the full container\'s tags, from the store and by fetch', async () => {
    const id = await engine.run({ name: 'short', labels: { team: 'short' } });
    const short = containerId(id.slice(0, 12));
    const collector = dockerCollector({ docker: new Docker({ socketPath: engine.socketPath }), labelsAsTags: { team: 'team' }, logger: silentLogger });

    // By fetch: inspect resolves the prefix, and the tagger answers with the full container.
    const found = await lastValueFrom(collector.fetch(short).pipe(toArray()));
    expect(found.map((info) => info.entity)).toEqual([containerId(id)]);
    const fetching = startTagger(fetchOnly(collector));
    expect(await fetching.tag(short, 'high')).toEqual(expect.arrayContaining(['team:short', 'container_name:short', `container_id:${id}`]));
    expect(await fetching.tag(containerId(id.slice(0, 20)), 'low')).toContain('team:short');

    // From the store: the stream holds it; no inspect is needed to answer.
    const streaming = startTagger(collector);
    for (let i = 0; i < 100 && streaming.storedTags(containerId(id)).length === 0; i++) await settle(100);
    const inspects = collector.counters.inspects;
    expect(await streaming.tag(short, 'high')).toEqual([...streaming.storedTags(containerId(id), 'high')]);
    expect(collector.counters.inspects).toBe(inspects);

    // Fewer than 12 characters is not a container id: no answer, no request.
    expect(await fetching.tag(containerId(id.slice(0, 11)), 'high')).toEqual([]);
  }, 60_000);
});
