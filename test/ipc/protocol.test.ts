import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  IpcRequestError,
  MAX_WAIT_PARAM,
  bearerMatches,
  encodeLine,
  entitiesPath,
  eventsPath,
  parseRoute,
  parseStreamLine,
  resolveEndpoint,
  tagsPath,
  tokenDigest,
} from '../../src/ipc/index.js';
import type { StreamLine } from '../../src/ipc/index.js';

const limits = { maxUrlLength: 4096, healthCheck: false };
const entityArb = fc
  .tuple(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.includes('://')), fc.string({ minLength: 1, maxLength: 40 }))
  .map(([prefix, id]) => `${prefix}://${id}`);
const cardinalityArb = fc.constantFrom('low' as const, 'orchestrator' as const, 'high' as const);

describe('parseRoute', () => {
  it('understands every route, with defaults', () => {
    expect(parseRoute('GET', '/v1/tags/container_id%3A%2F%2Fabc', limits)).toEqual({ kind: 'tags', entity: 'container_id://abc', cardinality: 'low' });
    expect(parseRoute('GET', '/v1/tags/container_id://abc?cardinality=high', limits)).toEqual({ kind: 'tags', entity: 'container_id://abc', cardinality: 'high' });
    expect(parseRoute('GET', '/v1/entities?prefix=a&prefix=b', limits)).toEqual({ kind: 'entities', prefixes: ['a', 'b'], sources: false });
    expect(parseRoute('GET', '/v1/events', limits)).toEqual({ kind: 'events', cardinality: 'low', prefixes: [], levels: false });
    expect(parseRoute('GET', '/v1/events?levels=1', limits)).toEqual({ kind: 'events', cardinality: 'high', prefixes: [], levels: true });
    expect(parseRoute('GET', '/v1/metrics', limits)).toEqual({ kind: 'metrics' });
    expect(parseRoute('GET', '/v1/health', { ...limits, healthCheck: true })).toEqual({ kind: 'health' });
  });

  it.each([
    ['GET', '/v1/tags/abc', 400, 'InvalidEntityId'],
    ['GET', '/v1/tags/container_id%3A%2F%2Fa%00b', 400, 'InvalidEntityId'],
    ['GET', '/v1/tags/container_id%3A%2F%2Fa%0Ab', 400, 'InvalidEntityId'],
    ['GET', '/v1/tags/container_id%3A%2F%2F%E2%80%8Bx', 400, 'InvalidEntityId'],
    ['GET', '/v1/tags/a%3A%2F%2Fb?cardinality=medium', 400, 'InvalidCardinality'],
    ['GET', '/v1/tags/a%3A%2F%2Fb?cardinality=low&cardinality=high', 400, 'InvalidCardinality'],
    ['GET', '/v1/events?levels=1&cardinality=low', 400, 'InvalidParameter'],
    ['GET', '/v1/entities?prefix=', 400, 'InvalidParameter'],
    ['GET', '/v1/health', 404, 'NotFound'],
    ['GET', '/', 404, 'NotFound'],
    ['GET', 'http://example.com/v1/metrics', 400, 'BadRequest'],
    ['DELETE', '/v1/entities', 405, 'MethodNotAllowed'],
    ['GET', `/v1/tags/${'a'.repeat(5000)}`, 414, 'UriTooLong'],
  ])('%s %s -> %i %s', (method, target, status, code) => {
    const route = parseRoute(method, target, limits);
    expect(route).toBeInstanceOf(IpcRequestError);
    expect(route).toMatchObject({ status, code });
  });

  it('refuses an entity id longer than 4096 characters with 400, however long the server lets URLs be', () => {
    const wide = { ...limits, maxUrlLength: 65_536 };
    const at = (n: number): ReturnType<typeof parseRoute> => parseRoute('GET', `/v1/tags/container_id%3A%2F%2F${'a'.repeat(n)}`, wide);
    expect(at(4096 - 'container_id://'.length)).toMatchObject({ kind: 'tags' });
    expect(at(4097 - 'container_id://'.length)).toMatchObject({ status: 400, code: 'InvalidEntityId' });
    expect((at(20_000) as Error).message.length).toBeLessThan(400);
  });

  it('never throws, and answers a route or a 4xx, whatever the input', () => {
    fc.assert(
      fc.property(fc.option(fc.string()), fc.option(fc.string({ unit: 'binary' })), (method, target) => {
        const route = parseRoute(method ?? undefined, target ?? undefined, limits);
        if (route instanceof IpcRequestError) expect(route.status >= 400 && route.status < 500).toBe(true);
        else expect(['tags', 'entities', 'events', 'metrics']).toContain(route.kind);
      }),
      { numRuns: 1000 },
    );
  });

  it('reads wait, a whole number of ms from 0 to MAX_WAIT_PARAM given once, and refuses anything else with 400 InvalidParameter', () => {
    const at = (query: string): unknown => parseRoute('GET', `/v1/tags/a%3A%2F%2Fb?${query}`, limits);
    expect(at('wait=0')).toEqual({ kind: 'tags', entity: 'a://b', cardinality: 'low', wait: 0 });
    expect(at('cardinality=high&wait=250')).toEqual({ kind: 'tags', entity: 'a://b', cardinality: 'high', wait: 250 });
    expect(at(`wait=${MAX_WAIT_PARAM}`)).toMatchObject({ wait: MAX_WAIT_PARAM });
    expect(at('wait=0000100')).toMatchObject({ wait: 100 });
    for (const bad of ['wait=', 'wait=-1', 'wait=1.5', 'wait=1e3', 'wait=0x10', 'wait=%201', 'wait=1%20', 'wait=abc', 'wait=Infinity', 'wait=NaN',
      `wait=${MAX_WAIT_PARAM + 1}`, 'wait=99999999', `wait=${'9'.repeat(400)}`, 'wait=1&wait=2', 'wait=%00', 'wait=%EF%BC%91']) {
      const route = at(bad);
      expect(route, bad).toBeInstanceOf(IpcRequestError);
      expect(route, bad).toMatchObject({ status: 400, code: 'InvalidParameter' });
      expect((route as IpcRequestError).message.length, bad).toBeLessThan(300);
    }
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (text) => {
        const route = parseRoute('GET', `/v1/tags/a%3A%2F%2Fb?wait=${encodeURIComponent(text)}`, limits);
        if (route instanceof IpcRequestError) expect(route.status).toBe(400);
        else expect(route).toEqual({ kind: 'tags', entity: 'a://b', cardinality: 'low', wait: Number(text) });
      }),
    );
  });

  it('reads back what the client helpers build', () => {
    fc.assert(
      fc.property(entityArb, cardinalityArb, fc.array(fc.string({ minLength: 1 }), { maxLength: 5 }), (entity, cardinality, prefixes) => {
        expect(parseRoute('GET', tagsPath(entity, cardinality), limits)).toEqual({ kind: 'tags', entity, cardinality });
        expect(parseRoute('GET', tagsPath(entity, cardinality, { wait: 12.3 }), limits)).toEqual({ kind: 'tags', entity, cardinality, wait: 13 });
        expect(parseRoute('GET', tagsPath(entity, cardinality, { wait: 1e12 }), limits)).toEqual({ kind: 'tags', entity, cardinality, wait: MAX_WAIT_PARAM });
        expect(parseRoute('GET', tagsPath(entity, cardinality, { wait: Number.POSITIVE_INFINITY }), limits)).toEqual({ kind: 'tags', entity, cardinality, wait: MAX_WAIT_PARAM });
        expect(parseRoute('GET', tagsPath(entity, cardinality, { wait: -5 }), limits)).toEqual({ kind: 'tags', entity, cardinality, wait: 0 });
        expect(() => tagsPath(entity, cardinality, { wait: Number.NaN })).toThrow(RangeError);
        expect(parseRoute('GET', entitiesPath(prefixes), limits)).toEqual({ kind: 'entities', prefixes, sources: false });
        expect(parseRoute('GET', eventsPath({ cardinality, prefixes }), limits)).toEqual({ kind: 'events', cardinality, prefixes, levels: false });
      }),
    );
  });
});

describe('stream lines', () => {
  it('round-trip through encodeLine and parseStreamLine', () => {
    const lineArb: fc.Arbitrary<StreamLine> = fc.oneof(
      fc.constant({ type: 'keepalive' as const }),
      fc.nat().map((entities) => ({ type: 'synced' as const, entities })),
      fc.record({ type: fc.constantFrom('added' as const, 'modified' as const, 'deleted' as const), entity: entityArb, tags: fc.array(fc.string()) }),
      fc.record({ type: fc.constantFrom('added' as const, 'modified' as const, 'deleted' as const), entity: entityArb, tags: fc.array(fc.string()), complete: fc.boolean() }),
    );
    fc.assert(
      fc.property(lineArb, (line) => {
        const text = encodeLine(line);
        expect(text.endsWith('\n')).toBe(true);
        expect(text.slice(0, -1)).not.toContain('\n');
        expect(parseStreamLine(text.slice(0, -1))).toEqual(line);
      }),
    );
  });

  it('refuses what is not the protocol', () => {
    for (const bad of ['', 'null', '[]', '{"type":"nope"}', '{"type":"added","entity":1,"tags":[]}', '{"type":"added","entity":"a://b","tags":[1]}',
      '{"type":"added","entity":"a://b","tags":["x"],"levels":{"low":2,"orchestrator":1}}', '{"type":"synced"}', '{']) {
      expect(parseStreamLine(bad), bad).toBeUndefined();
    }
    expect(parseStreamLine('{"type":"added","entity":"a://b","tags":["x","y"],"levels":{"low":1,"orchestrator":2},"extra":true}')).toEqual({
      type: 'added',
      entity: 'a://b',
      tags: ['x', 'y'],
      levels: { low: 1, orchestrator: 2 },
    });
  });
});

describe('tokens', () => {
  it('accepts exactly "Bearer <token>"', () => {
    const digest = tokenDigest('0123456789abcdef0123');
    expect(bearerMatches(digest, 'Bearer 0123456789abcdef0123')).toBe(true);
    expect(bearerMatches(digest, 'bearer 0123456789abcdef0123')).toBe(true);
    for (const bad of [undefined, '', 'Bearer', 'Bearer ', '0123456789abcdef0123', 'Basic 0123456789abcdef0123', 'Bearer 0123456789abcdef012', 'Bearer 0123456789abcdef01234', 'Bearer 0123456789abcdef0123 x']) {
      expect(bearerMatches(digest, bad), String(bad)).toBe(false);
    }
    expect(bearerMatches(tokenDigest(''), 'Bearer ')).toBe(false);
  });

  it('resolves endpoints from options and the environment, and refuses contradictions', () => {
    expect(resolveEndpoint({ socketPath: '/s', token: 't'.repeat(20) }, {}).address).toBe('unix:/s');
    expect(resolveEndpoint({}, { TAGSTREAM_SOCKET: '/env.sock', TAGSTREAM_TOKEN: 'e'.repeat(20) }).address).toBe('unix:/env.sock');
    expect(resolveEndpoint({ url: 'http://127.0.0.1:5001', tokenFile: '/t' }, {}).target).toEqual({ host: '127.0.0.1', port: 5001 });
    expect(() => resolveEndpoint({ socketPath: '/s', url: 'http://127.0.0.1:1' }, {})).toThrow(/not both/);
    expect(() => resolveEndpoint({ socketPath: '/s', token: 'short' }, {})).toThrow(/at least 16/);
    expect(() => resolveEndpoint({ url: 'http://127.0.0.1:1' }, {})).toThrow(/tokenFile/);
  });
});
