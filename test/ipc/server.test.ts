import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { containerId, deleteEntityInfo, silentLogger } from '../../src/index.js';
import { IpcOptionError, serveTagger, tagsPath } from '../../src/ipc/index.js';
import { type Fixture, StreamReader, events, get, put, raw, send, startFixture, tempDir, waitFor } from './helpers.js';

const A = containerId('a');
const B = containerId('b');
const POD = 'kubernetes_pod_uid://p1';

let fixture: Fixture | undefined;

const tagsOf = (answer: { body: string }): string[] => (JSON.parse(answer.body) as { tags: string[] }).tags;
const readers: StreamReader[] = [];

afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  await fixture?.close();
  fixture = undefined;
});

async function started(options: Parameters<typeof startFixture>[0] = {}): Promise<Fixture> {
  fixture = await startFixture(options);
  return fixture;
}

function open(f: Fixture, path: string): StreamReader {
  const reader = new StreamReader(f.socketPath, path, f.token);
  readers.push(reader);
  return reader;
}

describe('serveTagger: security', () => {
  it('listens on a socket of mode 0600 and writes a generated token of mode 0600', async () => {
    const f = await started();
    expect((await stat(f.socketPath)).mode & 0o777).toBe(0o600);
    expect((await stat(f.tokenFile)).mode & 0o777).toBe(0o600);
    expect(f.token).toMatch(/^[0-9a-f]{64}$/);
  });

  it('answers 401 without a token, with a wrong one, or a malformed header, and serves nothing', async () => {
    const f = await started();
    put(f, A, ['env:prod']);
    const wrong = f.token.slice(0, -1) + (f.token.endsWith('0') ? '1' : '0');
    for (const answer of [
      await get(f.socketPath, tagsPath(A, 'low'), null),
      await get(f.socketPath, tagsPath(A, 'low'), wrong),
      await get(f.socketPath, tagsPath(A, 'low'), ''),
      await get(f.socketPath, '/v1/entities', null, { authorization: `Basic ${f.token}` }),
      await get(f.socketPath, '/v1/metrics', f.token.slice(0, 10)),
      await get(f.socketPath, '/v1/events', null),
      await get(f.socketPath, '/v1/no-such-path', null),
      await get(f.socketPath, '/v1/health', null),
    ]) {
      expect(answer.status).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer');
      expect(JSON.parse(answer.body)).toEqual({ error: { code: 'Unauthorized', message: expect.stringContaining('Bearer') } });
      expect(answer.body).not.toContain('env:prod');
      expect(answer.body).not.toContain(f.token);
    }
    expect(f.server.telemetry().unauthorized).toBe(8);
  });

  it('serves an unauthenticated health check only when it is turned on', async () => {
    const f = await started({ healthCheck: true });
    const health = await get(f.socketPath, '/v1/health', null);
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual({ status: 'ok' });
    expect((await get(f.socketPath, '/v1/entities', null)).status).toBe(401);
  });

  it('reads an existing token file and keeps it on close', async () => {
    const { dir, remove } = await tempDir();
    const tokenFile = join(dir, 'token');
    const { writeFile, readFile } = await import('node:fs/promises');
    await writeFile(tokenFile, 'a-token-the-user-chose-0123\n', { mode: 0o600 });
    const { createTagger } = await import('../../src/index.js');
    const tagger = createTagger({ logger: silentLogger });
    tagger.start();
    const server = await serveTagger(tagger, { socketPath: join(dir, 's.sock'), tokenFile, logger: silentLogger });
    expect((await get(join(dir, 's.sock'), '/v1/entities', 'a-token-the-user-chose-0123')).status).toBe(200);
    await server.close();
    expect(await readFile(tokenFile, 'utf8')).toBe('a-token-the-user-chose-0123\n');
    tagger.stop();
    await remove();
  });

  it('removes a token file it generated, and the socket, on close', async () => {
    const f = await started();
    await f.server.close();
    await expect(stat(f.tokenFile)).rejects.toThrow(/ENOENT/);
    await expect(stat(f.socketPath)).rejects.toThrow(/ENOENT/);
    await f.restart();
  });

  it('refuses a host that is not loopback, and TCP without a token file', async () => {
    const { createTagger } = await import('../../src/index.js');
    const tagger = createTagger({ logger: silentLogger });
    await expect(serveTagger(tagger, { host: '0.0.0.0', port: 0, tokenFile: '/tmp/x' })).rejects.toBeInstanceOf(IpcOptionError);
    await expect(serveTagger(tagger, { port: 0 })).rejects.toThrow(/token file is required/);
  });

  it('serves over loopback TCP with the same rules', async () => {
    const { dir, remove } = await tempDir();
    const { createTagger } = await import('../../src/index.js');
    const tagger = createTagger({ logger: silentLogger });
    tagger.start();
    const tokenFile = join(dir, 'token');
    const server = await serveTagger(tagger, { port: 0, tokenFile, logger: silentLogger });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const token = (await (await import('node:fs/promises')).readFile(tokenFile, 'utf8')).trim();
    const noToken = await fetch(`${server.url ?? ''}/v1/entities`);
    expect(noToken.status).toBe(401);
    const ok = await fetch(`${server.url ?? ''}/v1/entities`, { headers: { authorization: `Bearer ${token}` } });
    expect(await ok.json()).toEqual({ entities: [] });
    await server.close();
    tagger.stop();
    await remove();
  });

  it('takes over a socket file left by a dead server, but not one a live server holds', async () => {
    const f = await started();
    const { createTagger } = await import('../../src/index.js');
    const other = createTagger({ logger: silentLogger });
    await expect(serveTagger(other, { socketPath: f.socketPath, tokenFile: f.tokenFile, logger: silentLogger })).rejects.toThrow(/in use/);
    expect((await get(f.socketPath, '/v1/entities', f.token)).status).toBe(200);
  });
});

describe('serveTagger: endpoints', () => {
  it('answers one entity at each cardinality (cumulative), and an unknown one with []', async () => {
    const f = await started();
    put(f, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
    const low = await get(f.socketPath, tagsPath(A, 'low'), f.token);
    expect(low.status).toBe(200);
    expect(low.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(low.body)).toEqual({ entity: A, cardinality: 'low', tags: ['env:prod'] });
    expect(tagsOf(await get(f.socketPath, tagsPath(A, 'orchestrator'), f.token))).toEqual(['env:prod', 'pod_name:web-1']);
    expect(tagsOf(await get(f.socketPath, tagsPath(A, 'high'), f.token))).toEqual(['env:prod', 'pod_name:web-1', 'container_name:web']);
    expect(tagsOf(await get(f.socketPath, '/v1/tags/container_id://a', f.token))).toEqual(['env:prod']);
    expect(JSON.parse((await get(f.socketPath, tagsPath(B, 'low'), f.token)).body)).toEqual({ entity: B, cardinality: 'low', tags: [] });
  });

  it('fetches on miss through the tagger', async () => {
    const { of } = await import('rxjs');
    const { tagInfo } = await import('../../src/index.js');
    fixture = await startFixture({}, { fetch: (entity) => of(tagInfo({ entity, source: 'static', low: ['fetched:yes'] })) });
    const answer = await get(fixture.socketPath, tagsPath(B, 'low'), fixture.token);
    expect(tagsOf(answer)).toEqual(['fetched:yes']);
  });

  it('lists entities with sources and tags by cardinality, optionally by prefix', async () => {
    const f = await started();
    put(f, A, ['env:prod'], [], ['container_name:web']);
    put(f, POD, ['team:core']);
    const all = JSON.parse((await get(f.socketPath, '/v1/entities', f.token)).body) as { entities: { entity: string }[] };
    expect(all.entities.map((e) => e.entity).sort()).toEqual([A, POD]);
    const pods = JSON.parse((await get(f.socketPath, `/v1/entities?prefix=${encodeURIComponent('kubernetes_pod_uid://')}`, f.token)).body);
    expect(pods).toEqual({ entities: [{ entity: POD, sources: ['static'], tags: { low: ['team:core'], orchestrator: ['team:core'], high: ['team:core'] } }] });
    const two = JSON.parse((await get(f.socketPath, '/v1/entities?prefix=kubernetes_pod_uid%3A%2F%2F&prefix=container_id%3A%2F%2Fa', f.token)).body) as { entities: unknown[] };
    expect(two.entities).toHaveLength(2);
  });

  it('streams an added burst, a synced line, then added / modified / deleted at the cardinality, by prefix, each with complete', async () => {
    const f = await started();
    put(f, A, ['env:prod'], ['pod_name:web-1']);
    put(f, POD, ['team:core']);
    const reader = open(f, '/v1/events?cardinality=orchestrator&prefix=container_id%3A%2F%2F');
    await reader.until((l) => l.length >= 2);
    expect(reader.status).toBe(200);
    expect(reader.lines.slice(0, 2)).toEqual([
      { type: 'added', entity: A, tags: ['env:prod', 'pod_name:web-1'], complete: true },
      { type: 'synced', entities: 1 },
    ]);
    put(f, B, ['env:dev']);
    put(f, POD, ['team:other']);
    put(f, A, ['env:prod'], ['pod_name:web-2']);
    put(f, A, ['env:prod'], ['pod_name:web-2'], ['container_name:x']); // not a change at orchestrator
    f.input.next(deleteEntityInfo(B, 'static'));
    await reader.until((l) => events(l).length >= 5);
    expect(events(reader.lines).slice(2)).toEqual([
      { type: 'added', entity: B, tags: ['env:dev'], complete: true },
      { type: 'modified', entity: A, tags: ['env:prod', 'pod_name:web-2'], complete: true },
      { type: 'deleted', entity: B, tags: [], complete: false },
    ]);
  });

  it('streams levels for mirrors: high tags with the low and orchestrator counts, even when only the split moves', async () => {
    const f = await started();
    put(f, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
    const reader = open(f, '/v1/events?levels=1');
    await reader.until((l) => l.length >= 2);
    expect(reader.lines[0]).toEqual({ type: 'added', entity: A, tags: ['env:prod', 'pod_name:web-1', 'container_name:web'], levels: { low: 1, orchestrator: 2 }, complete: true });
    // The same high answer, with pod_name moved from orchestrator to high cardinality.
    put(f, A, ['env:prod'], [], ['pod_name:web-1', 'container_name:web']);
    await reader.until((l) => events(l).length >= 3);
    expect(events(reader.lines)[2]).toEqual({ type: 'modified', entity: A, tags: ['env:prod', 'pod_name:web-1', 'container_name:web'], levels: { low: 1, orchestrator: 1 }, complete: true });
    put(f, A, ['env:qa'], [], ['pod_name:web-1', 'container_name:web']);
    await reader.until((l) => events(l).length >= 4);
    // One line per change, not one per cardinality that saw it.
    await new Promise((r) => setTimeout(r, 50));
    expect(events(reader.lines)).toHaveLength(4);
  });

  it('writes a keep-alive line when the stream is idle', async () => {
    const f = await started({ keepAliveInterval: 50 });
    const reader = open(f, '/v1/events');
    await reader.until((l) => l.filter((x) => (x as { type: string }).type === 'keepalive').length >= 2);
    expect(reader.lines[0]).toEqual({ type: 'synced', entities: 0 });
  });

  it('serves Prometheus metrics of the tagger and of the server', async () => {
    const f = await started();
    put(f, A, ['env:prod']);
    await get(f.socketPath, tagsPath(A, 'low'), f.token);
    await get(f.socketPath, tagsPath(A, 'low'), null);
    const answer = await get(f.socketPath, '/v1/metrics', f.token);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^text\/plain/);
    expect(answer.body).toMatch(/^tagstream_tagger_entities 1$/m);
    expect(answer.body).toMatch(/^tagstream_tagger_entities_by_source\{source="static"\} 1$/m);
    expect(answer.body).toMatch(/^tagstream_tagger_queries_total\{cardinality="low",outcome="found"\} 1$/m);
    expect(answer.body).toMatch(/^tagstream_ipc_unauthorized_total 1$/m);
    expect(answer.body).toMatch(/^tagstream_ipc_requests_total\{route="tags",status="200"\} 1$/m);
    expect(answer.body).toMatch(/^tagstream_ipc_open_streams 0$/m);
  });
});

describe('serveTagger: bad input', () => {
  const error = (body: string): { code: string; message: string } => (JSON.parse(body) as { error: { code: string; message: string } }).error;

  it('answers 400 with a clear message for an unknown cardinality or a malformed entity id', async () => {
    const f = await started();
    const card = await get(f.socketPath, '/v1/tags/container_id%3A%2F%2Fa?cardinality=HIGH', f.token);
    expect(card.status).toBe(400);
    expect(error(card.body)).toEqual({ code: 'InvalidCardinality', message: expect.stringContaining(`"HIGH"`) });
    const events400 = await get(f.socketPath, '/v1/events?cardinality=all', f.token);
    expect(events400.status).toBe(400);
    for (const bad of ['/v1/tags/abc', '/v1/tags/container_id%3A%2F%2F', '/v1/tags/%3A%2F%2Fabc', '/v1/tags/%E0%A4%A']) {
      const answer = await get(f.socketPath, bad, f.token);
      expect(answer.status, bad).toBe(400);
      expect(error(answer.body).code).toBe('InvalidEntityId');
    }
    expect((await get(f.socketPath, '/v1/events?levels=maybe', f.token)).status).toBe(400);
  });

  it('answers 404 for an unknown path and 405 for another method', async () => {
    const f = await started();
    const missing = await get(f.socketPath, '/v2/tags', f.token);
    expect(missing.status).toBe(404);
    expect(error(missing.body)).toEqual({ code: 'NotFound', message: expect.stringContaining('/v1/tags/{entity}') });
    expect((await get(f.socketPath, '/v1/health', f.token)).status).toBe(404);
    const post = await send(f.socketPath, 'POST', '/v1/entities', f.token, '{"x":1}');
    expect(post.status).toBe(405);
    expect(error(post.body).code).toBe('MethodNotAllowed');
  });

  it('answers 414 for an over-long URL and 431 for over-large headers', async () => {
    const f = await started({ maxUrlLength: 1000, maxHeaderSize: 8192 });
    const long = await get(f.socketPath, `/v1/tags/container_id%3A%2F%2F${'a'.repeat(2000)}`, f.token);
    expect(long.status).toBe(414);
    expect(error(long.body).code).toBe('UriTooLong');
    const big = await raw(f.socketPath, `GET /v1/entities HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${f.token}\r\nx-big: ${'b'.repeat(20_000)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    expect(big).toContain('HeadersTooLarge');
    const huge = await raw(f.socketPath, `GET /v1/tags/${'a'.repeat(20_000)} HTTP/1.1\r\nhost: x\r\n\r\n`);
    expect(huge).toMatch(/^HTTP\/1\.1 431 /);
  });

  it('answers 408 to a client that does not finish its headers in time', async () => {
    const f = await started({ headersTimeout: 300 });
    const answer = await raw(f.socketPath, 'GET /v1/entities HTTP/1.1\r\nhost: x\r\n', 5000, { keepOpen: true });
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers 400 to what is not HTTP', async () => {
    const f = await started();
    const answer = await raw(f.socketPath, Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]));
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(f.server.telemetry().malformed).toBe(1);
  });

  it('answers 429 when too many streams are open, and accepts one again when one closes', async () => {
    const f = await started({ maxStreams: 2 });
    const first = open(f, '/v1/events');
    const second = open(f, '/v1/events');
    await first.until((l) => l.length >= 1);
    await second.until((l) => l.length >= 1);
    const third = await get(f.socketPath, '/v1/events', f.token);
    expect(third.status).toBe(429);
    expect(error(third.body).code).toBe('TooManyStreams');
    expect(third.headers['retry-after']).toBe('1');
    first.close();
    await waitFor(() => f.server.telemetry().openStreams === 1, 5000, 'the stream to close');
    const again = open(f, '/v1/events');
    await again.until((l) => l.length >= 1);
    expect(f.server.telemetry()).toMatchObject({ streams: 3, streamsRefused: 1, openStreams: 2 });
  });
});

describe('serveTagger: streams under pressure and shutdown', () => {
  it('cuts off a reader that stops reading once its backlog passes the bound, and counts it', async () => {
    const f = await started({ maxStreamBacklog: 64 * 1024 });
    // A reader that reads the first bytes and then never again.
    const { connect } = await import('node:net');
    const socket = connect({ path: f.socketPath });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /v1/events?cardinality=high HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${f.token}\r\n\r\n`);
    await new Promise<void>((resolve) => socket.once('data', () => resolve()));
    socket.pause();
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('error', () => (closed = true));
    const big = Array.from({ length: 20 }, (_, i) => `tag_${i}:${'v'.repeat(180)}`);
    for (let round = 0; round < 2000 && f.server.telemetry().streamsCut === 0; round++) {
      put(f, containerId(`c${round % 50}`), [...big, `round:${round}`]);
      if (round % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => f.server.telemetry().streamsCut === 1, 5000, 'the slow stream to be cut');
    await waitFor(() => f.server.telemetry().openStreams === 0, 5000, 'the cut stream to be closed');
    socket.resume();
    await waitFor(() => closed, 5000, 'the client socket to close');
    // A healthy reader is still served.
    const ok = await get(f.socketPath, '/v1/entities', f.token);
    expect(ok.status).toBe(200);
  });

  it('does not cut a reader for a large initial burst', async () => {
    const f = await started({ maxStreamBacklog: 16 * 1024 });
    const big = Array.from({ length: 10 }, (_, i) => `tag_${i}:${'v'.repeat(100)}`);
    for (let i = 0; i < 2000; i++) put(f, containerId(`e${i}`), big);
    const reader = open(f, '/v1/events');
    await reader.until((l) => l.some((x) => (x as { type: string }).type === 'synced'), 10_000);
    expect(events(reader.lines).filter((l) => l.type === 'added')).toHaveLength(2000);
    put(f, A, ['env:prod']);
    await reader.until((l) => events(l).some((x) => x.entity === A));
    expect(f.server.telemetry().streamsCut).toBe(0);
  });

  it('ends every stream cleanly on close', async () => {
    const f = await started();
    const readersOpen = [open(f, '/v1/events'), open(f, '/v1/events?levels=1')];
    for (const r of readersOpen) await r.until((l) => l.length >= 1);
    await f.server.close();
    for (const r of readersOpen) {
      await r.untilEnded();
      expect(r.lines.at(-1)).toEqual({ type: 'synced', entities: 0 });
    }
    expect(f.server.telemetry().openStreams).toBe(0);
    await f.restart();
  });

  it('ends streams when the tagger stops', async () => {
    const f = await started();
    const reader = open(f, '/v1/events');
    await reader.until((l) => l.length >= 1);
    f.tagger.stop();
    await reader.untilEnded();
    const answer = await get(f.socketPath, tagsPath(A, 'low'), f.token);
    expect(answer.status).toBe(503);
  });
});
