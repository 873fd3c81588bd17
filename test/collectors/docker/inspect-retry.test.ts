/**
 * The Docker collector's inspect retries over a real unix socket, with the real dockerode, against
 * a fake daemon (fake-daemon.ts) that fails inspects on demand — which a real dockerd cannot be
 * made to do. Needs nothing installed. (Timing in virtual time: inspect-retry.unit.test.ts.)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerCollector } from '../../../src/collectors/docker/index.js';
import type { DockerCollector } from '../../../src/collectors/docker/index.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { RecordingLogger } from '../recording-logger.js';
import { daemonError, running, startFakeDockerDaemon } from './fake-daemon.js';
import type { FakeDockerDaemon } from './fake-daemon.js';

const WAIT = 10_000;
const LISTED = '1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b3c4d5e6f1a2b';
const STARTED = '9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e7d6c5b4a9f8e';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fakeDaemon(): Promise<FakeDockerDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-fake-docker-'));
  const daemon = await startFakeDockerDaemon(join(dir, 'docker.sock'));
  cleanups.push(async () => {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return daemon;
}

function subscribed(collector: DockerCollector): TagInfo[] {
  const infos: TagInfo[] = [];
  const subscription = collector.tagInfo$.subscribe((info) => infos.push(info));
  cleanups.push(() => {
    subscription.unsubscribe();
  });
  return infos;
}

function tagsOf(collector: DockerCollector, id: string): Promise<TagInfo> {
  return firstValueFrom(collector.tagInfo$.pipe(filter((info) => info.entity === containerId(id)), timeout(WAIT)));
}

function inspectsOf(daemon: FakeDockerDaemon, id: string): number {
  return daemon.requests.filter((path) => path === `/containers/${id}/json`).length;
}

describe('dockerCollector inspect retries (real dockerode, fake daemon on a unix socket)', () => {
  it('an inspect that answers 500 twice then succeeds: the tags arrive without a reconnection', async () => {
    const daemon = await fakeDaemon();
    daemon.listed = [LISTED];
    daemon.script.set(LISTED, [daemonError(500, 'context deadline exceeded'), daemonError(500, 'context deadline exceeded'), running(LISTED, 'listed')]);
    daemon.script.set(STARTED, [daemonError(500, 'context deadline exceeded'), running(STARTED, 'started')]);
    const logger = new RecordingLogger();
    const collector = dockerCollector({ docker: new Docker({ socketPath: daemon.socketPath }), inspectRetry: { base: 50, max: 200 }, logger });
    const infos = subscribed(collector);

    // Listed at start.
    const listed = await tagsOf(collector, LISTED);
    expect(listed.highCardTags).toContain('container_name:listed');
    expect(inspectsOf(daemon, LISTED)).toBe(3);

    // Started while connected.
    daemon.event('start', STARTED);
    const started = await tagsOf(collector, STARTED);
    expect(started.highCardTags).toContain('container_name:started');
    expect(inspectsOf(daemon, STARTED)).toBe(2);

    // One event stream all along: no reconnection was needed.
    expect(daemon.requests.filter((path) => path === '/events')).toHaveLength(1);
    expect(collector.state).toEqual({ status: 'connected', containers: 1 });
    expect(collector.counters).toMatchObject({ inspects: 5, inspectErrors: 3, inspectRetries: 3, inspectGiveUps: 0, reconnects: 0 });
    expect(infos.map((info) => info.entity)).toEqual([containerId(LISTED), containerId(STARTED)]);
    const retried = logger.records.filter((record) => record.message.includes('retrying'));
    expect(retried).toHaveLength(3);
    expect(retried[0]?.fields).toMatchObject({ containerId: LISTED, retry: 1, delayMs: 50, error: expect.stringContaining('HTTP code 500') });
  });

  it('a 404 is not retried: no tags, one inspect', async () => {
    const daemon = await fakeDaemon();
    daemon.script.set(STARTED, [daemonError(404, `No such container: ${STARTED}`)]);
    const collector = dockerCollector({ docker: new Docker({ socketPath: daemon.socketPath }), inspectRetry: { base: 50, max: 200 } });
    const infos = subscribed(collector);
    await firstValueFrom(collector.state$.pipe(filter((state) => state.status === 'connected'), timeout(WAIT)));
    daemon.event('start', STARTED);
    daemon.event('start', LISTED);
    await tagsOf(collector, LISTED);
    // Long enough for two retries (50 + 100 ms) had the 404 been retried.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(inspectsOf(daemon, STARTED)).toBe(1);
    expect(infos.map((info) => info.entity)).toEqual([containerId(LISTED)]);
    expect(collector.counters).toMatchObject({ inspectErrors: 0, inspectRetries: 0, inspectGiveUps: 0 });
  });
});
