/**
 * The Docker collector's connection handling on a fake dockerode client, in virtual time: the
 * backoff between reconnection attempts, its reset once connected, the reason a connection
 * failed, and malformed event lines counted and logged. (Behaviour against a real engine:
 * collector.test.ts.)
 */
import { PassThrough } from 'node:stream';
import { VirtualTimeScheduler, lastValueFrom, toArray } from 'rxjs';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerClient } from '../../../src/collectors/docker/index.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';
import { running } from './fake-daemon.js';

interface FakeDaemon {
  readonly client: DockerClient;
  /** What the next `getEvents` does: open a stream, or fail. */
  up: boolean;
  /** What the next `listContainers` does. */
  listFails: boolean;
  readonly streams: PassThrough[];
  eventsAsked: number;
}

function fakeDaemon(): FakeDaemon {
  const daemon: FakeDaemon = {
    up: false,
    listFails: false,
    streams: [],
    eventsAsked: 0,
    client: {
      getEvents: (() => {
        daemon.eventsAsked += 1;
        if (!daemon.up) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' }));
        const stream = new PassThrough();
        daemon.streams.push(stream);
        return Promise.resolve(stream);
      }) as DockerClient['getEvents'],
      listContainers: (() =>
        daemon.listFails ? Promise.reject(new Error('(HTTP code 500) server error')) : Promise.resolve([])) as DockerClient['listContainers'],
      getContainer: (() => {
        throw new Error('not used');
      }),
      getImage: (() => {
        throw new Error('not used');
      }),
    },
  };
  return daemon;
}

/** Lets promise callbacks (the fake's answers) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

let subscription: Subscription | undefined;
afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

describe('dockerCollector connection handling (fake daemon, virtual time)', () => {
  it('retries with exponential backoff up to the maximum, then resets it once connected', async () => {
    const daemon = fakeDaemon();
    const scheduler = new VirtualTimeScheduler();
    const collector = dockerCollector({ docker: daemon.client, scheduler, reconnectDelay: { base: 100, max: 400 } });
    const infos: TagInfo[] = [];
    subscription = collector.tagInfo$.subscribe((info) => infos.push(info));

    const delays: number[] = [];
    for (let attempt = 1; attempt <= 4; attempt++) {
      await settle();
      const state = collector.state;
      expect(state).toMatchObject({ status: 'retrying', attempt, reason: { tag: 'DockerCollector', reason: 'events-unavailable' } });
      if (state.status === 'retrying') delays.push(state.delayMs);
      if (attempt === 4) daemon.up = true;
      scheduler.flush();
    }
    expect(delays).toEqual([100, 200, 400, 400]);
    await settle();
    expect(daemon.eventsAsked).toBe(5);
    expect(collector.state).toEqual({ status: 'connected', containers: 0 });

    // The daemon goes away again: the backoff starts over from the base.
    daemon.up = false;
    daemon.streams[0]?.end();
    await settle();
    expect(collector.state).toMatchObject({ status: 'retrying', attempt: 1, delayMs: 100, reason: { reason: 'events-ended' } });
    expect(collector.counters.reconnects).toBe(5); // 4 while down, 1 after
    expect(infos).toEqual([]);
  });

  it('retries when the list fails, with the reason', async () => {
    const daemon = fakeDaemon();
    daemon.up = true;
    daemon.listFails = true;
    const scheduler = new VirtualTimeScheduler();
    const collector = dockerCollector({ docker: daemon.client, scheduler });
    subscription = collector.tagInfo$.subscribe();
    await settle();
    expect(collector.state).toMatchObject({ status: 'retrying', attempt: 1, delayMs: 500, reason: { reason: 'list-failed' } });
    // The event stream of the failed attempt is closed.
    expect(daemon.streams[0]?.destroyed).toBe(true);
    daemon.listFails = false;
    scheduler.flush();
    await settle();
    expect(collector.state).toEqual({ status: 'connected', containers: 0 });
  });

  it('counts, logs and skips an event line that is not JSON; unknown events are ignored', async () => {
    const daemon = fakeDaemon();
    daemon.up = true;
    const logger = new RecordingLogger();
    const collector = dockerCollector({ docker: daemon.client, logger });
    const infos: TagInfo[] = [];
    subscription = collector.tagInfo$.subscribe((info) => infos.push(info));
    await settle();
    daemon.streams[0]?.write('{"Type":"container","Action":"die","Actor":{"ID":"abc"},"time":1763765399}\n');
    daemon.streams[0]?.write('this is not json\n{"Type":"network","Action":"connect","Actor":{"ID":"n"}}\n');
    await settle();
    // The die was read (a die deletes nothing: the container keeps its tags for the grace).
    expect(infos).toEqual([]);
    expect(collector.counters).toMatchObject({ events: 1, malformedEvents: 1 });
    expect(logger.at('warn')).toEqual([expect.objectContaining({ fields: { line: 'this is not json' } })]);
    expect(collector.state.status).toBe('connected');
  });

  it('goes idle and closes the event stream when the last subscriber leaves', async () => {
    const daemon = fakeDaemon();
    daemon.up = true;
    const collector = dockerCollector({ docker: daemon.client });
    const first = collector.tagInfo$.subscribe();
    const second = collector.tagInfo$.subscribe();
    await settle();
    expect(daemon.eventsAsked).toBe(1);
    first.unsubscribe();
    expect(collector.state.status).toBe('connected');
    second.unsubscribe();
    expect(collector.state).toEqual({ status: 'idle' });
    expect(daemon.streams[0]?.destroyed).toBe(true);
  });
});

describe('dockerCollector: one inspect per container (fake daemon)', () => {
  const ID = 'a'.repeat(64);
  const document = running(ID, 'web').body;

  /** A daemon whose container inspects answer only when the test says so. */
  function slowInspects(): { daemon: FakeDaemon; calls: () => number; answer: () => void } {
    const daemon = fakeDaemon();
    daemon.up = true;
    const pending: (() => void)[] = [];
    let calls = 0;
    const client = {
      ...daemon.client,
      getContainer: () => ({
        inspect: () =>
          new Promise((resolve) => {
            calls += 1;
            pending.push(() => {
              resolve(document);
            });
          }),
      }),
    } as unknown as DockerClient;
    return {
      daemon: { ...daemon, client },
      calls: () => calls,
      answer: () => {
        for (const resolve of pending.splice(0)) resolve();
      },
    };
  }

  it('a fetch waits for the stream inspect on the wire, then answers from the stream; a stopped container is inspected', async () => {
    const { daemon, calls, answer } = slowInspects();
    const collector = dockerCollector({ docker: daemon.client });
    const infos: TagInfo[] = [];
    subscription = collector.tagInfo$.subscribe((info) => infos.push(info));
    await settle();
    daemon.streams[0]?.write(`{"Type":"container","Action":"start","Actor":{"ID":"${ID}"},"time":1763765399}\n`);
    await settle();
    expect(calls()).toBe(1);
    const fetched: TagInfo[] = [];
    let done = false;
    collector.fetch(containerId(ID)).subscribe({ next: (info) => fetched.push(info), complete: () => (done = true) });
    await settle();
    expect(calls()).toBe(1);
    answer();
    await settle();
    expect(done).toBe(true);
    expect(fetched.map((i) => i.entity)).toEqual([containerId(ID)]);
    expect(fetched[0]?.highCardTags).toContain('container_name:web');
    expect(infos.map((i) => i.entity)).toEqual([containerId(ID)]);
    expect(calls()).toBe(1);
    expect(collector.counters.inspects).toBe(1);
    // The stream has tagged it (running): a fetch answers what the stream emitted, no inspect.
    expect(await lastValueFrom(collector.fetch(containerId(ID)).pipe(toArray()))).toEqual(infos);
    expect(calls()).toBe(1);
    // Stopped: a fetch inspects on its own (the grace left is read from the daemon).
    daemon.streams[0]?.write(`{"Type":"container","Action":"die","Actor":{"ID":"${ID}"},"time":1763765400}\n`);
    await settle();
    const again = lastValueFrom(collector.fetch(containerId(ID)).pipe(toArray()));
    await settle();
    answer();
    expect((await again).map((i) => i.entity)).toEqual([containerId(ID)]);
    expect(calls()).toBe(2);
  });
});
