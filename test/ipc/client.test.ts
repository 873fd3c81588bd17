import { firstValueFrom, of, take, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  InvalidCardinalityError,
  InvalidEntityIdError,
  type TagCardinality,
  type TagEvent,
  TaggerNotRunningError,
  containerId,
  deleteEntityInfo,
  silentLogger,
  tagInfo,
} from '../../src/index.js';
import { type ClientConnectionState, IpcResponseError, type TaggerClient, createTaggerClient } from '../../src/ipc/index.js';
import { type Fixture, put, startFixture, waitFor } from './helpers.js';

const A = containerId('a');
const B = containerId('b');
const C = containerId('c');
const CARDS: readonly TagCardinality[] = ['low', 'orchestrator', 'high'];

let fixture: Fixture | undefined;
let client: TaggerClient | undefined;

afterEach(async () => {
  client?.stop();
  client = undefined;
  await fixture?.close();
  fixture = undefined;
});

function connect(f: Fixture, extra: Partial<Parameters<typeof createTaggerClient>[0]> = {}): TaggerClient {
  client = createTaggerClient({ socketPath: f.socketPath, tokenFile: f.tokenFile, logger: silentLogger, initialRetryDelay: 50, maxRetryDelay: 200, ...extra });
  client.start();
  return client;
}

/** The mirror equals the server's store at every cardinality, entity for entity. */
function converged(f: Fixture, c: TaggerClient): boolean {
  const server = f.tagger.list();
  const mirror = c.list();
  if (server.length !== mirror.length) return false;
  return server.every((e) => CARDS.every((card) => JSON.stringify(c.storedTags(e.entity, card)) === JSON.stringify(e.tags[card])));
}

describe('createTaggerClient', () => {
  it('mirrors the server store and answers tag() from it at every cardinality', async () => {
    fixture = await startFixture();
    put(fixture, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
    const c = connect(fixture);
    await waitFor(() => c.connection().status === 'connected', 5000, 'connected');
    expect(c.connection()).toEqual({ status: 'connected', entities: 1 });
    expect(await c.tag(A)).toEqual(['env:prod']);
    expect(await c.tag(A, 'orchestrator')).toEqual(['env:prod', 'pod_name:web-1']);
    expect(await c.tag(A, 'high')).toEqual(['env:prod', 'pod_name:web-1', 'container_name:web']);
    expect(c.clientTelemetry().directQueries).toBe(0);
    put(fixture, A, ['env:qa']);
    await waitFor(() => c.storedTags(A, 'low')[0] === 'env:qa', 5000, 'the change to reach the mirror');
    expect(c.telemetry()).toMatchObject({ entities: 1, queries: { low: { found: 1, empty: 0 } } });
  });

  it('asks the server directly for an entity the mirror lacks (the server fetches it)', async () => {
    fixture = await startFixture({}, { fetch: (entity) => (entity === B ? of(tagInfo({ entity, source: 'static', low: ['fetched:yes'] })) : of()) });
    const c = connect(fixture);
    await waitFor(() => c.connection().status === 'connected');
    expect(c.storedTags(B)).toEqual([]);
    expect(await c.tag(B)).toEqual(['fetched:yes']);
    expect(c.clientTelemetry().directQueries).toBe(1);
    // The fetch stored it on the server, and the stream brings it into the mirror.
    await waitFor(() => c.storedTags(B).length === 1, 5000, 'the fetched entity in the mirror');
    expect(await c.tag(B)).toEqual(['fetched:yes']);
    expect(c.clientTelemetry().directQueries).toBe(1);
  });

  it('has the local tagger contract for bad queries and before start / after stop', async () => {
    fixture = await startFixture();
    client = createTaggerClient({ socketPath: fixture.socketPath, tokenFile: fixture.tokenFile, logger: silentLogger });
    await expect(client.tag(A)).rejects.toBeInstanceOf(TaggerNotRunningError);
    client.start();
    await expect(client.tag('nope')).rejects.toBeInstanceOf(InvalidEntityIdError);
    await expect(client.tag(A, 'HIGH' as TagCardinality)).rejects.toBeInstanceOf(InvalidCardinalityError);
    await expect(firstValueFrom(client.events$({ cardinality: 'x' as TagCardinality }))).rejects.toBeInstanceOf(InvalidCardinalityError);
    client.stop();
    await expect(client.tag(A)).rejects.toBeInstanceOf(TaggerNotRunningError);
    expect(() => client?.start()).toThrow(TaggerNotRunningError);
    expect(client.connection()).toEqual({ status: 'stopped' });
  });

  it('follows one entity with tags$ (now, each change, [] when deleted) and completes on stop', async () => {
    fixture = await startFixture();
    put(fixture, A, ['env:prod']);
    const c = connect(fixture);
    await waitFor(() => c.connection().status === 'connected');
    const seen: string[][] = [];
    let completed = false;
    c.tags$(A).subscribe({ next: (t) => seen.push(t), complete: () => (completed = true) });
    put(fixture, A, ['env:prod'], [], ['container_name:x']); // no change at low
    put(fixture, A, ['env:qa']);
    fixture.input.next(deleteEntityInfo(A, 'static'));
    await waitFor(() => seen.length >= 3, 5000, 'three values');
    expect(seen).toEqual([['env:prod'], ['env:qa'], []]);
    c.stop();
    expect(completed).toBe(true);
  });

  it('tags$ of an entity the mirror lacks starts with the server answer', async () => {
    fixture = await startFixture({}, { fetch: (entity) => of(tagInfo({ entity, source: 'static', low: ['fetched:yes'] })) });
    const c = connect(fixture);
    await waitFor(() => c.connection().status === 'connected');
    expect(await firstValueFrom(c.tags$(C))).toEqual(['fetched:yes']);
  });

  it('streams events$ from the mirror: an added burst, then changes at the cardinality, with complete as the server says it', async () => {
    fixture = await startFixture();
    put(fixture, A, ['env:prod'], ['pod_name:a']);
    const c = connect(fixture);
    await waitFor(() => c.connection().status === 'connected');
    const seen: TagEvent[] = [];
    c.events$({ cardinality: 'orchestrator' }).subscribe((e) => seen.push(e));
    put(fixture, B, ['env:dev']);
    put(fixture, A, ['env:prod'], ['pod_name:a'], ['container_name:x']); // no change at orchestrator
    fixture.input.next(deleteEntityInfo(B, 'static'));
    await waitFor(() => seen.length >= 3, 5000, 'three events');
    expect(seen).toEqual([
      { type: 'added', entity: A, tags: ['env:prod', 'pod_name:a'], complete: true },
      { type: 'added', entity: B, tags: ['env:dev'], complete: true },
      { type: 'deleted', entity: B, tags: [], complete: false },
    ]);
  });

  it('reports its state, and backs off exponentially from the initial delay while the server is away', async () => {
    fixture = await startFixture();
    const states: ClientConnectionState[] = [];
    const c = createTaggerClient({ socketPath: fixture.socketPath, tokenFile: fixture.tokenFile, logger: silentLogger, initialRetryDelay: 20, maxRetryDelay: 80 });
    client = c;
    c.state$.subscribe((s) => states.push(s));
    c.start();
    await waitFor(() => c.connection().status === 'connected');
    await fixture.server.close();
    await waitFor(() => states.filter((s) => s.status === 'disconnected').length >= 5, 5000, 'five failed attempts');
    const delays = states.flatMap((s) => (s.status === 'disconnected' ? [s.retryInMs] : []));
    expect(delays.slice(0, 5)).toEqual([20, 40, 80, 80, 80]);
    expect(states.slice(0, 3).map((s) => s.status)).toEqual(['created', 'connecting', 'connected']);
    await fixture.restart();
    await waitFor(() => c.connection().status === 'connected', 5000, 'reconnected');
    // Reset after a success: the next outage starts from the initial delay again.
    await fixture.server.close();
    await waitFor(() => c.connection().status === 'disconnected');
    expect(c.connection()).toMatchObject({ status: 'disconnected', attempt: 1, retryInMs: 20 });
    await fixture.restart();
  });

  it('uses the default initial delay of 0.5 s', async () => {
    fixture = await startFixture();
    await fixture.server.close();
    const c = createTaggerClient({ socketPath: fixture.socketPath, token: 'x'.repeat(32), logger: silentLogger });
    client = c;
    c.start();
    await waitFor(() => c.connection().status === 'disconnected');
    expect(c.connection()).toMatchObject({ status: 'disconnected', attempt: 1, retryInMs: 500 });
    await fixture.restart();
  });

  it('reports a wrong token as a 401 and keeps trying', async () => {
    fixture = await startFixture();
    const c = connect(fixture, { tokenFile: undefined, token: 'w'.repeat(64) } as never);
    await waitFor(() => c.connection().status === 'disconnected');
    const state = c.connection();
    expect(state.status === 'disconnected' && state.error instanceof IpcResponseError && state.error.status === 401).toBe(true);
    expect(JSON.stringify(state)).not.toContain(fixture.token);
  });

  it('answers [] (and counts the failure) when the server cannot be asked', async () => {
    fixture = await startFixture();
    await fixture.server.close();
    const c = connect(fixture, { requestTimeout: 500 });
    expect(await c.tag(A)).toEqual([]);
    expect(c.clientTelemetry()).toMatchObject({ directQueries: 1, directQueryErrors: 1 });
    await fixture.restart();
  });

  it('lists the server entities with their sources through entities$', async () => {
    fixture = await startFixture();
    put(fixture, A, ['env:prod']);
    const c = connect(fixture);
    expect(await firstValueFrom(c.entities$())).toEqual([{ entity: A, sources: ['static'], tags: { low: ['env:prod'], orchestrator: ['env:prod'], high: ['env:prod'] } }]);
  });
});

describe('createTaggerClient under faults', () => {
  it('converges with nothing stale after the server restarts while entities change', async () => {
    fixture = await startFixture();
    const f = fixture;
    for (let i = 0; i < 50; i++) put(f, containerId(`e${i}`), [`n:${i}`], [`pod:${i}`], [`c:${i}`]);
    const c = connect(f);
    await waitFor(() => c.connection().status === 'connected' && converged(f, c), 5000, 'first convergence');
    const deletedSeen: string[] = [];
    c.events$().subscribe((e) => {
      if (e.type === 'deleted') deletedSeen.push(e.entity);
    });
    for (let round = 0; round < 3; round++) {
      await f.server.close();
      await waitFor(() => c.connection().status === 'disconnected', 5000, 'the client to notice');
      // While the server is away: deletes, changes at each cardinality, new entities.
      for (let i = round * 10; i < round * 10 + 10; i++) f.input.next(deleteEntityInfo(containerId(`e${i}`), 'static'));
      for (let i = 30; i < 40; i++) put(f, containerId(`e${i}`), [`n:${i}:r${round}`], [`pod:${i}`], [`c:${i}`]);
      for (let i = 40; i < 45; i++) put(f, containerId(`e${i}`), [`n:${i}`], [], [`pod:${i}`, `c:${i}`]);
      for (let i = 0; i < 5; i++) put(f, containerId(`new${round}-${i}`), [`fresh:${round}`]);
      await waitFor(() => f.tagger.telemetry().pendingDeletes === 0, 2000, 'the prune');
      await f.restart();
      // Changes right after the restart race the reconnection.
      put(f, containerId('e45'), [`n:45:after${round}`]);
      await waitFor(() => c.connection().status === 'connected' && converged(f, c), 5000, `convergence after restart ${round}`);
    }
    for (let i = 0; i < 30; i++) {
      expect(c.storedTags(containerId(`e${i}`))).toEqual([]);
      expect(deletedSeen).toContain(containerId(`e${i}`));
    }
    expect(c.storedTags(containerId('e31'), 'high')).toEqual(['n:31:r2', 'pod:31', 'c:31']);
    expect(c.storedTags(containerId('e41'), 'orchestrator')).toEqual(['n:41']);
    expect(c.clientTelemetry().connections).toBe(4);
    // Live updates flow again.
    put(f, A, ['env:prod']);
    expect(await firstValueFrom(c.tags$(A).pipe(take(1), toArray()))).toEqual([['env:prod']]);
  });
});

describe('createTaggerClient against a broken server', () => {
  async function fakeServer(write: (res: import('node:http').ServerResponse) => void): Promise<{ path: string; close: () => Promise<void> }> {
    const { createServer } = await import('node:http');
    const { tempDir } = await import('./helpers.js');
    const { dir, remove } = await tempDir();
    const path = `${dir}/fake.sock`;
    const server = createServer((_req, res) => write(res));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return {
      path,
      close: async () => {
        server.closeAllConnections();
        await new Promise((r) => server.close(r));
        await remove();
      },
    };
  }

  it('takes a silent stream for dead after idleTimeout and reconnects', async () => {
    const fake = await fakeServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"type":"synced","entities":0}\n');
    });
    const c = createTaggerClient({ socketPath: fake.path, token: 't'.repeat(32), logger: silentLogger, idleTimeout: 150, initialRetryDelay: 20 });
    client = c;
    c.start();
    await waitFor(() => c.connection().status === 'connected');
    await waitFor(() => c.connection().status === 'disconnected', 5000, 'the silence to be noticed');
    const state = c.connection();
    expect(state.status === 'disconnected' ? state.error.message : '').toMatch(/silent for 150 ms/);
    await waitFor(() => c.clientTelemetry().connections >= 2, 5000, 'a reconnection');
    c.stop();
    await fake.close();
  });

  it('drops a stream carrying a line that is not the protocol', async () => {
    const fake = await fakeServer((res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      res.write('{"type":"added","entity":"container_id://a","tags":["x"],"levels":{"low":1,"orchestrator":1}}\n{"type":"synced","entities":1}\n<html>\n');
    });
    const c = createTaggerClient({ socketPath: fake.path, token: 't'.repeat(32), logger: silentLogger, initialRetryDelay: 1000 });
    client = c;
    c.start();
    await waitFor(() => c.connection().status === 'disconnected', 5000, 'the bad line to be refused');
    const state = c.connection();
    expect(state.status === 'disconnected' ? state.error.message : '').toMatch(/not the protocol/);
    // What was synced before the bad line stays served until the next connection replaces it.
    expect(c.storedTags(A)).toEqual(['x']);
    c.stop();
    await fake.close();
  });
});
