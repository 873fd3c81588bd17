import { createServer, request } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Subject, firstValueFrom, filter, map, timer } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { type Collector, type TagEvent, type TagInfo, type Tagger, containerId, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';
import { type ServeTaggerOptions, type TaggerClient, type TaggerServer, createTaggerClient, serveTagger } from '../../src/ipc/index.js';
import { StreamReader, events, get, tempDir, waitFor } from './helpers.js';

/**
 * A real server and client over a tagger where the runtime streams containers and a fetch-only
 * kubelet, expected for every container (`covers`), answers `delay` ms after it is asked.
 */
interface Setup {
  readonly tagger: Tagger;
  readonly runtime: Subject<TagInfo>;
  readonly server: TaggerServer;
  readonly socketPath: string;
  readonly tokenFile: string;
  readonly token: string;
  client(): TaggerClient;
}

const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(delay: number, options: ServeTaggerOptions = {}): Promise<Setup> {
  const { dir, remove } = await tempDir();
  cleanups.push(remove);
  const runtime = new Subject<TagInfo>();
  const kubelet: Collector = {
    source: 'kubelet',
    priority: 1,
    mode: 'fetch',
    covers: ['container_id'],
    fetch: (entity) => timer(delay).pipe(map(() => tagInfo({ entity, source: 'kubelet', low: ['pod_name:web'] }))),
  };
  const tagger = createTagger({
    collectors: [streamCollector('runtime', runtime, { priority: 0 }), kubelet],
    logger: silentLogger,
    completenessRetryDelays: [],
  });
  tagger.start();
  cleanups.push(() => tagger.stop());
  const socketPath = join(dir, 'tagger.sock');
  const tokenFile = join(dir, 'token');
  const server = await serveTagger(tagger, { socketPath, tokenFile, logger: silentLogger, ...options });
  cleanups.push(() => server.close());
  const token = (await readFile(tokenFile, 'utf8')).trim();
  return {
    tagger,
    runtime,
    server,
    socketPath,
    tokenFile,
    token,
    client() {
      const c = createTaggerClient({ socketPath, tokenFile, logger: silentLogger, initialRetryDelay: 50 });
      c.start();
      cleanups.push(() => c.stop());
      return c;
    },
  };
}

const report = (s: Setup, entity: string): void => {
  s.runtime.next(tagInfo({ entity, source: 'runtime', low: ['image:redis'] }));
};

const metric = (text: string, line: string): number | undefined => {
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
};

describe('completeness over IPC: GET /v1/tags/{entity}?wait=', () => {
  it('waits for the entity to be complete and answers tags, complete, missing and the wait used', async () => {
    const s = await setup(200);
    const A = containerId('a');
    report(s, A);
    const started = Date.now();
    const answer = await get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}?cardinality=high&wait=2000`, s.token);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ entity: A, cardinality: 'high', tags: ['pod_name:web', 'image:redis'], complete: true, missing: [], wait: 2000 });
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('answers incomplete at the deadline with the missing sources; a wait over maxQueryWait is cut to it', async () => {
    const s = await setup(1000, { maxQueryWait: 100 });
    const A = containerId('a');
    report(s, A);
    const started = Date.now();
    const answer = await get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}?wait=60000`, s.token);
    const took = Date.now() - started;
    expect(JSON.parse(answer.body)).toEqual({ entity: A, cardinality: 'low', tags: ['image:redis'], complete: false, missing: ['kubelet'], wait: 100 });
    expect(took).toBeGreaterThanOrEqual(90);
    expect(took).toBeLessThan(900);
  });

  it('keeps the answer without wait byte for byte as before (no completeness fields)', async () => {
    const s = await setup(10);
    const A = containerId('a');
    report(s, A);
    const answer = await get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}`, s.token);
    expect(answer.body).toBe(`{"entity":"${A}","cardinality":"low","tags":["pod_name:web","image:redis"]}`);
  });

  it('bounds the waiting queries: one over maxWaitingQueries does not wait for completeness (wait 0), and is counted', async () => {
    const s = await setup(300, { maxWaitingQueries: 1 });
    const A = containerId('a');
    report(s, A);
    const first = get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}?wait=3000`, s.token);
    await waitFor(() => s.server.telemetry().waitingQueries === 1, 2000, 'one waiting query');
    // Refused a slot, it is answered as a query without wait would be (after the fetch on miss it shares).
    const second = JSON.parse((await get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}?wait=3000`, s.token)).body) as { wait: number };
    expect(second.wait).toBe(0);
    expect(JSON.parse((await first).body)).toMatchObject({ wait: 3000, complete: true, missing: [] });
    expect(s.server.telemetry()).toMatchObject({ waitingQueries: 0, queryWaits: 1, queryWaitsRefused: 1 });
  });

  it('answers a waiting query 503 ShuttingDown at once when the server closes, and frees its slot', async () => {
    const s = await setup(5000, { maxQueryWait: 5000 });
    const A = containerId('a');
    report(s, A);
    const waiting = get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}?wait=5000`, s.token);
    await waitFor(() => s.server.telemetry().waitingQueries === 1, 2000, 'one waiting query');
    const started = Date.now();
    await s.server.close();
    const answer = await waiting;
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'ShuttingDown', message: 'the server is closing' } });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(s.server.telemetry().waitingQueries).toBe(0);
  });

  it('frees the slot of a waiting query whose client goes away', async () => {
    const s = await setup(5000);
    const A = containerId('a');
    report(s, A);
    const req = request({ socketPath: s.socketPath, path: `/v1/tags/${encodeURIComponent(A)}?wait=5000`, headers: { authorization: `Bearer ${s.token}` }, agent: false });
    req.on('error', () => undefined);
    req.end();
    await waitFor(() => s.server.telemetry().waitingQueries === 1, 2000, 'one waiting query');
    req.destroy();
    await waitFor(() => s.server.telemetry().waitingQueries === 0, 2000, 'the slot freed');
  });

  it('puts complete on event lines: incomplete at the first report, then a modified line complete: true', async () => {
    const s = await setup(200);
    const reader = new StreamReader(s.socketPath, '/v1/events?levels=1', s.token);
    cleanups.push(() => reader.close());
    await reader.until((l) => l.length >= 1);
    const A = containerId('a');
    report(s, A);
    await reader.until((l) => events(l).some((e) => (e as { complete?: boolean }).complete === true));
    const lines = events(reader.lines) as { type: string; complete?: boolean }[];
    expect(lines[0]).toEqual({ type: 'synced', entities: 0 });
    expect(lines[1]).toEqual({ type: 'added', entity: A, tags: ['image:redis'], levels: { low: 1, orchestrator: 1 }, complete: false });
    expect(lines.at(-1)).toEqual({ type: 'modified', entity: A, tags: ['pod_name:web', 'image:redis'], levels: { low: 2, orchestrator: 2 }, complete: true });
  });
});

describe('completeness over IPC: the remote tagger', () => {
  it('lookup with waitForComplete resolves complete from the server; with a short wait, incomplete, counted on both sides', async () => {
    const s = await setup(200);
    const c = s.client();
    await waitFor(() => c.connection().status === 'connected', 5000, 'connected');
    const A = containerId('a');
    const B = containerId('b');
    report(s, A);
    expect(await c.lookup(A, { cardinality: 'high', waitForComplete: 2000 })).toEqual({ tags: ['pod_name:web', 'image:redis'], complete: true, missing: [] });
    report(s, B);
    expect(await c.lookup(B, { waitForComplete: 50 })).toEqual({ tags: ['image:redis'], complete: false, missing: ['kubelet'] });
    expect(c.telemetry().completeness.lookupsIncompleteAtDeadline).toBe(1);
    const text = (await get(s.socketPath, '/v1/metrics', s.token)).body;
    expect(metric(text, 'tagstream_tagger_lookups_incomplete_total')).toBe(1);
  });

  it('events$ and lookup$ carry what the server stream says; a lookup of an entity the mirror knows complete asks nothing', async () => {
    const s = await setup(200);
    const c = s.client();
    await waitFor(() => c.connection().status === 'connected', 5000, 'connected');
    const A = containerId('a');
    const seen: TagEvent[] = [];
    const sub = c.events$().subscribe((e) => seen.push(e));
    cleanups.push(() => sub.unsubscribe());
    const completed = firstValueFrom(c.lookup$(A).pipe(filter((l) => l.complete)));
    report(s, A);
    expect(await completed).toEqual({ tags: ['pod_name:web', 'image:redis'], complete: true, missing: [] });
    await waitFor(() => seen.length >= 2, 3000, 'two events');
    expect(seen).toEqual([
      { type: 'added', entity: A, tags: ['image:redis'], complete: false },
      { type: 'modified', entity: A, tags: ['pod_name:web', 'image:redis'], complete: true },
    ]);
    const asked = c.clientTelemetry().directQueries;
    expect(await c.lookup(A, { waitForComplete: 1000 })).toEqual({ tags: ['pod_name:web', 'image:redis'], complete: true, missing: [] });
    expect(c.clientTelemetry().directQueries).toBe(asked);
    expect(c.storedCompleteness?.(A)).toEqual({ complete: true, missing: [] });
  });

  it('against a server older than wait: the honest unknown (complete false, missing unknown), events without complete', async () => {
    const { dir, remove } = await tempDir();
    cleanups.push(remove);
    const socketPath = join(dir, 'old.sock');
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'an-old-servers-token-0123456789', { mode: 0o600 });
    const A = containerId('a');
    // What a server before this change answers: no completeness anywhere, `wait` ignored.
    const old = createServer((req, res) => {
      if (req.url?.startsWith('/v1/events') === true) {
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        res.write(`{"type":"added","entity":"${A}","tags":["image:redis"],"levels":{"low":1,"orchestrator":1}}\n{"type":"synced","entities":1}\n`);
        return;
      }
      const body = `{"entity":"${containerId('b')}","cardinality":"low","tags":["image:old"]}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
    await new Promise<void>((resolve) => old.listen(socketPath, resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          old.closeAllConnections();
          old.close(() => resolve());
        }),
    );
    const c = createTaggerClient({ socketPath, tokenFile, logger: silentLogger });
    c.start();
    cleanups.push(() => c.stop());
    await waitFor(() => c.connection().status === 'connected', 5000, 'connected');
    expect(await c.lookup(containerId('b'), { waitForComplete: 100 })).toEqual({ tags: ['image:old'], complete: false, missing: ['unknown'] });
    expect(await c.lookup(A)).toEqual({ tags: ['image:old'], complete: false, missing: ['unknown'] });
    expect(await firstValueFrom(c.events$())).toEqual({ type: 'added', entity: A, tags: ['image:redis'] });
    expect(c.storedCompleteness?.(A)).toBeUndefined();
  });
});

describe('completeness over IPC: metrics', () => {
  it('exports the completeness delay histogram by prefix in seconds, entities incomplete now, and waiting queries', async () => {
    const s = await setup(200);
    const A = containerId('a');
    const B = containerId('b');
    report(s, A);
    await get(s.socketPath, `/v1/tags/${encodeURIComponent(A)}?wait=2000`, s.token);
    report(s, B);
    const text = (await get(s.socketPath, '/v1/metrics', s.token)).body;
    expect(text).toContain('# TYPE tagstream_tagger_completeness_delay_seconds histogram');
    const delay = s.tagger.telemetry().completeness.delayMs.container_id;
    expect(delay?.count).toBe(1);
    expect(metric(text, 'tagstream_tagger_completeness_delay_seconds_count{prefix="container_id"}')).toBe(1);
    expect(metric(text, 'tagstream_tagger_completeness_delay_seconds_sum{prefix="container_id"}')).toBeCloseTo((delay?.sum ?? 0) / 1000, 6);
    expect(metric(text, 'tagstream_tagger_completeness_delay_seconds_bucket{prefix="container_id",le="+Inf"}')).toBe(1);
    // The 200 ms fetch lands in the buckets from its own up, and in none below 0.1 s.
    const buckets = text.split('\n').filter((l) => l.startsWith('tagstream_tagger_completeness_delay_seconds_bucket{'));
    expect(buckets.length).toBeGreaterThan(1);
    for (const line of buckets) {
      const le = Number(/le="([^"]+)"/.exec(line)?.[1] ?? Number.NaN);
      const value = Number(line.split(' ').at(-1));
      if (le < 0.1) expect(value).toBe(0);
      if (le >= 5) expect(value).toBe(1);
    }
    expect(metric(text, 'tagstream_tagger_incomplete_entities')).toBe(1);
    expect(metric(text, 'tagstream_ipc_waiting_queries')).toBe(0);
    expect(metric(text, 'tagstream_ipc_query_waits_total')).toBe(1);
    expect(metric(text, 'tagstream_tagger_lookups_incomplete_total')).toBe(0);
  });
});
