/**
 * The IPC benchmarks (issue 4): queries per second over the unix socket for cached tags, beside a
 * plain node:http server answering a fixed JSON on the same kind of socket; events per second
 * through the stream to 100 clients, beside a plain node:http server writing the same NDJSON lines
 * to 100 responses; the remote tagger's tag() from its mirror beside the local tagger's tag(); and
 * a remote tagger's first sync of 100,000 entities (server memory and time) beside a plain NDJSON
 * dump streamed from the same store, one reader and ten at once.
 * Servers and clients run in this process, for ours and for the baselines alike, except the sync's
 * readers, which run in child processes so that this process's memory is the server's.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, type ServerResponse, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Subject } from 'rxjs';
import { type TagInfo, createTagger, silentLogger, streamCollector } from '../../src/index.js';
import { createTaggerClient, serveTagger, tagsPath } from '../../src/ipc/index.js';
import { readTokenFile } from '../../src/ipc/token.js';
import { heapUsed, report } from './harness.js';
import type { SyncOrder } from './sync-client.js';

const ENTITIES = 10_000;
const entityId = (i: number): string => `container_id://${i.toString(16).padStart(12, '0')}`;
const info = (i: number, version: number): TagInfo => ({
  entity: entityId(i),
  source: 'docker',
  lowCardTags: [`image_name:img-${i % 50}`, `short_image:img-${i % 50}`, `image_tag:v${version}`, `kube_namespace:ns-${i % 20}`],
  orchestratorCardTags: [`pod_name:pod-${i}`, `kube_ownerref_name:rs-${i % 500}`],
  highCardTags: [`container_id:${i}`, `container_name:c-${i}`, `display_container_name:c-${i}`],
});

/** `total` GETs over the socket by `concurrency` sequential workers on a keep-alive agent; requests per second. */
async function hammer(socketPath: string, paths: readonly string[], token: string, total: number, concurrency: number): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  let next = 0;
  let bytes = 0;
  const one = (path: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath, path, agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        if (res.statusCode !== 200) reject(new Error(`status ${String(res.statusCode)}`));
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', resolve);
      });
      req.on('error', reject);
      req.end();
    });
  const worker = async (): Promise<void> => {
    while (next < total) await one(paths[next++ % paths.length] as string);
  };
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  agent.destroy();
  if (bytes === 0) throw new Error('nothing answered');
  return total / seconds;
}

function listen(server: ReturnType<typeof createServer>, path: string): Promise<void> {
  return new Promise((resolve) => server.listen(path, resolve));
}

async function queries(dir: string): Promise<void> {
  const input = new Subject<TagInfo>();
  const tagger = createTagger({ collectors: [streamCollector('docker', input)], logger: silentLogger, pruneInterval: 60_000 });
  tagger.start();
  for (let i = 0; i < ENTITIES; i++) input.next(info(i, 1));
  const socketPath = join(dir, 'tagger.sock');
  const server = await serveTagger(tagger, { socketPath, logger: silentLogger });
  const token = await readTokenFile(server.tokenFile);
  const paths = Array.from({ length: ENTITIES }, (_, i) => tagsPath(entityId(i), 'high'));

  const fixed = JSON.stringify({ entity: entityId(1), cardinality: 'high', tags: tagger.storedTags(entityId(1), 'high') });
  const plain = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(fixed) });
    res.end(fixed);
  });
  const plainPath = join(dir, 'plain.sock');
  await listen(plain, plainPath);

  const TOTAL = 40_000;
  const CONCURRENCY = 16;
  await hammer(socketPath, paths, token, 4000, CONCURRENCY); // warm-up
  await hammer(plainPath, paths, token, 4000, CONCURRENCY);
  const ours = Math.max(await hammer(socketPath, paths, token, TOTAL, CONCURRENCY), await hammer(socketPath, paths, token, TOTAL, CONCURRENCY));
  const base = Math.max(await hammer(plainPath, paths, token, TOTAL, CONCURRENCY), await hammer(plainPath, paths, token, TOTAL, CONCURRENCY));
  report(
    `GET /v1/tags (cached, high, ${ENTITIES.toLocaleString('en-US')} entities), ${CONCURRENCY} keep-alive connections`,
    { name: 'tagstream server', value: ours, unit: 'queries/s' },
    { name: 'plain node:http, fixed JSON', value: base, unit: 'queries/s' },
  );

  // The remote tagger answers from its mirror, without the socket.
  const client = createTaggerClient({ socketPath, tokenFile: server.tokenFile, logger: silentLogger });
  client.start();
  while (client.connection().status !== 'connected') await new Promise((r) => setTimeout(r, 10));
  const CALLS = 500_000;
  const time = async (tag: (e: string) => Promise<string[]>): Promise<number> => {
    let sink = 0;
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) sink += (await tag(entityId(i % ENTITIES))).length;
    if (sink === 0) throw new Error('nothing read');
    return Number(process.hrtime.bigint() - start) / 1e3 / CALLS;
  };
  const remoteUs = Math.min(await time((e) => client.tag(e, 'high')), await time((e) => client.tag(e, 'high')));
  const localUs = Math.min(await time((e) => tagger.tag(e, 'high')), await time((e) => tagger.tag(e, 'high')));
  report('remote tagger tag() from its mirror, mean', { name: 'remote', value: remoteUs, unit: 'µs' }, { name: 'local tagger tag()', value: localUs, unit: 'µs' });
  client.stop();
  await server.close();
  await new Promise((r) => plain.close(r));
  tagger.stop();
}

/** Opens `n` streams on `path`; resolves with a function that waits until each has seen `lines` newline-ended lines. */
async function readers(socketPath: string, path: string, token: string, n: number): Promise<{ waitFor: (lines: number) => Promise<void>; close: () => void }> {
  const counts = new Array<number>(n).fill(0);
  const reqs = await Promise.all(
    Array.from(
      { length: n },
      (_, k) =>
        new Promise<ReturnType<typeof request>>((resolve, reject) => {
          const req = request({ socketPath, path, agent: false, headers: { authorization: `Bearer ${token}` } }, (res) => {
            res.on('data', (c: Buffer) => {
              for (const byte of c) if (byte === 10) counts[k] = (counts[k] ?? 0) + 1;
            });
            res.once('data', () => resolve(req));
          });
          req.on('error', reject);
          req.end();
        }),
    ),
  );
  return {
    waitFor: async (lines) => {
      while (counts.some((c) => c < lines)) await new Promise((r) => setImmediate(r));
    },
    close: () => {
      for (const r of reqs) r.destroy();
    },
  };
}

async function fanOut(dir: string): Promise<void> {
  const CLIENTS = 100;
  const EVENTS = 5000;
  const BATCH = 100;

  const input = new Subject<TagInfo>();
  const tagger = createTagger({ collectors: [streamCollector('docker', input)], logger: silentLogger, pruneInterval: 60_000 });
  tagger.start();
  const socketPath = join(dir, 'stream.sock');
  const server = await serveTagger(tagger, { socketPath, logger: silentLogger, maxStreams: CLIENTS, maxStreamBacklog: 64 * 1024 * 1024 });
  const token = await readTokenFile(server.tokenFile);
  const ours = await readers(socketPath, '/v1/events?cardinality=high', token, CLIENTS); // first line: synced
  const updates = Array.from({ length: EVENTS }, (_, u) => info(u % 1000, 2 + Math.floor(u / 1000)));
  const start = process.hrtime.bigint();
  for (let u = 0; u < EVENTS; u += BATCH) {
    for (let k = u; k < u + BATCH; k++) input.next(updates[k] as TagInfo);
    await new Promise((r) => setImmediate(r));
  }
  await ours.waitFor(1 + EVENTS);
  const oursSeconds = Number(process.hrtime.bigint() - start) / 1e9;
  ours.close();
  await server.close();
  tagger.stop();

  // Baseline: the same lines, pre-encoded, written to 100 plain responses.
  const lines = updates.map((i) => `${JSON.stringify({ type: 'modified', entity: i.entity, tags: [...i.lowCardTags, ...i.orchestratorCardTags, ...i.highCardTags] })}\n`);
  const responses: ServerResponse[] = [];
  const plain = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.write('{"type":"synced","entities":0}\n');
    responses.push(res);
  });
  const plainPath = join(dir, 'plain-stream.sock');
  await listen(plain, plainPath);
  const base = await readers(plainPath, '/', token, CLIENTS);
  const start2 = process.hrtime.bigint();
  for (let u = 0; u < EVENTS; u += BATCH) {
    for (let k = u; k < u + BATCH; k++) for (const res of responses) res.write(lines[k]);
    await new Promise((r) => setImmediate(r));
  }
  await base.waitFor(1 + EVENTS);
  const baseSeconds = Number(process.hrtime.bigint() - start2) / 1e9;
  base.close();
  plain.closeAllConnections();
  await new Promise((r) => plain.close(r));

  report(
    `event stream to ${CLIENTS} clients (${EVENTS.toLocaleString('en-US')} changes)`,
    { name: 'tagstream server', value: (EVENTS * CLIENTS) / oursSeconds, unit: 'events delivered/s' },
    { name: 'plain node:http, pre-encoded lines', value: (EVENTS * CLIENTS) / baseSeconds, unit: 'events delivered/s' },
  );
}

/** A reader in a child process (test/bench/sync-client.js); `sync` resolves when it holds every entity. */
interface SyncChild {
  sync(order: SyncOrder): Promise<void>;
  kill(): void;
}

async function syncChild(): Promise<SyncChild> {
  const child: ChildProcess = fork(join(dirname(fileURLToPath(import.meta.url)), 'sync-client.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  await once(child, 'message'); // ready
  return {
    sync: (order) =>
      new Promise<void>((resolve, reject) => {
        child.once('message', (answer: { entities?: number; error?: string }) => {
          if (answer.entities === order.entities) resolve();
          else reject(new Error(answer.error ?? `the reader holds ${String(answer.entities)} entities, not ${String(order.entities)}`));
        });
        child.send(order);
      }),
    kill: () => child.kill(),
  };
}

interface Peak {
  readonly ms: number;
  /** Peak growth of heapUsed + external above a collected heap at the start, bytes. */
  readonly heap: number;
  /** Peak growth of the resident set above its size at the start, bytes. */
  readonly rss: number;
}

/** Runs `work`, sampling this process's memory every millisecond. */
async function peakDuring(work: () => Promise<void>): Promise<Peak> {
  heapUsed(); // a full collection first
  const base = process.memoryUsage();
  let heap = 0;
  let rss = 0;
  const sample = (): void => {
    const m = process.memoryUsage();
    heap = Math.max(heap, m.heapUsed + m.external);
    rss = Math.max(rss, m.rss);
  };
  const sampler = setInterval(sample, 1);
  const start = process.hrtime.bigint();
  await work();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  clearInterval(sampler);
  sample();
  return { ms, heap: heap - (base.heapUsed + base.external), rss: rss - base.rss };
}

async function sync(dir: string): Promise<void> {
  const N = 100_000;
  const CONCURRENT = 10;
  const input = new Subject<TagInfo>();
  const tagger = createTagger({ collectors: [streamCollector('docker', input)], logger: silentLogger, pruneInterval: 60_000 });
  tagger.start();
  for (let i = 0; i < N; i++) input.next(info(i, 1));
  const socketPath = join(dir, 'sync.sock');
  const server = await serveTagger(tagger, { socketPath, logger: silentLogger });
  const token = await readTokenFile(server.tokenFile);

  // Baseline: the same lines (levels, as mirrors read them), streamed from the store in 64 KiB
  // chunks as the socket drains, then the end of the response.
  const plain = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const entries = tagger.storedEntries()[Symbol.iterator]();
    let count = 0;
    const pump = (): void => {
      for (;;) {
        let chunk = '';
        let next = entries.next();
        while (next.done !== true) {
          const [entity, tags] = next.value;
          chunk += `${JSON.stringify({ type: 'added', entity, tags: tags.high, levels: { low: tags.low.length, orchestrator: tags.orchestrator.length } })}\n`;
          count += 1;
          if (chunk.length >= 64 * 1024) break;
          next = entries.next();
        }
        if (next.done === true) {
          res.end(`${chunk}${JSON.stringify({ type: 'synced', entities: count })}\n`);
          return;
        }
        if (!res.write(chunk)) {
          res.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
  const plainPath = join(dir, 'sync-plain.sock');
  await listen(plain, plainPath);

  const children = await Promise.all(Array.from({ length: CONCURRENT }, syncChild));
  const ours: SyncOrder = { kind: 'remote', socketPath, tokenFile: server.tokenFile, token, entities: N };
  const base: SyncOrder = { kind: 'plain', socketPath: plainPath, tokenFile: server.tokenFile, token, entities: N };
  const one = (order: SyncOrder): Promise<Peak> => peakDuring(() => (children[0] as SyncChild).sync(order));
  const many = (order: SyncOrder): Promise<Peak> => peakDuring(async () => {
    await Promise.all(children.map((c) => c.sync(order)));
  });
  await one(ours); // warm-up, both sides
  await one(base);
  const rounds = { ours: [] as Peak[], base: [] as Peak[], oursMany: [] as Peak[], baseMany: [] as Peak[] };
  for (let round = 0; round < 6; round++) {
    // Alternate which side goes first.
    if (round % 2 === 0) {
      rounds.ours.push(await one(ours));
      rounds.base.push(await one(base));
    } else {
      rounds.base.push(await one(base));
      rounds.ours.push(await one(ours));
    }
  }
  for (let round = 0; round < 2; round++) {
    if (round % 2 === 0) {
      rounds.oursMany.push(await many(ours));
      rounds.baseMany.push(await many(base));
    } else {
      rounds.baseMany.push(await many(base));
      rounds.oursMany.push(await many(ours));
    }
  }
  for (const c of children) c.kill();
  await server.close();
  plain.closeAllConnections();
  await new Promise((r) => plain.close(r));
  tagger.stop();

  const median = (peaks: readonly Peak[], key: keyof Peak): number => {
    const sorted = peaks.map((p) => p[key]).sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)] ?? Number.NaN;
  };
  const MiB = 1024 * 1024;
  const title = `remote tagger first sync, ${N.toLocaleString('en-US')} entities`;
  report(`${title}: time (median of 6)`, { name: 'remote tagger', value: median(rounds.ours, 'ms'), unit: 'ms' }, { name: 'plain NDJSON dump from the store', value: median(rounds.base, 'ms'), unit: 'ms' }, '≤ 1.3');
  report(`${title}: server heap peak growth (median of 6)`, { name: 'remote tagger', value: median(rounds.ours, 'heap') / MiB, unit: 'MiB' }, { name: 'plain NDJSON dump', value: median(rounds.base, 'heap') / MiB, unit: 'MiB' }, '≤ 2');
  // After the warm-up, a sync that needs no memory the process does not hold already shows 0 here.
  const rss = (peaks: readonly Peak[]): string => peaks.map((p) => (p.rss / MiB).toFixed(1)).join(', ');
  console.log(`${title}: server RSS peak growth per round: remote tagger ${rss(rounds.ours)} MiB | plain NDJSON dump ${rss(rounds.base)} MiB | ${CONCURRENT} readers at once: remote tagger ${rss(rounds.oursMany)} MiB, plain ${rss(rounds.baseMany)} MiB`);
  report(`${title}, ${CONCURRENT} readers at once: time (median of 2)`, { name: 'remote tagger', value: median(rounds.oursMany, 'ms'), unit: 'ms' }, { name: 'plain NDJSON dump', value: median(rounds.baseMany, 'ms'), unit: 'ms' }, undefined);
  report(`${title}, ${CONCURRENT} readers at once: server heap peak growth (median of 2)`, { name: 'remote tagger', value: median(rounds.oursMany, 'heap') / MiB, unit: 'MiB' }, { name: 'plain NDJSON dump', value: median(rounds.baseMany, 'heap') / MiB, unit: 'MiB' }, undefined);
  report(`${title}: server heap peak growth, ${CONCURRENT} readers at once vs one`, { name: `${CONCURRENT} readers`, value: median(rounds.oursMany, 'heap') / MiB, unit: 'MiB' }, { name: 'one reader', value: median(rounds.ours, 'heap') / MiB, unit: 'MiB' }, undefined);
}

const dir = await mkdtemp(join(tmpdir(), 'tagstream-ipc-bench-'));
const only = process.argv.slice(2);
try {
  if (only.length > 0 && only.includes('sync')) {
    await sync(dir);
  } else {
    await queries(dir);
    await fanOut(dir);
    await sync(dir);
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
