/**
 * The IPC benchmarks (issue 4): queries per second over the unix socket for cached tags, beside a
 * plain node:http server answering a fixed JSON on the same kind of socket; events per second
 * through the stream to 100 clients, beside a plain node:http server writing the same NDJSON lines
 * to 100 responses; and the remote tagger's tag() from its mirror beside the local tagger's tag().
 * Servers and clients run in this process, for ours and for the baselines alike.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, type ServerResponse, createServer, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { type TagInfo, createTagger, silentLogger, streamCollector } from '../../src/index.js';
import { createTaggerClient, serveTagger, tagsPath } from '../../src/ipc/index.js';
import { readTokenFile } from '../../src/ipc/token.js';
import { report } from './harness.js';

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

const dir = await mkdtemp(join(tmpdir(), 'tagstream-ipc-bench-'));
try {
  await queries(dir);
  await fanOut(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}
