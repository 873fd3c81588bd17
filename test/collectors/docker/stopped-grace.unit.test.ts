/**
 * The grace of a stopped container in the Docker collector's IO shell, on a fake dockerode client
 * in virtual time: a `die` deletes exactly `stoppedGrace` ms later, not before; a `start` within
 * it cancels it; a `destroy` deletes at once; a grace outlives a reconnection; an inspect or a
 * fetch that finds a container stopped keeps it for what is left of its grace, counted from the
 * daemon's `FinishedAt`. (Against a real engine: lifecycle.test.ts; the pure rules: reconcile.test.ts
 * and graceLeft below.)
 */
import { PassThrough } from 'node:stream';
import { VirtualTimeScheduler, lastValueFrom, toArray } from 'rxjs';
import type { Subscription } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerClient, DockerCollector } from '../../../src/collectors/docker/index.js';
import { graceLeft } from '../../../src/collectors/docker/stopped-grace.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import type { TagInfo } from '../../../src/tagger/types.js';

const GRACE = 60_000;
const A = 'a1'.repeat(32);
const B = 'b2'.repeat(32);

/** A container as the fake daemon sees it: running, stopped at a virtual time, or gone. */
type Container = { readonly state: 'running' } | { readonly state: 'stopped'; readonly at: number } | { readonly state: 'gone' };

interface FakeDaemon {
  readonly client: DockerClient;
  readonly containers: Map<string, Container>;
  readonly streams: PassThrough[];
  /** When the next event stream asked for is refused (the daemon is away). */
  down: boolean;
  event(action: 'start' | 'die' | 'destroy', id: string): void;
}

function fakeDaemon(): FakeDaemon {
  const listState = (c: Container): string => (c.state === 'running' ? 'running' : 'exited');
  const daemon: FakeDaemon = {
    containers: new Map(),
    streams: [],
    down: false,
    event(action, id) {
      daemon.streams.at(-1)?.write(`${JSON.stringify({ Type: 'container', Action: action, Actor: { ID: id }, time: 1763765399 })}\n`);
    },
    client: {
      getEvents: (() => {
        if (daemon.down) return Promise.reject(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
        const stream = new PassThrough();
        daemon.streams.push(stream);
        return Promise.resolve(stream);
      }) as DockerClient['getEvents'],
      listContainers: (() =>
        Promise.resolve(
          [...daemon.containers].filter(([, c]) => c.state !== 'gone').map(([Id, c]) => ({ Id, State: listState(c) })),
        )) as DockerClient['listContainers'],
      getContainer: ((id: string) => ({
        inspect: () => {
          const c = daemon.containers.get(id);
          if (c === undefined || c.state === 'gone') {
            return Promise.reject(Object.assign(new Error(`(HTTP code 404) no such container - No such container: ${id}`), { statusCode: 404 }));
          }
          return Promise.resolve({
            Id: id,
            Name: `/${id.slice(0, 4)}-name`,
            State: c.state === 'running' ? { Running: true } : { Running: false, FinishedAt: new Date(c.at).toISOString() },
            Config: { Image: 'redis:7', Env: [], Labels: {} },
          });
        },
      })) as unknown as DockerClient['getContainer'],
      getImage: () => {
        throw new Error('not used');
      },
    },
  };
  return daemon;
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Runs the timers due up to virtual time `to` (ms), then lets the answers they asked for arrive. */
async function advanceTo(scheduler: VirtualTimeScheduler, to: number): Promise<void> {
  scheduler.maxFrames = to;
  scheduler.flush();
  await settle();
}

let subscription: Subscription | undefined;
afterEach(() => {
  subscription?.unsubscribe();
  subscription = undefined;
});

function seen(infos: readonly TagInfo[]): [string, string][] {
  return infos.map((info) => [info.entity === containerId(A) ? 'A' : info.entity === containerId(B) ? 'B' : info.entity, info.deleteEntity === true ? 'delete' : 'tags']);
}

async function connected(containers: Record<string, Container>): Promise<{ daemon: FakeDaemon; scheduler: VirtualTimeScheduler; collector: DockerCollector; infos: TagInfo[] }> {
  const daemon = fakeDaemon();
  for (const [id, c] of Object.entries(containers)) daemon.containers.set(id, c);
  const scheduler = new VirtualTimeScheduler(undefined, 0);
  const collector = dockerCollector({ docker: daemon.client, scheduler, stoppedGrace: GRACE, reconnectDelay: { base: 100, max: 100 } });
  const infos: TagInfo[] = [];
  subscription = collector.tagInfo$.subscribe((info) => infos.push(info));
  await settle();
  expect(collector.state.status).toBe('connected');
  return { daemon, scheduler, collector, infos };
}

describe('graceLeft', () => {
  it('is "running" for a running container, what is left of the grace for a stopped one, "expired" past it or without a time', () => {
    const now = Date.parse('2026-11-26T23:41:00Z');
    expect(graceLeft({ Running: true }, GRACE, now)).toBe('running');
    expect(graceLeft({ Running: false, FinishedAt: '2026-11-26T23:40:30Z' }, GRACE, now)).toBe(30_000);
    expect(graceLeft({ Running: false, FinishedAt: '2026-11-26T23:40:00Z' }, GRACE, now)).toBe('expired');
    expect(graceLeft({ Running: false, FinishedAt: '0001-01-01T00:00:00Z' }, GRACE, now)).toBe('expired');
    expect(graceLeft({ Running: false, FinishedAt: 'not a time' }, GRACE, now)).toBe('expired');
    expect(graceLeft({ Running: false }, GRACE, now)).toBe('expired');
    // A daemon clock ahead of ours never gives more than the grace.
    expect(graceLeft({ Running: false, FinishedAt: '2026-11-26T23:42:00Z' }, GRACE, now)).toBe(GRACE);
  });
});

describe('dockerCollector: the grace of a stopped container (fake daemon, virtual time)', () => {
  it('a die deletes nothing until the grace has run out, then deletes once', async () => {
    const { daemon, scheduler, collector, infos } = await connected({ [A]: { state: 'running' } });
    expect(seen(infos)).toEqual([['A', 'tags']]);
    daemon.containers.set(A, { state: 'stopped', at: 0 });
    daemon.event('die', A);
    await settle();
    await advanceTo(scheduler, GRACE - 1);
    expect(seen(infos)).toEqual([['A', 'tags']]);
    await advanceTo(scheduler, GRACE);
    expect(seen(infos)).toEqual([['A', 'tags'], ['A', 'delete']]);
    expect(collector.counters.expired).toBe(1);
    expect(scheduler.actions).toHaveLength(0);
  });

  it('a start within the grace cancels it: the tags are never deleted', async () => {
    const { daemon, scheduler, collector, infos } = await connected({ [A]: { state: 'running' } });
    daemon.event('die', A);
    await settle();
    await advanceTo(scheduler, GRACE / 2);
    daemon.event('start', A);
    await settle();
    await advanceTo(scheduler, GRACE * 3);
    // Same tags after the start: nothing sent again; and no delete.
    expect(seen(infos)).toEqual([['A', 'tags']]);
    expect(collector.counters.expired).toBe(0);
  });

  it('destroy deletes at once, and the grace that was running deletes nothing more', async () => {
    const { daemon, scheduler, infos } = await connected({ [A]: { state: 'running' } });
    daemon.event('die', A);
    await settle();
    await advanceTo(scheduler, 10);
    daemon.containers.set(A, { state: 'gone' });
    daemon.event('destroy', A);
    await settle();
    expect(seen(infos)).toEqual([['A', 'tags'], ['A', 'delete']]);
    await advanceTo(scheduler, GRACE * 2);
    expect(seen(infos)).toEqual([['A', 'tags'], ['A', 'delete']]);
  });

  it('a grace outlives a reconnection: the relist lists the container stopped, the grace ends when it would have', async () => {
    const { daemon, scheduler, collector, infos } = await connected({ [A]: { state: 'running' }, [B]: { state: 'running' } });
    daemon.containers.set(A, { state: 'stopped', at: 0 });
    daemon.event('die', A);
    await settle();
    await advanceTo(scheduler, 1000);
    // The daemon goes away; B dies unseen meanwhile; the collector reconnects 100 ms later.
    daemon.containers.set(B, { state: 'stopped', at: 1000 });
    daemon.streams.at(-1)?.end();
    await settle();
    expect(collector.state.status).toBe('retrying');
    await advanceTo(scheduler, 1100);
    expect(collector.state.status).toBe('connected');
    expect(seen(infos)).toEqual([['A', 'tags'], ['B', 'tags']]);
    await advanceTo(scheduler, GRACE - 1);
    expect(seen(infos)).toEqual([['A', 'tags'], ['B', 'tags']]);
    await advanceTo(scheduler, GRACE);
    expect(seen(infos)).toEqual([['A', 'tags'], ['B', 'tags'], ['A', 'delete']]);
    // B's grace started when the relist showed it stopped.
    await advanceTo(scheduler, 1100 + GRACE);
    expect(seen(infos)).toEqual([['A', 'tags'], ['B', 'tags'], ['A', 'delete'], ['B', 'delete']]);
    expect(collector.counters.vanished).toBe(0);
  });

  it('a relist deletes at once a stopped container that was removed while the daemon was away', async () => {
    const { daemon, scheduler, infos } = await connected({ [A]: { state: 'running' } });
    daemon.event('die', A);
    await settle();
    daemon.containers.set(A, { state: 'gone' });
    daemon.streams.at(-1)?.end();
    await settle();
    await advanceTo(scheduler, 100);
    expect(seen(infos)).toEqual([['A', 'tags'], ['A', 'delete']]);
  });

  it('an inspect that finds a container stopped keeps it for what is left of its grace, from FinishedAt', async () => {
    const { daemon, scheduler, infos } = await connected({});
    // A short-lived container: stopped by the time its start is inspected, 1 s after it stopped.
    daemon.containers.set(A, { state: 'stopped', at: -1000 });
    daemon.event('start', A);
    await settle();
    expect(seen(infos)).toEqual([['A', 'tags']]);
    await advanceTo(scheduler, GRACE - 1001);
    expect(seen(infos)).toEqual([['A', 'tags']]);
    await advanceTo(scheduler, GRACE - 1000);
    expect(seen(infos)).toEqual([['A', 'tags'], ['A', 'delete']]);
  });

  it('a fetch answers a stopped container within its grace and starts what is left of it; past the grace, nothing', async () => {
    const { daemon, scheduler, collector, infos } = await connected({});
    daemon.containers.set(A, { state: 'stopped', at: -5000 });
    daemon.containers.set(B, { state: 'stopped', at: -GRACE });
    const fetched = await lastValueFrom(collector.fetch(containerId(A)).pipe(toArray()));
    expect(fetched.map((info) => info.entity)).toEqual([containerId(A)]);
    expect(await lastValueFrom(collector.fetch(containerId(B)).pipe(toArray()))).toEqual([]);
    // The fetched tags went to the Tagger, not to the stream; the stream deletes them when the grace ends.
    expect(infos).toEqual([]);
    await advanceTo(scheduler, GRACE - 5001);
    expect(infos).toEqual([]);
    await advanceTo(scheduler, GRACE - 5000);
    expect(seen(infos)).toEqual([['A', 'delete']]);
  });
});
