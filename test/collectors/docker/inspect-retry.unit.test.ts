/**
 * The Docker collector's retries of failed inspects on a fake dockerode client, in virtual time:
 * the backoff and its cap, give-ups, "not found" never retried, a retry superseded by a later
 * event, cancelled by a reconnection or the last unsubscription, and waiting without holding an
 * inspect slot. (Over a real socket with the real dockerode: inspect-retry.test.ts.)
 */
import { PassThrough } from 'node:stream';
import { VirtualTimeScheduler, firstValueFrom } from 'rxjs';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { DockerCollectorOptionError, dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerClient, DockerCollector, DockerCollectorOptions } from '../../../src/collectors/docker/index.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';

/**
 * What one inspect answers: a 500, a broken socket, a 404 "no such container", the container
 * running (`Config.Env` holds a secret that must never be logged), or stopped just now.
 */
type InspectAnswer = 'fail' | 'reset' | 'missing' | 'running' | 'stopped';

interface FakeDaemon {
  readonly client: DockerClient;
  /** The containers the list shows. */
  listed: string[];
  /** Per container, what its next inspects answer, in order; `running` once used up. */
  readonly script: Map<string, InspectAnswer[]>;
  /** Per container, the virtual times of its inspects. */
  readonly inspected: Map<string, number[]>;
  readonly streams: PassThrough[];
  /** Sends a container event on the open event stream. */
  event(action: 'start' | 'die' | 'destroy' | 'rename', id: string): void;
}

const SECRET = 'hunter2';

function fakeDaemon(scheduler: VirtualTimeScheduler): FakeDaemon {
  const answer = (id: string): Promise<unknown> => {
    const times = daemon.inspected.get(id) ?? [];
    times.push(scheduler.now());
    daemon.inspected.set(id, times);
    const next = daemon.script.get(id)?.shift() ?? 'running';
    switch (next) {
      case 'fail':
        return Promise.reject(Object.assign(new Error('(HTTP code 500) server error - context deadline exceeded'), { statusCode: 500 }));
      case 'reset':
        return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
      case 'missing':
        return Promise.reject(Object.assign(new Error(`(HTTP code 404) no such container - No such container: ${id}`), { statusCode: 404 }));
      case 'running':
      case 'stopped':
        return Promise.resolve({
          Id: id,
          Name: `/${id}-name`,
          State: next === 'running' ? { Running: true } : { Running: false, FinishedAt: new Date(scheduler.now()).toISOString() },
          Config: { Image: 'redis:7', Env: ['DD_ENV=prod', `PASSWORD=${SECRET}`], Labels: {} },
        });
    }
  };
  const daemon: FakeDaemon = {
    listed: [],
    script: new Map(),
    inspected: new Map(),
    streams: [],
    event(action, id) {
      daemon.streams.at(-1)?.write(`${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id }, time: 1763765399 })}\n`);
    },
    client: {
      getEvents: (() => {
        const stream = new PassThrough();
        daemon.streams.push(stream);
        return Promise.resolve(stream);
      }) as DockerClient['getEvents'],
      listContainers: (() => Promise.resolve(daemon.listed.map((Id) => ({ Id })))) as DockerClient['listContainers'],
      getContainer: ((id: string) => ({ inspect: () => answer(id) })) as unknown as DockerClient['getContainer'],
      getImage: () => {
        throw new Error('not used');
      },
    },
  };
  return daemon;
}

/** Lets promise callbacks (the fake's answers) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Fires the timers due next (all of them), then lets the answers they asked for arrive. */
async function tick(scheduler: VirtualTimeScheduler): Promise<void> {
  scheduler.flush();
  await settle();
}

interface Harness {
  readonly daemon: FakeDaemon;
  readonly scheduler: VirtualTimeScheduler;
  readonly collector: DockerCollector;
  readonly logger: RecordingLogger;
  readonly infos: TagInfo[];
}

let subscription: Subscription | undefined;
afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

/** A collector on a fake daemon listing `listed`, subscribed and connected. */
async function connected(
  listed: string[],
  script: Record<string, InspectAnswer[]>,
  options: Partial<DockerCollectorOptions> = {},
): Promise<Harness> {
  const scheduler = new VirtualTimeScheduler();
  const daemon = fakeDaemon(scheduler);
  daemon.listed = listed;
  for (const [id, answers] of Object.entries(script)) daemon.script.set(id, [...answers]);
  const logger = new RecordingLogger();
  const collector = dockerCollector({ docker: daemon.client, scheduler, logger, inspectRetry: { base: 100, max: 400 }, ...options });
  const infos: TagInfo[] = [];
  subscription = collector.tagInfo$.subscribe((info) => infos.push(info));
  await settle();
  expect(collector.state.status).toBe('connected');
  return { daemon, scheduler, collector, logger, infos };
}

function tagged(infos: readonly TagInfo[]): [string, string][] {
  return infos.map((info) => [info.entity, info.deleteEntity === true ? 'delete' : 'tags']);
}

describe('dockerCollector inspect retries (fake daemon, virtual time)', () => {
  it('retries a failed inspect with exponential backoff up to the cap, then emits the tags', async () => {
    const { daemon, scheduler, collector, logger, infos } = await connected(['a'], { a: ['fail', 'reset', 'fail', 'fail'] }, { inspectRetry: { retries: 4, base: 100, max: 400 } });
    for (let round = 0; round < 4; round++) {
      expect(infos).toEqual([]);
      expect(scheduler.actions).toHaveLength(1);
      await tick(scheduler);
    }
    // Delays 100, 200, 400, then capped at 400.
    expect(daemon.inspected.get('a')).toEqual([0, 100, 300, 700, 1100]);
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    expect(infos[0]?.highCardTags).toContain('container_name:a-name');
    expect(collector.counters).toMatchObject({ inspects: 5, inspectErrors: 4, inspectRetries: 4, inspectGiveUps: 0, reconnects: 0 });
    expect(collector.state.status).toBe('connected');
    expect(scheduler.actions).toHaveLength(0);

    const retries = logger.records.filter((record) => record.message.includes('retrying'));
    expect(retries.map((record) => record.fields)).toEqual(
      [100, 200, 400, 400].map((delayMs, i) => ({ containerId: 'a', error: expect.any(String), retry: i + 1, retries: 4, delayMs })),
    );
    expect(retries.every((record) => record.level === 'info')).toBe(true);
    expect(retries[1]?.fields?.['error']).toContain('socket hang up');
    // Never a tag or an environment value in the logs.
    expect(JSON.stringify(logger.records)).not.toContain(SECRET);
    expect(JSON.stringify(logger.records)).not.toContain('DD_ENV');
  });

  it('uses 500 ms doubling by default', async () => {
    const { daemon, scheduler } = await connected(['a'], { a: ['fail', 'fail', 'fail'] }, { inspectRetry: {} });
    for (let round = 0; round < 3; round++) await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0, 500, 1500, 3500]);
  });

  it('gives up after the last retry: counted and logged, no tags, nothing left waiting; a later event inspects again', async () => {
    const { daemon, scheduler, collector, logger, infos } = await connected(['a'], { a: ['fail', 'fail', 'fail', 'fail'] }, { inspectRetry: { retries: 2, base: 100, max: 400 } });
    await tick(scheduler);
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0, 100, 300]);
    expect(scheduler.actions).toHaveLength(0);
    expect(infos).toEqual([]);
    expect(collector.counters).toMatchObject({ inspects: 3, inspectErrors: 3, inspectRetries: 2, inspectGiveUps: 1 });
    expect(logger.at('warn')).toEqual([
      expect.objectContaining({ message: expect.stringContaining('gave up'), fields: { containerId: 'a', error: expect.stringContaining('HTTP code 500'), attempts: 3 } }),
    ]);

    // A new event gets a fresh budget: fails once more, then succeeds on its retry.
    daemon.event('start', 'a');
    await settle();
    expect(collector.counters.inspectRetries).toBe(3);
    await tick(scheduler);
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    expect(collector.counters).toMatchObject({ inspects: 5, inspectRetries: 3, inspectGiveUps: 1 });
  });

  it('with retries: 0, gives up at the first failure', async () => {
    const { daemon, scheduler, collector } = await connected(['a'], { a: ['fail'] }, { inspectRetry: { retries: 0 } });
    expect(scheduler.actions).toHaveLength(0);
    expect(daemon.inspected.get('a')).toEqual([0]);
    expect(collector.counters).toMatchObject({ inspectRetries: 0, inspectGiveUps: 1 });
  });

  it('keeps what it knew of a container while retrying and after giving up', async () => {
    const { daemon, scheduler, collector, infos } = await connected(['a'], { a: ['running', 'fail', 'fail'] }, { inspectRetry: { retries: 1, base: 100, max: 400 } });
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    daemon.event('rename', 'a');
    await settle();
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toHaveLength(3);
    expect(collector.counters.inspectGiveUps).toBe(1);
    // No delete: the container keeps its tags (a late joiner still gets them).
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    const late: TagInfo[] = [];
    collector.tagInfo$.subscribe((info) => late.push(info)).unsubscribe();
    expect(tagged(late)).toEqual([[containerId('a'), 'tags']]);
  });

  it('never retries "no such container": no tags for an unknown one, a delete for a known one', async () => {
    const { daemon, scheduler, collector, infos } = await connected(['a', 'b'], { a: ['missing'], b: ['running', 'fail', 'missing'] });
    expect(daemon.inspected.get('a')).toEqual([0]);
    expect(tagged(infos)).toEqual([[containerId('b'), 'tags']]);

    daemon.event('rename', 'b');
    await settle();
    expect(scheduler.actions).toHaveLength(1);
    await tick(scheduler);
    // The retry found it gone: deleted, as any inspect that finds it gone; no further retry.
    expect(tagged(infos)).toEqual([
      [containerId('b'), 'tags'],
      [containerId('b'), 'delete'],
    ]);
    expect(scheduler.actions).toHaveLength(0);
    expect(collector.counters).toMatchObject({ inspects: 4, inspectErrors: 1, inspectRetries: 1, inspectGiveUps: 0 });
  });

  it.each(['destroy'] as const)('a %s supersedes a waiting retry: cancelled, no tags after the delete', async (action) => {
    const { daemon, scheduler, collector, infos } = await connected([], {});
    daemon.script.set('a', ['fail']);
    daemon.event('start', 'a');
    await settle();
    expect(scheduler.actions).toHaveLength(1);

    daemon.event(action, 'a');
    await settle();
    expect(tagged(infos)).toEqual([[containerId('a'), 'delete']]);
    // The retry timer is gone, not merely ignored when due.
    expect(scheduler.actions).toHaveLength(0);
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0]);
    expect(tagged(infos)).toEqual([[containerId('a'), 'delete']]);
    expect(collector.counters).toMatchObject({ inspects: 1, inspectRetries: 1, inspectGiveUps: 0 });
  });

  it('a die leaves a waiting retry waiting: its answer, the container stopped, tags it for the grace, whose end deletes it', async () => {
    const { daemon, scheduler, collector, infos } = await connected([], {}, { stoppedGrace: 60_000 });
    daemon.script.set('a', ['fail', 'stopped']);
    daemon.event('start', 'a');
    await settle();
    expect(scheduler.actions).toHaveLength(1);

    daemon.event('die', 'a');
    await settle();
    // The retry (due at 100 ms) and the grace (60 s from the die) wait.
    expect(scheduler.actions).toHaveLength(2);
    expect(infos).toEqual([]);
    scheduler.maxFrames = 100;
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0, 100]);
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    scheduler.maxFrames = 59_999;
    await tick(scheduler);
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    scheduler.maxFrames = 60_000;
    await tick(scheduler);
    expect(tagged(infos)).toEqual([
      [containerId('a'), 'tags'],
      [containerId('a'), 'delete'],
    ]);
    expect(collector.counters).toMatchObject({ inspects: 2, inspectRetries: 1, inspectGiveUps: 0, expired: 1 });
  });

  it('a new start supersedes a waiting retry: one inspect at once, no duplicate when the retry would have been due', async () => {
    const { daemon, scheduler, collector, infos } = await connected([], {});
    daemon.script.set('a', ['fail']);
    daemon.event('start', 'a');
    await settle();
    expect(scheduler.actions).toHaveLength(1);

    daemon.event('start', 'a');
    await settle();
    expect(scheduler.actions).toHaveLength(0);
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0, 0]);
    expect(collector.counters).toMatchObject({ inspects: 2, inspectRetries: 1, inspectGiveUps: 0 });
  });

  it('an event for another container leaves a waiting retry alone', async () => {
    const { daemon, scheduler, infos } = await connected([], {});
    daemon.script.set('a', ['fail']);
    daemon.event('start', 'a');
    await settle();
    daemon.event('start', 'b');
    daemon.event('destroy', 'b');
    await settle();
    expect(scheduler.actions).toHaveLength(1);
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0, 100]);
    expect(infos.filter((info) => info.entity === containerId('a'))).toHaveLength(1);
  });

  it('unsubscribing cancels the waiting retries', async () => {
    const { daemon, scheduler, collector } = await connected(['a', 'b'], { a: ['fail'], b: ['reset'] });
    expect(scheduler.actions).toHaveLength(2);
    subscription?.unsubscribe();
    expect(scheduler.actions).toHaveLength(0);
    expect(collector.state).toEqual({ status: 'idle' });
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0]);
    expect(daemon.inspected.get('b')).toEqual([0]);
  });

  it('a reconnection cancels the waiting retries: the relist inspects anew', async () => {
    const { daemon, scheduler, collector, infos } = await connected(['a'], { a: ['fail'] }, { reconnectDelay: { base: 50, max: 50 } });
    expect(scheduler.actions).toHaveLength(1);
    daemon.streams[0]?.end();
    await settle();
    // Only the reconnection timer is left.
    expect(collector.state).toMatchObject({ status: 'retrying', delayMs: 50 });
    expect(scheduler.actions).toHaveLength(1);
    await tick(scheduler);
    expect(collector.state.status).toBe('connected');
    expect(daemon.inspected.get('a')).toEqual([0, 50]);
    expect(tagged(infos)).toEqual([[containerId('a'), 'tags']]);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('a retry waits without holding an inspect slot', async () => {
    const { daemon, scheduler, infos } = await connected(['a', 'b', 'c'], { a: ['fail'] }, { inspectConcurrency: 1 });
    // a failed and waits; b and c were inspected meanwhile, one at a time.
    expect(daemon.inspected.get('b')).toEqual([0]);
    expect(daemon.inspected.get('c')).toEqual([0]);
    expect(tagged(infos)).toEqual([
      [containerId('b'), 'tags'],
      [containerId('c'), 'tags'],
    ]);
    await tick(scheduler);
    expect(daemon.inspected.get('a')).toEqual([0, 100]);
    expect(tagged(infos).at(-1)).toEqual([containerId('a'), 'tags']);
  });

  it('fetch is not retried: it fails at once and the Tagger answers with what it has', async () => {
    const { daemon, scheduler, collector } = await connected([], {});
    // fetch sends only a container id in the daemon's form: hex.
    const id = 'f'.repeat(64);
    daemon.script.set(id, ['fail']);
    await expect(firstValueFrom(collector.fetch(containerId(id)))).rejects.toMatchObject({ reason: 'inspect-failed' });
    expect(scheduler.actions).toHaveLength(0);
    expect(collector.counters).toMatchObject({ inspectErrors: 1, inspectRetries: 0, inspectGiveUps: 0 });
  });

  it.each([
    [{ retries: -1 }, 'inspectRetry.retries'],
    [{ retries: 1.5 }, 'inspectRetry.retries'],
    [{ base: 0 }, 'inspectRetry.base'],
    [{ max: Number.NaN }, 'inspectRetry.max'],
    [{ base: 1000, max: 10 }, 'inspectRetry.max'],
  ])('refuses inspectRetry %j with a typed error', (inspectRetry, option) => {
    const docker = fakeDaemon(new VirtualTimeScheduler()).client;
    expect(() => dockerCollector({ docker, inspectRetry })).toThrow(DockerCollectorOptionError);
    expect(() => dockerCollector({ docker, inspectRetry })).toThrow(expect.objectContaining({ tag: 'DockerCollectorOption', option }));
  });
});
