/**
 * The routes `tagstream status` and `list --sources` use: `GET /v1/status` (a status provider given
 * to serveTagger; 404 without one; the token always required) and `GET /v1/entities?sources=1`
 * (each source's tags; the plain answer unchanged), over a real socket, with the client's methods.
 */
import { firstValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { createTaggerClient } from '../../src/ipc/client.js';
import { IpcResponseError } from '../../src/ipc/errors.js';
import { entitiesPath, hasSources, parseRoute, statusPath } from '../../src/ipc/protocol.js';
import { silentLogger } from '../../src/index.js';
import { type Fixture, get, put, startFixture } from './helpers.js';

const A = 'container_id://a';
const limits = { maxUrlLength: 4096, healthCheck: false };

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

describe('the routes', () => {
  it('parses /v1/status and the sources flag of /v1/entities', () => {
    expect(parseRoute('GET', statusPath(), limits)).toEqual({ kind: 'status' });
    expect(parseRoute('GET', entitiesPath(['a'], { sources: true }), limits)).toEqual({ kind: 'entities', prefixes: ['a'], sources: true });
    expect(parseRoute('GET', '/v1/entities?sources=0', limits)).toEqual({ kind: 'entities', prefixes: [], sources: false });
    expect(parseRoute('GET', '/v1/entities?sources=maybe', limits)).toMatchObject({ status: 400, code: 'InvalidParameter' });
    expect(parseRoute('POST', statusPath(), limits)).toMatchObject({ status: 405 });
    expect(entitiesPath([], { sources: true })).toBe('/v1/entities?sources=1');
  });
});

describe('GET /v1/status', () => {
  it('answers what the provider gives, at each request, only with the token', async () => {
    let calls = 0;
    fixture = await startFixture({ status: () => ({ version: '9.9.9', calls: (calls += 1) }) });
    const answer = await get(fixture.socketPath, '/v1/status', fixture.token);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.body)).toEqual({ version: '9.9.9', calls: 1 });
    expect(JSON.parse((await get(fixture.socketPath, '/v1/status', fixture.token)).body)).toEqual({ version: '9.9.9', calls: 2 });
    const refused = await get(fixture.socketPath, '/v1/status', null);
    expect(refused.status).toBe(401);
    expect(calls).toBe(2);
    expect(fixture.server.telemetry().requests.status).toEqual({ '200': 2 });

    const client = createTaggerClient({ socketPath: fixture.socketPath, tokenFile: fixture.tokenFile, logger: silentLogger });
    expect(await firstValueFrom(client.status$())).toEqual({ version: '9.9.9', calls: 3 });
  });

  it('is 404 where serveTagger was given no provider, and 500 when the provider throws', async () => {
    fixture = await startFixture();
    const missing = await get(fixture.socketPath, '/v1/status', fixture.token);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ error: { code: 'NotFound' } });
    const client = createTaggerClient({ socketPath: fixture.socketPath, tokenFile: fixture.tokenFile, logger: silentLogger });
    await expect(firstValueFrom(client.status$())).rejects.toMatchObject({ status: 404 });
    await fixture.close();
    fixture = await startFixture({
      status: () => {
        throw new Error('boom');
      },
    });
    const failed = await get(fixture.socketPath, '/v1/status', fixture.token);
    expect(failed.status).toBe(500);
    expect(failed.body).not.toContain('boom');
  });
});

describe('GET /v1/entities?sources=1', () => {
  it('adds bySource to each entity; without the flag the answer is as before', async () => {
    fixture = await startFixture();
    put(fixture, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const plain = JSON.parse((await get(fixture.socketPath, entitiesPath(), fixture.token)).body) as { entities: Record<string, unknown>[] };
    expect(plain.entities).toEqual([{ entity: A, sources: ['static'], tags: { low: ['env:prod'], orchestrator: ['env:prod', 'pod_name:web-1'], high: ['env:prod', 'pod_name:web-1', 'container_name:web'] } }]);
    expect(hasSources(plain as never)).toBe(false);
    const detailed = JSON.parse((await get(fixture.socketPath, entitiesPath([], { sources: true }), fixture.token)).body) as { entities: Record<string, unknown>[] };
    expect(detailed.entities).toEqual([
      {
        ...plain.entities[0],
        bySource: [{ source: 'static', priority: 0, priorityName: 'NodeRuntime', low: ['env:prod'], orchestrator: ['pod_name:web-1'], high: ['container_name:web'], overridden: [] }],
      },
    ]);
    expect(hasSources(detailed as never)).toBe(true);
    const none = JSON.parse((await get(fixture.socketPath, entitiesPath(['ecs_task://'], { sources: true }), fixture.token)).body) as unknown;
    expect(none).toEqual({ entities: [] });

    const client = createTaggerClient({ socketPath: fixture.socketPath, tokenFile: fixture.tokenFile, logger: silentLogger });
    expect(await firstValueFrom(client.entitySources$())).toEqual(detailed.entities);
  });

  it('the client says so when the server is older than the flag (it answers without bySource)', async () => {
    fixture = await startFixture();
    put(fixture, A, ['env:prod']);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // A server that ignores `sources=1`, as one older than it does.
    const old = fixture.tagger;
    const listSources = old.listSources.bind(old);
    Object.assign(old, { listSources: () => listSources().map(({ bySource: _dropped, ...rest }) => rest) });
    const client = createTaggerClient({ socketPath: fixture.socketPath, tokenFile: fixture.tokenFile, logger: silentLogger });
    const error: unknown = await firstValueFrom(client.entitySources$()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IpcResponseError);
    expect(error).toMatchObject({ code: 'SourcesUnsupported' });
  });
});
