import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { lastValueFrom, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EcsCollectorOptionError, EcsMetadataError, ecsCollector } from '../../../src/collectors/ecs/index.js';
import type { EcsCollector } from '../../../src/collectors/ecs/index.js';
import { SourcePriority } from '../../../src/tagger/types.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';
import { EC2_CURL_ID, EC2_PAUSE_ID, EC2_STOPPED_ID, taskDocument } from './fixtures.js';
import { startMetadataServer } from './metadata-server.js';
import type { MetadataServer } from './metadata-server.js';

const CURL = `container_id://${EC2_CURL_ID}`;
const PAUSE = `container_id://${EC2_PAUSE_ID}`;
const ec2Body = JSON.stringify(taskDocument('ec2-task'));

function fetchAll(collector: EcsCollector, entity: string): Promise<TagInfo[]> {
  return lastValueFrom(collector.fetch(entity).pipe(toArray()));
}

let server: MetadataServer;
beforeEach(async () => {
  server = await startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body: ec2Body } : { status: 404, body: '{}' }));
});
afterEach(async () => {
  await server.close();
});

describe('ecsCollector', () => {
  it('is a fetch-only collector at node-orchestrator priority', () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    expect(ecs.source).toBe('ecs');
    expect(ecs.priority).toBe(SourcePriority.NodeOrchestrator);
    expect(ecs.mode).toBe('fetch');
    expect(ecs.covers).toEqual(['container_id']);
    expect(ecs.tagInfo$).toBeUndefined();
  });

  it.each([
    [{ fetchTimeout: 0 }, 'fetchTimeout'],
    [{ fetchTimeout: Number.NaN }, 'fetchTimeout'],
    [{ cacheTtl: -1 }, 'cacheTtl'],
  ])('refuses %j with a typed error', (options, option) => {
    expect(() => ecsCollector({ metadataUri: server.uri, ...options })).toThrow(EcsCollectorOptionError);
    try {
      ecsCollector({ metadataUri: server.uri, ...options });
    } catch (error) {
      expect(error).toMatchObject({ tag: 'EcsCollectorOption', option });
    }
  });

  it('is lazy: nothing is requested until a fetch is subscribed', () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    ecs.fetch(CURL);
    expect(server.requests).toEqual([]);
    expect(ecs.counters).toEqual({ requests: 0, misses: 0, errors: 0 });
  });

  it("answers a container of the task with every container's TagInfo, reading /task once", async () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    const infos = await fetchAll(ecs, CURL);
    expect(infos.map((info) => info.entity)).toEqual([PAUSE, CURL]);
    expect(infos[1]?.lowCardTags).toContain('ecs_container_name:curl');
    expect(infos[1]?.orchestratorCardTags).toEqual([
      'task_arn:arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c',
    ]);
    expect(server.requests).toEqual(['/v4/0c5d2b8e-2495160603/task']);
    expect(ecs.counters).toEqual({ requests: 1, misses: 0, errors: 0 });
  });

  it('looks up only a DockerId: any other container id is a miss without a request', async () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    for (const id of ['../x', '..', 'a?b=c', 'x/logs?follow=1', 'not-in-this-task', `${'a'.repeat(32)}-x`, 'A'.repeat(64)]) {
      expect(await fetchAll(ecs, `container_id://${id}`)).toEqual([]);
    }
    expect(server.requests).toEqual([]);
    expect(ecs.counters).toEqual({ requests: 0, misses: 7, errors: 0 });
    expect((await fetchAll(ecs, CURL)).length).toBe(2);
  });

  it('never follows a redirect of the metadata endpoint: nothing reaches another host', async () => {
    const reached: string[] = [];
    const elsewhere = createServer((request, response) => {
      reached.push(request.url ?? '');
      response.end('{}');
    });
    await new Promise<void>((resolve) => elsewhere.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/v4/x/task`;
    const redirecting = createServer((_request, response) => {
      response.writeHead(302, { location: target });
      response.end();
    });
    await new Promise<void>((resolve) => redirecting.listen(0, '127.0.0.1', resolve));
    try {
      const ecs = ecsCollector({ metadataUri: `http://127.0.0.1:${(redirecting.address() as AddressInfo).port}/v4/y` });
      expect(await fetchAll(ecs, CURL)).toEqual([]);
      expect(ecs.counters).toMatchObject({ requests: 1, errors: 1 });
      expect(reached).toEqual([]);
    } finally {
      redirecting.closeAllConnections();
      elsewhere.closeAllConnections();
      await Promise.all([new Promise((resolve) => redirecting.close(resolve)), new Promise((resolve) => elsewhere.close(resolve))]);
    }
  });

  it("keeps a task's answer: later look-ups, found or not, send no request", async () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    await fetchAll(ecs, CURL);
    expect((await fetchAll(ecs, PAUSE)).map((info) => info.entity)).toEqual([PAUSE, CURL]);
    expect(await fetchAll(ecs, 'container_id://0123456789abcdef')).toEqual([]);
    expect(await fetchAll(ecs, `container_id://${EC2_STOPPED_ID}`)).toEqual([]);
    expect(server.requests).toHaveLength(1);
    expect(ecs.counters).toEqual({ requests: 1, misses: 2, errors: 0 });
  });

  it('shares one request between concurrent misses', async () => {
    server.answer(() => ({ status: 200, body: ec2Body, delayMs: 150 }));
    const ecs = ecsCollector({ metadataUri: server.uri });
    const answers = await Promise.all([
      fetchAll(ecs, CURL),
      fetchAll(ecs, CURL),
      fetchAll(ecs, PAUSE),
      fetchAll(ecs, 'container_id://not-in-this-task'),
    ]);
    expect(answers.map((infos) => infos.length)).toEqual([2, 2, 2, 0]);
    expect(server.requests).toHaveLength(1);
    expect(ecs.counters).toEqual({ requests: 1, misses: 1, errors: 0 });
  });

  it('reads the URI from ECS_CONTAINER_METADATA_URI_V4 by default', async () => {
    const saved = process.env['ECS_CONTAINER_METADATA_URI_V4'];
    process.env['ECS_CONTAINER_METADATA_URI_V4'] = server.uri;
    try {
      const ecs = ecsCollector();
      expect(await fetchAll(ecs, CURL)).toHaveLength(2);
    } finally {
      if (saved === undefined) delete process.env['ECS_CONTAINER_METADATA_URI_V4'];
      else process.env['ECS_CONTAINER_METADATA_URI_V4'] = saved;
    }
  });

  it('reads /taskWithTags with withTags, and tags with the AWS tags', async () => {
    const withTags = JSON.stringify({ ...taskDocument('ec2-task'), TaskTags: { team: 'payments' }, ContainerInstanceTags: { rack: 'r7' } });
    server.answer((path) => (path.endsWith('/taskWithTags') ? { status: 200, body: withTags } : { status: 404, body: '{}' }));
    const ecs = ecsCollector({ metadataUri: `${server.uri}/`, withTags: true });
    const infos = await fetchAll(ecs, CURL);
    expect(server.requests).toEqual(['/v4/0c5d2b8e-2495160603/taskWithTags']);
    expect(infos[1]?.lowCardTags).toEqual(expect.arrayContaining(['team:payments', 'rack:r7']));
  });

  it('answers nothing, without a request, for an entity that is not a container', async () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    expect(await fetchAll(ecs, 'kubernetes_pod_uid://0c5d')).toEqual([]);
    expect(server.requests).toEqual([]);
    expect(ecs.counters).toEqual({ requests: 0, misses: 1, errors: 0 });
  });

  it('answers nothing without a metadata URI, and says so once', async () => {
    const saved = process.env['ECS_CONTAINER_METADATA_URI_V4'];
    delete process.env['ECS_CONTAINER_METADATA_URI_V4'];
    try {
      const logger = new RecordingLogger();
      const ecs = ecsCollector({ logger });
      expect(await fetchAll(ecs, CURL)).toEqual([]);
      expect(await fetchAll(ecs, PAUSE)).toEqual([]);
      expect(ecs.counters).toEqual({ requests: 0, misses: 2, errors: 0 });
      expect(logger.at('warn')).toHaveLength(1);
    } finally {
      if (saved !== undefined) process.env['ECS_CONTAINER_METADATA_URI_V4'] = saved;
    }
  });

  it('asks again for an unknown container while the kept task still had a container without an id', async () => {
    const pending = taskDocument('ec2-task');
    const sidecar = { Name: 'sidecar', DockerId: '', KnownStatus: 'PENDING', DesiredStatus: 'RUNNING' };
    pending.Containers.push(sidecar);
    server.answer(() => ({ status: 200, body: JSON.stringify(pending) }));
    const ecs = ecsCollector({ metadataUri: server.uri });
    expect(await fetchAll(ecs, CURL)).toHaveLength(2);

    const started = taskDocument('ec2-task');
    started.Containers.push({ ...sidecar, DockerId: 'fe'.repeat(32), KnownStatus: 'RUNNING' });
    server.answer(() => ({ status: 200, body: JSON.stringify(started) }));
    const infos = await fetchAll(ecs, `container_id://${'fe'.repeat(32)}`);
    expect(infos.map((info) => info.entity)).toContain(`container_id://${'fe'.repeat(32)}`);
    expect(server.requests).toHaveLength(2);

    expect(await fetchAll(ecs, 'container_id://elsewhere')).toEqual([]);
    expect(server.requests).toHaveLength(2);
  });

  it('asks again once the kept answer is older than cacheTtl', async () => {
    const ecs = ecsCollector({ metadataUri: server.uri, cacheTtl: 0 });
    await fetchAll(ecs, CURL);
    await fetchAll(ecs, CURL);
    expect(server.requests).toHaveLength(2);
  });
});

describe('ecsCollector survives an outage', () => {
  it.each([
    ['an error status', { status: 500, body: 'internal error' }, 'http-status'],
    ['a body that is not JSON', { status: 200, body: '<html>' }, 'invalid-document'],
    ['JSON that is not a task', { status: 200, body: '{"Cluster": "default"}' }, 'invalid-document'],
  ] as const)('%s: a counted, logged miss, never an error to the caller', async (_name, answer, reason) => {
    server.answer(() => answer);
    const logger = new RecordingLogger();
    const ecs = ecsCollector({ metadataUri: server.uri, logger });
    expect(await fetchAll(ecs, CURL)).toEqual([]);
    expect(ecs.counters).toEqual({ requests: 1, misses: 1, errors: 1 });
    const warnings = logger.at('warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.fields).toMatchObject({ reason });
    expect(warnings[0]?.fields?.['error']).toBeInstanceOf(EcsMetadataError);
  });

  it('an unreachable endpoint is a miss, and the next look-up tries again and succeeds', async () => {
    const uri = server.uri;
    await server.close();
    const logger = new RecordingLogger();
    const ecs = ecsCollector({ metadataUri: uri, logger });
    expect(await fetchAll(ecs, CURL)).toEqual([]);
    expect(ecs.counters).toEqual({ requests: 1, misses: 1, errors: 1 });
    expect(logger.at('warn')[0]?.fields).toMatchObject({ reason: 'unavailable' });

    server = await startMetadataServer(() => ({ status: 200, body: ec2Body }));
    const recovered = ecsCollector({ metadataUri: server.uri });
    server.answer(() => ({ status: 503, body: '' }));
    expect(await fetchAll(recovered, CURL)).toEqual([]);
    server.answer(() => ({ status: 200, body: ec2Body }));
    expect(await fetchAll(recovered, CURL)).toHaveLength(2);
    expect(recovered.counters).toEqual({ requests: 2, misses: 1, errors: 1 });
  });

  it('an endpoint that does not answer times out: a miss, and the request is aborted', async () => {
    server.answer(() => 'hang');
    const logger = new RecordingLogger();
    const ecs = ecsCollector({ metadataUri: server.uri, fetchTimeout: 100, logger });
    const answers = await Promise.all([fetchAll(ecs, CURL), fetchAll(ecs, PAUSE)]);
    expect(answers).toEqual([[], []]);
    expect(ecs.counters).toEqual({ requests: 1, misses: 2, errors: 1 });
    expect(logger.at('warn')[0]?.fields).toMatchObject({ reason: 'timeout' });
    await expect.poll(() => server.aborted()).toBe(1);
  });

  it('a look-up unsubscribed before the answer aborts the request', async () => {
    server.answer(() => 'hang');
    const ecs = ecsCollector({ metadataUri: server.uri, fetchTimeout: 10_000 });
    const subscription = ecs.fetch(CURL).subscribe();
    await expect.poll(() => server.requests.length).toBe(1);
    subscription.unsubscribe();
    await expect.poll(() => server.aborted()).toBe(1);
    expect(ecs.counters).toEqual({ requests: 1, misses: 0, errors: 0 });
  });
});
