/**
 * The IPC server's state machine (src/ipc/server-state.ts), its request triage
 * (src/ipc/server-requests.ts) and its options (src/ipc/server-options.ts): no socket, no tagger.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpcOptionError, IpcRequestError, parseRoute } from '../../src/ipc/index.js';
import { resolveServerSettings } from '../../src/ipc/server-options.js';
import { connectionRefusal, decideRequest, taggerFailure } from '../../src/ipc/server-requests.js';
import { type ServerEvent, type ServerState, admitsStream, admitsWait, initialServerState, reduceServerState, serverTelemetry } from '../../src/ipc/server-state.js';
import { InvalidEntityIdError, TaggerNotRunningError } from '../../src/index.js';

const eventArb: fc.Arbitrary<ServerEvent> = fc.oneof(
  fc.constant<ServerEvent>({ type: 'listening' }),
  fc.constant<ServerEvent>({ type: 'closing' }),
  fc.record({ type: fc.constant('answered' as const), route: fc.constantFrom('tags', 'entities', 'events', 'none'), status: fc.constantFrom(200, 401, 429, 503) }),
  fc.constant<ServerEvent>({ type: 'unauthorized' }),
  fc.constant<ServerEvent>({ type: 'malformed' }),
  fc.constant<ServerEvent>({ type: 'stream-opened' }),
  fc.constant<ServerEvent>({ type: 'stream-refused' }),
  fc.record({ type: fc.constant('lines' as const), count: fc.nat(1000) }),
  fc.record({ type: fc.constant('stream-cut' as const), why: fc.constantFrom('cut' as const, 'stalled' as const) }),
  fc.constant<ServerEvent>({ type: 'stream-ended' }),
  fc.constant<ServerEvent>({ type: 'wait-started' }),
  fc.constant<ServerEvent>({ type: 'wait-refused' }),
  fc.constant<ServerEvent>({ type: 'wait-ended' }),
);

const run = (events: readonly ServerEvent[]): ServerState => events.reduce(reduceServerState, initialServerState());
const count = (events: readonly ServerEvent[], type: ServerEvent['type']): number => events.filter((e) => e.type === type).length;

describe('reduceServerState', () => {
  it('counts what a simple model counts, and never leaves the state it was given changed', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 200 }), (events) => {
        let state = initialServerState();
        let open = 0;
        let waiting = 0;
        for (const event of events) {
          const before = JSON.stringify(state);
          const next = reduceServerState(state, event);
          expect(JSON.stringify(state)).toBe(before);
          if (event.type === 'stream-opened') open += 1;
          if (event.type === 'stream-ended') open = Math.max(0, open - 1);
          if (event.type === 'wait-started') waiting += 1;
          if (event.type === 'wait-ended') waiting = Math.max(0, waiting - 1);
          state = next;
          expect(state.openStreams).toBe(open);
          expect(state.waitingQueries).toBe(waiting);
        }
        const answered = events.filter((e) => e.type === 'answered');
        const requests = Object.values(state.requests).flatMap((byStatus) => Object.values(byStatus));
        expect(requests.reduce((a, b) => a + b, 0)).toBe(answered.length + count(events, 'stream-opened'));
        expect(state.requests.events?.['200'] ?? 0).toBe(answered.filter((e) => e.route === 'events' && e.status === 200).length + count(events, 'stream-opened'));
        expect(state).toMatchObject({
          streams: count(events, 'stream-opened'),
          streamsRefused: count(events, 'stream-refused'),
          unauthorized: count(events, 'unauthorized'),
          malformed: count(events, 'malformed'),
          streamsCut: events.filter((e) => e.type === 'stream-cut' && e.why === 'cut').length,
          streamsStalled: events.filter((e) => e.type === 'stream-cut' && e.why === 'stalled').length,
          streamLines: events.reduce((sum, e) => sum + (e.type === 'lines' ? e.count : 0), 0),
          queryWaits: count(events, 'wait-started'),
          queryWaitsRefused: count(events, 'wait-refused'),
        });
      }),
    );
  });

  it('moves starting -> listening -> closing, and closing is for good', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 100 }), (events) => {
        const phase = run(events).phase;
        const firstClose = events.findIndex((e) => e.type === 'closing');
        if (firstClose >= 0) expect(phase).toBe('closing');
        else expect(phase).toBe(events.some((e) => e.type === 'listening') ? 'listening' : 'starting');
      }),
    );
  });

  it('admits a stream while fewer than maxStreams are open and the server is not closing', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 100 }), fc.integer({ min: 1, max: 5 }), (events, max) => {
        const state = run(events);
        expect(admitsStream(state, max)).toBe(state.phase !== 'closing' && state.openStreams < max);
      }),
    );
  });

  it('admits a waiting query while fewer than maxWaitingQueries wait and the server is not closing', () => {
    const waiting = (n: number): ServerState => run([{ type: 'listening' }, ...Array.from({ length: n }, (): ServerEvent => ({ type: 'wait-started' }))]);
    expect(admitsWait(waiting(0), 2)).toBe(true);
    expect(admitsWait(waiting(1), 2)).toBe(true);
    expect(admitsWait(waiting(2), 2)).toBe(false);
    expect(admitsWait(reduceServerState(waiting(2), { type: 'wait-ended' }), 2)).toBe(true);
    expect(admitsWait(reduceServerState(waiting(0), { type: 'closing' }), 2)).toBe(false);
  });

  it('hands out telemetry without the phase, and a later event does not change a copy handed out', () => {
    const state = run([{ type: 'listening' }, { type: 'answered', route: 'tags', status: 200 }]);
    const snapshot = serverTelemetry(state);
    expect(snapshot).not.toHaveProperty('phase');
    reduceServerState(state, { type: 'answered', route: 'tags', status: 200 });
    expect(snapshot.requests).toEqual({ tags: { '200': 1 } });
  });
});

describe('decideRequest', () => {
  const limits = { maxUrlLength: 100, healthCheck: true };
  const route = (target: string, method = 'GET') => parseRoute(method, target, limits);

  it('answers 503 while closing, before anything else, and closes the connection', () => {
    const decision = decideRequest('closing', route('/v1/health'), () => true);
    expect(decision).toMatchObject({ kind: 'refuse', error: { status: 503, code: 'ShuttingDown' }, headers: { connection: 'close' }, unauthorized: false });
  });

  it('answers 414 and the health check without asking for the token', () => {
    const asked: string[] = [];
    const authorized = (): boolean => {
      asked.push('token');
      return false;
    };
    expect(decideRequest('listening', route(`/v1/tags/${'a'.repeat(200)}`), authorized)).toMatchObject({ kind: 'refuse', error: { status: 414 } });
    expect(decideRequest('listening', route('/v1/health'), authorized)).toEqual({ kind: 'health' });
    expect(asked).toEqual([]);
  });

  it('answers 401 without a valid token, whatever the route (even one that does not exist)', () => {
    for (const target of ['/v1/tags/container_id%3A%2F%2Fa', '/v1/no-such-path', '/v1/events']) {
      expect(decideRequest('listening', route(target), () => false)).toMatchObject({
        kind: 'refuse',
        error: { status: 401, code: 'Unauthorized' },
        headers: { 'www-authenticate': 'Bearer' },
        unauthorized: true,
      });
    }
    expect(decideRequest('listening', route('/v1/entities', 'POST'), () => false)).toMatchObject({ error: { status: 401 } });
  });

  it('answers the route refusal with a token, and serves the route otherwise', () => {
    expect(decideRequest('listening', route('/v1/no-such-path'), () => true)).toMatchObject({ kind: 'refuse', error: { status: 404 }, unauthorized: false });
    expect(decideRequest('listening', route('/v1/entities', 'POST'), () => true)).toMatchObject({ kind: 'refuse', error: { status: 405 } });
    expect(decideRequest('starting', route('/v1/entities'), () => true)).toEqual({ kind: 'serve', route: { kind: 'entities', prefixes: [], sources: false } });
  });
});

describe('what failures become', () => {
  it('maps tagger failures to 400, 503 and 500', () => {
    expect(taggerFailure(new InvalidEntityIdError('nope', 'no scheme')).status).toBe(400);
    expect(taggerFailure(new TaggerNotRunningError('stopped')).status).toBe(503);
    expect(taggerFailure(new Error('boom'))).toMatchObject({ status: 500, code: 'Internal' });
  });

  it('maps refused connections to 431, 408, 400, or to nobody', () => {
    expect(connectionRefusal('HPE_HEADER_OVERFLOW', true, 8192)).toMatchObject({ status: 431, message: expect.stringContaining('8192') });
    expect(connectionRefusal('ERR_HTTP_REQUEST_TIMEOUT', true, 8192)?.status).toBe(408);
    expect(connectionRefusal('HPE_INVALID_METHOD', true, 8192)).toBeInstanceOf(IpcRequestError);
    expect(connectionRefusal('HPE_INVALID_METHOD', true, 8192)?.status).toBe(400);
    expect(connectionRefusal('ECONNRESET', true, 8192)).toBeUndefined();
    expect(connectionRefusal('HPE_INVALID_METHOD', false, 8192)).toBeUndefined();
  });
});

describe('resolveServerSettings', () => {
  it('fills in the defaults', () => {
    expect(resolveServerSettings({ socketPath: '/run/t/s.sock' })).toMatchObject({
      socketPath: '/run/t/s.sock',
      tokenFile: '/run/t/s.sock.token',
      host: '127.0.0.1',
      maxStreams: 64,
      maxQueryWait: 5000,
      maxWaitingQueries: 256,
      maxStreamBacklog: 1024 * 1024,
      readerStallTimeout: 30_000,
      keepAliveInterval: 15_000,
      maxUrlLength: 4096,
      maxHeaderSize: 16_384,
      headersTimeout: 10_000,
      healthCheck: false,
      rotateToken: false,
    });
  });

  it('refuses a numeric option that is not a positive number with IpcOptionError, naming it and the value', () => {
    for (const option of ['maxStreams', 'maxQueryWait', 'maxWaitingQueries', 'maxStreamBacklog', 'readerStallTimeout', 'keepAliveInterval', 'maxUrlLength', 'maxHeaderSize', 'headersTimeout'] as const) {
      for (const value of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
        const attempt = (): unknown => resolveServerSettings({ socketPath: '/s', [option]: value });
        expect(attempt).toThrow(IpcOptionError);
        expect(attempt).toThrow(`invalid option ${option}: must be a positive number, got ${String(value)}`);
      }
    }
  });

  it('refuses socketPath with port, a host that is not loopback, a bad port, TCP without a token file', () => {
    expect(() => resolveServerSettings({ socketPath: '/s', port: 1 })).toThrow(/not both/);
    expect(() => resolveServerSettings({ host: '0.0.0.0', port: 0, tokenFile: '/t' })).toThrow(/not a loopback address/);
    expect(() => resolveServerSettings({ port: 70_000, tokenFile: '/t' })).toThrow(/from 0 to 65535/);
    expect(() => resolveServerSettings({ port: 0 })).toThrow(/token file is required/);
  });
});
