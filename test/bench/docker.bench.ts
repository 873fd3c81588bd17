/**
 * Docker collector cost: tags for 1,000 containers from a cold start (list plus inspect), and the
 * cost of one event once connected. Each figure is printed beside a plain baseline measured in the
 * same process, with the ratio.
 *
 *   npx tsx test/bench/docker.bench.ts
 *
 * 1,000 real containers under the vfs storage driver would copy the image 1,000 times and take
 * minutes, so the 1,000-container figures run against a fake Docker daemon: a node:http server on
 * a unix socket answering `/containers/json`, `/containers/{id}/json` and `/events` as the real
 * daemon does (same JSON shapes, a chunked event stream), reached through the real dockerode
 * client. When a private dockerd can start here (test/services/docker.ts), a smaller cold start
 * against the real engine (50 containers) is measured too.
 */
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { dockerCollector, extractDockerTags } from '../../src/collectors/docker/index.js';
import type { DockerCollector } from '../../src/collectors/docker/index.js';
import { containerId } from '../../src/tagger/entity-id.js';
import { tagInfo } from '../../src/tagger/stream-collector.js';
import type { TagInfo } from '../../src/tagger/types.js';
import { silentLogger } from '../../src/util/logger.js';
import { dockerMissingReason, startDockerEngine } from '../services/docker.js';

const CONTAINERS = Number(process.env['BENCH_CONTAINERS'] ?? 1000);
const REAL_CONTAINERS = 50;
const RUNS = 3;
const LABELS_AS_TAGS = { 'com.example.team': 'team', 'com.example.*': 'label_%%label%%' };
const ENV_AS_TAGS = { REGION: '+region' };

// ---------------------------------------------------------------------------------------------
// A fake daemon.

interface FakeDaemon {
  readonly socketPath: string;
  /** Renames container `index` (the next inspect answers the new name) and sends its event. */
  rename(index: number): void;
  /** Sends a `destroy` event for container `index` (a `die` deletes nothing: a stopped container keeps its tags for the grace). */
  destroy(index: number): void;
  close(): Promise<void>;
}

function idOf(index: number): string {
  return index.toString(16).padStart(64, '0');
}

function inspectDocument(index: number, generation: number): string {
  const id = idOf(index);
  return JSON.stringify({
    Id: id,
    Created: '2026-11-21T22:49:59.761497374Z',
    Path: '/bin/sleep',
    Args: ['3600'],
    State: { Status: 'running', Running: true, Paused: false, Restarting: false, OOMKilled: false, Dead: false, Pid: 1000 + index, ExitCode: 0 },
    Image: `sha256:${'ab'.repeat(32)}`,
    Name: `/app-${index}-${generation}`,
    RestartCount: 0,
    HostConfig: { NetworkMode: 'none' },
    Config: {
      Hostname: id.slice(0, 12),
      Image: `registry.example.com:5000/team/app-${index % 20}:1.${index % 7}`,
      Env: [
        'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        'DD_ENV=prod',
        `DD_SERVICE=app-${index % 20}`,
        `DD_VERSION=1.${index % 7}`,
        'REGION=eu-west-1',
        'SECRET_TOKEN=do-not-tag-me',
        'NOMAD_TASK_NAME=web',
        'NOMAD_JOB_NAME=shop',
      ],
      Cmd: ['/bin/sleep', '3600'],
      Labels: {
        'com.example.team': `team-${index % 5}`,
        'com.example.tier': String(index % 3),
        'com.docker.swarm.service.name': `svc-${index % 20}`,
        'com.datadoghq.ad.tags': '["owner:platform","cost_center:42"]',
        'org.opencontainers.image.source': 'https://example.com/app',
      },
    },
    NetworkSettings: { Networks: {} },
  });
}

function listDocument(count: number): string {
  return JSON.stringify(
    Array.from({ length: count }, (_, index) => ({
      Id: idOf(index),
      Names: [`/app-${index}-0`],
      Image: `registry.example.com:5000/team/app-${index % 20}:1.${index % 7}`,
      ImageID: `sha256:${'ab'.repeat(32)}`,
      Command: '/bin/sleep 3600',
      Created: 1763765399,
      State: 'running',
      Status: 'Up 1 second',
      Labels: {},
    })),
  );
}

async function startFakeDaemon(count: number, dir: string): Promise<FakeDaemon> {
  const socketPath = join(dir, 'fake-docker.sock');
  const generations = new Array<number>(count).fill(0);
  const list = listDocument(count);
  const streams = new Set<ServerResponse>();
  const time = 1763765399;
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://docker');
    const inspect = /^\/containers\/([0-9a-f]{64})\/json$/.exec(url.pathname);
    if (url.pathname === '/containers/json') {
      response.writeHead(200, { 'content-type': 'application/json' }).end(list);
    } else if (inspect?.[1] !== undefined) {
      const index = Number.parseInt(inspect[1], 16);
      const generation = generations[index];
      if (generation === undefined) response.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"No such container"}');
      else response.writeHead(200, { 'content-type': 'application/json' }).end(inspectDocument(index, generation));
    } else if (url.pathname === '/events') {
      response.writeHead(200, { 'content-type': 'application/json', date: new Date().toUTCString() });
      response.flushHeaders();
      streams.add(response);
      response.on('close', () => streams.delete(response));
    } else {
      response.writeHead(404).end('{"message":"page not found"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  const send = (action: string, index: number): void => {
    const id = idOf(index);
    const line = `${JSON.stringify({
      status: action,
      id,
      from: 'registry.example.com:5000/team/app:1.0',
      Type: 'container',
      Action: action,
      Actor: { ID: id, Attributes: { name: `app-${index}-${generations[index] ?? 0}`, image: 'registry.example.com:5000/team/app:1.0' } },
      scope: 'local',
      time,
      timeNano: time * 1e9,
    })}\n`;
    for (const stream of streams) stream.write(line);
  };
  return {
    socketPath,
    rename(index) {
      generations[index] = (generations[index] ?? 0) + 1;
      send('rename', index);
    },
    destroy(index) {
      send('destroy', index);
    },
    close() {
      for (const stream of streams) stream.destroy();
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => { resolve(); }));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Measurements.

function toInfo(inspect: Docker.ContainerInspectInfo): TagInfo {
  const tags = extractDockerTags(inspect, { labelsAsTags: LABELS_AS_TAGS, envAsTags: ENV_AS_TAGS });
  return tagInfo({ entity: containerId(inspect.Id), source: 'docker', low: tags.low, orchestrator: tags.orchestrator, high: tags.high });
}

/** Baseline: dockerode list, then inspect each in turn, extract; no RxJS. */
async function sequentialBaseline(docker: Docker): Promise<number> {
  const start = performance.now();
  const infos: TagInfo[] = [];
  for (const container of await docker.listContainers()) infos.push(toInfo(await docker.getContainer(container.Id).inspect()));
  if (infos.length === 0) throw new Error('nothing listed');
  return performance.now() - start;
}

/** Baseline: dockerode list, then inspect 8 at a time with plain promises, extract; no RxJS. */
async function parallelBaseline(docker: Docker, concurrency = 8): Promise<number> {
  const start = performance.now();
  const ids = (await docker.listContainers()).map((c) => c.Id);
  const infos: TagInfo[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++];
      if (id !== undefined) infos.push(toInfo(await docker.getContainer(id).inspect()));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (infos.length !== ids.length) throw new Error('lost containers');
  return performance.now() - start;
}

function collectorOn(socketPath: string): DockerCollector {
  return dockerCollector({
    docker: new Docker({ socketPath }),
    labelsAsTags: LABELS_AS_TAGS,
    envAsTags: ENV_AS_TAGS,
    inspectConcurrency: 8,
    logger: silentLogger,
  });
}

/** The collector: subscribe, until `count` TagInfos (list plus inspects) have arrived. */
async function collectorColdStart(socketPath: string, count: number): Promise<number> {
  const collector = collectorOn(socketPath);
  const start = performance.now();
  const infos = await firstValueFrom(collector.tagInfo$.pipe(take(count), toArray()));
  const elapsed = performance.now() - start;
  if (new Set(infos.map((info) => info.entity)).size !== count) throw new Error('duplicate or missing containers');
  return elapsed;
}

async function best(run: () => Promise<number>): Promise<number> {
  let fastest = Number.POSITIVE_INFINITY;
  for (let i = 0; i < RUNS; i++) fastest = Math.min(fastest, await run());
  return fastest;
}

function line(label: string, ms: number, baselineLabel: string, baselineMs: number, unit = 'ms'): void {
  const ratio = ms / baselineMs;
  console.log(`${label.padEnd(46)} ${ms.toFixed(2).padStart(9)} ${unit}   ${baselineLabel} ${baselineMs.toFixed(2)} ${unit}   ratio ${ratio.toFixed(2)}x`);
}

/**
 * Per-event cost once connected: one rename per container (each inspected: renames of one
 * container in a burst would be coalesced, which is cheaper but not what is measured here), then
 * one destroy per container (no IO).
 */
async function perEvent(daemon: FakeDaemon, socketPath: string): Promise<void> {
  const collector = collectorOn(socketPath);
  const infos: TagInfo[] = [];
  const subscription = collector.tagInfo$.subscribe((info) => infos.push(info));
  await firstValueFrom(collector.state$.pipe(filter((state) => state.status === 'connected')));
  while (infos.length < CONTAINERS) await new Promise((resolve) => setTimeout(resolve, 5));

  const waitFor = async (total: number): Promise<void> => {
    const deadline = performance.now() + 60_000;
    while (infos.length < total) {
      if (performance.now() > deadline) throw new Error(`only ${infos.length} of ${total} TagInfos after 60 s`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  // Renames: event -> inspect -> extract -> TagInfo.
  let start = performance.now();
  for (let i = 0; i < CONTAINERS; i++) daemon.rename(i);
  await waitFor(CONTAINERS * 2);
  const renameUs = ((performance.now() - start) * 1000) / CONTAINERS;

  // Baseline: the same inspects and extracts, 8 at a time, with plain promises.
  const docker = new Docker({ socketPath });
  start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CONTAINERS) {
      const index = next++;
      toInfo(await docker.getContainer(idOf(index)).inspect());
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const inspectUs = ((performance.now() - start) * 1000) / CONTAINERS;
  line(`per rename event (inspect + TagInfo), ${CONTAINERS}`, renameUs, 'plain inspect+extract(8)', inspectUs, 'µs');

  // Destroys: event -> deleteEntity, no IO.
  start = performance.now();
  for (let i = 0; i < CONTAINERS; i++) daemon.destroy(i);
  await waitFor(CONTAINERS * 3);
  const destroyUs = ((performance.now() - start) * 1000) / CONTAINERS;
  // Baseline: parse the same JSON lines into delete TagInfos in a loop.
  const lines = Array.from({ length: CONTAINERS }, (_, i) =>
    JSON.stringify({ Type: 'container', Action: 'destroy', Actor: { ID: idOf(i), Attributes: { name: `app-${i}` } }, time: 1763765399 }),
  );
  start = performance.now();
  const deletes: TagInfo[] = [];
  for (const raw of lines) {
    const event = JSON.parse(raw) as { Actor: { ID: string } };
    deletes.push({ entity: containerId(event.Actor.ID), source: 'docker', lowCardTags: [], orchestratorCardTags: [], highCardTags: [], deleteEntity: true });
  }
  const loopUs = ((performance.now() - start) * 1000) / CONTAINERS;
  line(`per destroy event (deleteEntity, no IO), ${CONTAINERS}`, destroyUs, 'JSON.parse loop', loopUs, 'µs');
  subscription.unsubscribe();
}

async function realEngine(): Promise<void> {
  const missing = dockerMissingReason();
  if (missing !== undefined) {
    console.log(`real engine: skipped (${missing})`);
    return;
  }
  const engine = await startDockerEngine();
  try {
    for (let i = 0; i < REAL_CONTAINERS; i++) await engine.run({ name: `bench-${i}`, labels: { 'com.example.team': 'core' }, env: ['DD_ENV=prod'] });
    const docker = new Docker({ socketPath: engine.socketPath });
    const sequential = await best(() => sequentialBaseline(docker));
    const parallel = await best(() => parallelBaseline(docker));
    const collector = await best(() => collectorColdStart(engine.socketPath, REAL_CONTAINERS));
    line(`real dockerd cold start, ${REAL_CONTAINERS} containers`, collector, 'sequential', sequential);
    line(`real dockerd cold start, ${REAL_CONTAINERS} containers`, collector, 'parallel(8)', parallel);
  } finally {
    await engine.destroy();
  }
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-docker-bench-'));
  const daemon = await startFakeDaemon(CONTAINERS, dir);
  const docker = new Docker({ socketPath: daemon.socketPath });
  try {
    console.log(`Docker collector, fake daemon over a unix socket, dockerode 4, Node ${process.version}`);
    // Warm up every path once.
    await sequentialBaseline(docker);
    await collectorColdStart(daemon.socketPath, CONTAINERS);
    const sequential = await best(() => sequentialBaseline(docker));
    const parallel = await best(() => parallelBaseline(docker));
    const collector = await best(() => collectorColdStart(daemon.socketPath, CONTAINERS));
    line(`cold start, ${CONTAINERS} containers (list + inspect)`, collector, 'sequential', sequential);
    line(`cold start, ${CONTAINERS} containers (list + inspect)`, collector, 'parallel(8)', parallel);
    await perEvent(daemon, daemon.socketPath);
  } finally {
    await daemon.close();
    rmSync(dir, { recursive: true, force: true });
  }
  await realEngine();
}

await main();
