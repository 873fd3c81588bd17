/**
 * The ECS collector's `state` / `state$` against a real HTTP server standing in for the task
 * metadata endpoint: `ready` → `failing` (each reason) → `ready`, the consecutive failures, and no
 * tag value or response body in any state.
 */
import { asyncScheduler, lastValueFrom, toArray } from 'rxjs';
import type { SchedulerLike, Subscription } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ecsCollector } from '../../../src/collectors/ecs/index.js';
import type { EcsCollector, EcsCollectorState } from '../../../src/collectors/ecs/index.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { EC2_CURL_ID, EC2_PAUSE_ID, taskDocument } from './fixtures.js';
import { startMetadataServer } from './metadata-server.js';
import type { MetadataServer } from './metadata-server.js';

const CURL = `container_id://${EC2_CURL_ID}`;
const PAUSE = `container_id://${EC2_PAUSE_ID}`;
const SECRET = 's3cr3t-Value-0451';
/** A task whose tags, labels and container names carry the secret. */
const secretTask = JSON.stringify({
  ...taskDocument('ec2-task'),
  TaskTags: { token: SECRET },
  ContainerInstanceTags: { rack: SECRET },
});

function fetchAll(collector: EcsCollector, entity: string): Promise<TagInfo[]> {
  return lastValueFrom(collector.fetch(entity).pipe(toArray()));
}

/** `asyncScheduler` (real timers, for the timeout) with a clock the test sets. */
function clockAt(start: number): { scheduler: SchedulerLike; set: (now: number) => void } {
  let now = start;
  return {
    scheduler: { now: () => now, schedule: asyncScheduler.schedule.bind(asyncScheduler) },
    set: (next) => {
      now = next;
    },
  };
}

let server: MetadataServer;
const subscriptions: Subscription[] = [];
/** Every state `ecs.state$` emits, from now on. */
function record(ecs: EcsCollector): { states: EcsCollectorState[]; completed: () => boolean } {
  const states: EcsCollectorState[] = [];
  let completed = false;
  subscriptions.push(
    ecs.state$.subscribe({
      next: (state) => states.push(state),
      complete: () => {
        completed = true;
      },
    }),
  );
  return { states, completed: () => completed };
}

beforeEach(async () => {
  server = await startMetadataServer(() => ({ status: 200, body: secretTask }));
});
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) subscription.unsubscribe();
  await server.close();
});

describe('ecsCollector state', () => {
  it('is ready before any request, without a container count, and says so at once', () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    expect(ecs.state).toEqual({ status: 'ready' });
    const { states } = record(ecs);
    expect(states).toEqual([{ status: 'ready' }]);
    expect(server.requests).toEqual([]);
  });

  it('is ready with the number of containers of the last answer after a request succeeded', async () => {
    const ecs = ecsCollector({ metadataUri: server.uri });
    const { states } = record(ecs);
    expect(await fetchAll(ecs, CURL)).toHaveLength(2);
    expect(ecs.state).toEqual({ status: 'ready', containers: 2 });
    expect(states).toEqual([{ status: 'ready' }, { status: 'ready', containers: 2 }]);
  });

  it.each([
    ['an error status', { status: 500, body: `{"token":"${SECRET}"}` }, { reason: 'http-status', httpStatus: 500, error: 'answered HTTP 500' }],
    ['a body that is not JSON', { status: 200, body: `<html>${SECRET}</html>` }, { reason: 'invalid-document', httpStatus: 200, error: 'answered something that is not JSON' }],
    ['JSON that is not a task', { status: 200, body: `{"Cluster":"${SECRET}"}` }, { reason: 'invalid-document', httpStatus: 200, error: 'answered JSON that is not a task document' }],
  ] as const)('%s: failing with its reason, without the body', async (_name, answer, expected) => {
    const clock = clockAt(1_000);
    server.answer(() => answer);
    const ecs = ecsCollector({ metadataUri: server.uri, scheduler: clock.scheduler });
    expect(await fetchAll(ecs, CURL)).toEqual([]);
    expect(ecs.state).toEqual({ status: 'failing', ...expected, since: 1_000, failures: 1 });
    expect(JSON.stringify(ecs.state)).not.toContain(SECRET);
  });

  it('a timeout: failing with reason timeout', async () => {
    server.answer(() => 'hang');
    const ecs = ecsCollector({ metadataUri: server.uri, fetchTimeout: 100 });
    expect(await fetchAll(ecs, CURL)).toEqual([]);
    expect(ecs.state).toMatchObject({ status: 'failing', reason: 'timeout', error: 'no answer within 100 ms', failures: 1 });
    expect(ecs.state).not.toHaveProperty('httpStatus');
  });

  it('an unreachable endpoint: failing with reason unavailable and the network error on one line', async () => {
    const uri = server.uri;
    await server.close();
    const ecs = ecsCollector({ metadataUri: uri });
    expect(await fetchAll(ecs, CURL)).toEqual([]);
    const state = ecs.state;
    expect(state).toMatchObject({ status: 'failing', reason: 'unavailable', failures: 1 });
    expect(state).not.toHaveProperty('httpStatus');
    const error = state.status === 'failing' ? state.error : '';
    expect(error).toMatch(/^could not be read: .*ECONNREFUSED/);
    expect(error).not.toContain('\n');
    // afterEach closes it again: a fresh one.
    server = await startMetadataServer(() => ({ status: 200, body: secretTask }));
  });

  it('counts consecutive failures since the first, returns to ready on a success, and counts afresh after it', async () => {
    const clock = clockAt(5_000);
    server.answer(() => ({ status: 503, body: SECRET }));
    // cacheTtl 0: every look-up sends a request.
    const ecs = ecsCollector({ metadataUri: server.uri, scheduler: clock.scheduler, cacheTtl: 0 });
    const { states, completed } = record(ecs);

    await fetchAll(ecs, CURL);
    clock.set(6_000);
    await fetchAll(ecs, CURL);
    server.answer(() => ({ status: 200, body: '[]' }));
    clock.set(7_000);
    await fetchAll(ecs, PAUSE);
    expect(ecs.state).toEqual({
      status: 'failing',
      reason: 'invalid-document',
      httpStatus: 200,
      error: 'answered JSON that is not a task document',
      since: 5_000,
      failures: 3,
    });

    server.answer(() => ({ status: 200, body: secretTask }));
    clock.set(8_000);
    expect(await fetchAll(ecs, CURL)).toHaveLength(2);
    expect(ecs.state).toEqual({ status: 'ready', containers: 2 });

    server.answer(() => ({ status: 500, body: SECRET }));
    clock.set(9_000);
    expect(await fetchAll(ecs, CURL)).toEqual([]);
    expect(ecs.state).toMatchObject({ status: 'failing', since: 9_000, failures: 1 });

    expect(server.requests).toHaveLength(5);
    expect(states.map((s) => (s.status === 'failing' ? `failing ${s.reason} ${s.failures} since ${s.since}` : `ready ${s.containers ?? '-'}`))).toEqual([
      'ready -',
      'failing http-status 1 since 5000',
      'failing http-status 2 since 5000',
      'failing invalid-document 3 since 5000',
      'ready 2',
      'failing http-status 1 since 9000',
    ]);
    expect(completed()).toBe(false);
    // Neither the bodies nor the task's tags.
    const shown = JSON.stringify(states);
    expect(shown).not.toContain(SECRET);
    expect(shown).not.toContain('curltest');
  });

  it('one shared request that fails counts once, however many look-ups waited for it', async () => {
    server.answer(() => ({ status: 502, body: '', delayMs: 100 }));
    const ecs = ecsCollector({ metadataUri: server.uri });
    await Promise.all([fetchAll(ecs, CURL), fetchAll(ecs, PAUSE), fetchAll(ecs, CURL)]);
    expect(server.requests).toHaveLength(1);
    expect(ecs.state).toMatchObject({ status: 'failing', reason: 'http-status', httpStatus: 502, failures: 1 });
  });

  it('emits only changes: the same answer again keeps ready without a new state', async () => {
    const ecs = ecsCollector({ metadataUri: server.uri, cacheTtl: 0 });
    const { states } = record(ecs);
    await fetchAll(ecs, CURL);
    await fetchAll(ecs, CURL);
    await fetchAll(ecs, PAUSE);
    expect(server.requests).toHaveLength(3);
    expect(states).toEqual([{ status: 'ready' }, { status: 'ready', containers: 2 }]);
  });

  it('a request abandoned by every look-up before its answer changes nothing', async () => {
    server.answer(() => 'hang');
    const ecs = ecsCollector({ metadataUri: server.uri, fetchTimeout: 10_000 });
    const subscription = ecs.fetch(CURL).subscribe();
    await expect.poll(() => server.requests.length).toBe(1);
    subscription.unsubscribe();
    await expect.poll(() => server.aborted()).toBe(1);
    expect(ecs.state).toEqual({ status: 'ready' });
  });

  it('stays ready without a metadata URI (every look-up is a miss, nothing is requested)', async () => {
    const saved = process.env['ECS_CONTAINER_METADATA_URI_V4'];
    delete process.env['ECS_CONTAINER_METADATA_URI_V4'];
    try {
      const ecs = ecsCollector();
      expect(await fetchAll(ecs, CURL)).toEqual([]);
      expect(ecs.state).toEqual({ status: 'ready' });
    } finally {
      if (saved !== undefined) process.env['ECS_CONTAINER_METADATA_URI_V4'] = saved;
    }
  });
});
