import { describe, expect, it } from 'vitest';
import { dockerShownState, kubernetesShownState, kvstoreShownState } from '../../src/cli/collector-state.js';
import {
  type CollectorStatus,
  type StatusSnapshot,
  NOTHING_DETECTED,
  collectorLine,
  encodeLogLine,
  initialStatus,
  kvstoreSummary,
  logLine,
  renderStatusTable,
  startLine,
  statusLine,
  stopLine,
  updatesPerSecond,
} from '../../src/cli/status.js';
import { DockerCollectorError } from '../../src/collectors/docker/errors.js';
import { KubernetesListError } from '../../src/collectors/kubernetes/errors.js';

const T = Date.UTC(2026, 0, 2, 3, 4, 5);

const RUNNING: CollectorStatus[] = [
  { name: 'docker', state: 'connected', reason: 'socket /var/run/docker.sock, 2 containers at connection', entities: 2 },
  { name: 'kubernetes', state: 'retrying', reason: 'HTTP 503; retry 2 in 2 s', entities: 5 },
  { name: 'ecs', state: 'not found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set', entities: undefined },
];

function snapshot(collectors: CollectorStatus[], extra: Partial<StatusSnapshot> = {}): StatusSnapshot {
  return { time: T, address: 'unix:/run/tagstream.sock', collectors, entities: 6, entitiesBySource: { kubernetes: 5, docker: 2 }, updatesPerSecond: 1.25, warnings: [], ...extra };
}

describe('renderStatusTable', () => {
  it('shows each collector\'s state, reason and entities, the entities by source and the update rate', () => {
    const text = renderStatusTable(snapshot(RUNNING), 200);
    expect(text.split('\n')).toEqual([
      'tagstream agent · serving on unix:/run/tagstream.sock · 03:04:05 UTC',
      '',
      'COLLECTOR   STATE      ENTITIES  DETAIL',
      'docker      connected  2         socket /var/run/docker.sock, 2 containers at connection',
      'kubernetes  retrying   5         HTTP 503; retry 2 in 2 s',
      'ecs         not found  -         ECS_CONTAINER_METADATA_URI_V4 is not set',
      '',
      'entities: 6 (docker 2, kubernetes 5) · updates/s: 1.3',
      '',
      'Ctrl-C to stop.',
      '',
    ]);
  });

  it('says plainly when nothing was detected, and shows recent warnings', () => {
    const none: CollectorStatus[] = RUNNING.map((c) => ({ ...c, state: 'not found', entities: undefined }));
    const text = renderStatusTable(snapshot(none, { entities: 0, entitiesBySource: {}, warnings: ['03:04:00 docker: inspect failed'] }), 400);
    expect(text).toContain(NOTHING_DETECTED);
    expect(text).toContain('entities: 0 · updates/s: 1.3');
    expect(text).toContain('recent warnings:\n  03:04:00 docker: inspect failed');
    expect(renderStatusTable(snapshot(RUNNING), 400)).not.toContain(NOTHING_DETECTED);
  });

  it('cuts rows to the terminal width, and wraps the message', () => {
    for (const line of renderStatusTable(snapshot(RUNNING), 40).split('\n')) expect(line.length).toBeLessThanOrEqual(40);
    expect(renderStatusTable(snapshot(RUNNING), 40)).toContain('…');
    const none: CollectorStatus[] = RUNNING.map((c) => ({ ...c, state: 'disabled', entities: undefined }));
    const narrow = renderStatusTable(snapshot(none), 50);
    for (const line of narrow.split('\n')) expect(line.length).toBeLessThanOrEqual(50);
    expect(narrow.replace(/\s+/g, ' ')).toContain(NOTHING_DETECTED);
    // No width known (0, NaN): 100 columns.
    expect(renderStatusTable(snapshot(none), 0)).toBe(renderStatusTable(snapshot(none), 100));
    expect(renderStatusTable(snapshot(none), Number.NaN)).toBe(renderStatusTable(snapshot(none), 100));
  });
});

describe('the JSON lines', () => {
  it('start: the collectors as detected, and a warning with the plain message when nothing was', () => {
    const start = startLine(T, { version: '1.2.3', address: 'unix:/s', tokenFile: '/t', collectors: RUNNING });
    expect(start).toEqual({
      time: '2026-01-02T03:04:05.000Z',
      level: 'info',
      event: 'start',
      version: '1.2.3',
      address: 'unix:/s',
      tokenFile: '/t',
      collectors: RUNNING.map(({ name, state, reason }) => ({ name, state, reason })),
    });
    const none = startLine(T, { version: '1', address: 'unix:/s', tokenFile: '/t', collectors: [{ name: 'docker', state: 'disabled', reason: 'x', entities: undefined }] });
    expect(none).toMatchObject({ level: 'warn', message: NOTHING_DETECTED });
  });

  it('collector, status, log and stop lines', () => {
    expect(collectorLine(T, RUNNING[1]!)).toEqual({ time: '2026-01-02T03:04:05.000Z', level: 'warn', event: 'collector', collector: 'kubernetes', state: 'retrying', reason: 'HTTP 503; retry 2 in 2 s' });
    expect(collectorLine(T, RUNNING[0]!).level).toBe('info');
    expect(statusLine(snapshot(RUNNING))).toEqual({
      time: '2026-01-02T03:04:05.000Z',
      level: 'info',
      event: 'status',
      entities: 6,
      entitiesBySource: { kubernetes: 5, docker: 2 },
      updatesPerSecond: 1.25,
      collectors: [
        { name: 'docker', state: 'connected', entities: 2 },
        { name: 'kubernetes', state: 'retrying', entities: 5 },
        { name: 'ecs', state: 'not found', entities: null },
      ],
    });
    const log = logLine(T, 'warn', 'docker: inspect failed', { containerId: 'a', error: new TypeError('boom') });
    expect(JSON.parse(encodeLogLine(log))).toEqual({ time: '2026-01-02T03:04:05.000Z', level: 'warn', event: 'log', message: 'docker: inspect failed', fields: { containerId: 'a', error: 'TypeError: boom' } });
    expect(encodeLogLine(stopLine(T, 'SIGINT'))).toBe('{"time":"2026-01-02T03:04:05.000Z","level":"info","event":"stop","signal":"SIGINT"}');
  });
});

describe('updatesPerSecond', () => {
  it('divides the delta by the elapsed seconds, and never goes negative', () => {
    expect(updatesPerSecond({ time: 0, updates: 10 }, { time: 2000, updates: 30 })).toBe(10);
    expect(updatesPerSecond({ time: 0, updates: 0 }, { time: 3000, updates: 1 })).toBe(0.3);
    expect(updatesPerSecond({ time: 5, updates: 0 }, { time: 5, updates: 9 })).toBe(0);
    expect(updatesPerSecond({ time: 0, updates: 9 }, { time: 1000, updates: 1 })).toBe(0);
  });
});

describe('the collectors\' states as shown', () => {
  it('initialStatus: not found, disabled, connecting, or ready for ECS', () => {
    expect(initialStatus({ name: 'ecs', status: 'found', reason: 'r', metadataUri: 'http://e' })).toEqual({ name: 'ecs', state: 'ready', reason: 'fetch on miss from http://e', entities: 0 });
    expect(initialStatus({ name: 'docker', status: 'found', reason: 'socket /d', target: { socketPath: '/d' } })).toEqual({ name: 'docker', state: 'connecting', reason: 'socket /d', entities: 0 });
    expect(initialStatus({ name: 'kubernetes', status: 'disabled', reason: 'off' })).toEqual({ name: 'kubernetes', state: 'disabled', reason: 'off', entities: undefined });
  });

  it('Docker and Kubernetes states, with the reason of a retry', () => {
    expect(dockerShownState({ status: 'connected', containers: 3 }, 'socket /d')).toEqual({ state: 'connected', reason: 'socket /d, 3 containers at connection' });
    expect(dockerShownState({ status: 'connecting', attempt: 2 }, 'socket /d')).toEqual({ state: 'connecting', reason: 'socket /d, attempt 3' });
    const lost = new DockerCollectorError('events-ended', 'the event stream ended', undefined, { cause: new Error('connect ENOENT /d') });
    expect(dockerShownState({ status: 'retrying', attempt: 2, delayMs: 1000, reason: lost }, 'socket /d')).toEqual({
      state: 'retrying',
      reason: `${lost.message} (connect ENOENT /d); retry 2 in 1 s`,
    });
    expect(kubernetesShownState({ status: 'connected', pods: 12 }, 'node n')).toEqual({ state: 'connected', reason: 'node n, 12 pods' });
    const failed = new KubernetesListError('http-status', 'pods', 1, 'HTTP 403', 403);
    expect(kubernetesShownState({ status: 'retrying', attempt: 1, delayMs: 500, reason: failed }, 'node n')).toEqual({ state: 'retrying', reason: `${failed.message}; retry 1 in 500 ms` });
  });
});

describe('the shared kvstore in the status', () => {
  const KV: CollectorStatus = { name: 'kvstore', state: 'connected', reason: 'etcd://e:2379 as n1, prefix tagstream/tags/v1', entities: 4 };
  const counters = { url: 'etcd://e:2379', name: 'n1', sharedKeys: 6, localKeys: 2, writeErrors: 1, watchErrors: 0, decodeErrors: 0, retries: 3, disconnects: 1 };

  it('is one more row, with the counters under the totals, and the JSON status line carries them', () => {
    const text = renderStatusTable(snapshot([...RUNNING, KV], { kvstore: counters }), 200);
    expect(text).toMatch(/kvstore\s+connected\s+4\s+etcd:\/\/e:2379 as n1, prefix tagstream\/tags\/v1/);
    expect(text).toContain('kvstore: 6 keys, 2 published as n1 · errors: 1 write, 0 watch, 0 decode · 3 retries, 1 disconnects');
    expect(statusLine(snapshot([KV], { kvstore: counters }))).toMatchObject({ collectors: [{ name: 'kvstore', state: 'connected', entities: 4 }], kvstore: counters });
    expect(statusLine(snapshot(RUNNING))).not.toHaveProperty('kvstore');
    expect(kvstoreSummary(counters)).toBe('kvstore: 6 keys, 2 published as n1 · errors: 1 write, 0 watch, 0 decode · 3 retries, 1 disconnects');
  });

  it('an agent with only the kvstore is not "nothing detected": it serves the other hosts\' entities', () => {
    const none: CollectorStatus[] = RUNNING.map((c) => ({ ...c, state: 'disabled', entities: undefined }));
    expect(renderStatusTable(snapshot([...none, KV]), 400)).not.toContain(NOTHING_DETECTED);
    expect(startLine(T, { version: '1', address: 'unix:/s', tokenFile: '/t', collectors: [...none, KV] })).not.toHaveProperty('message');
  });

  it('kvstoreShownState: connected while synced, retrying with the last error while listing again', () => {
    expect(kvstoreShownState(true, new Error('old'), 'etcd://e:2379 as n1')).toEqual({ state: 'connected', reason: 'etcd://e:2379 as n1' });
    expect(kvstoreShownState(false, new Error('connect ECONNREFUSED'), 'etcd://e:2379 as n1')).toEqual({ state: 'retrying', reason: 'etcd://e:2379 as n1: listing again after: connect ECONNREFUSED' });
    expect(kvstoreShownState(false, undefined, 'w')).toEqual({ state: 'retrying', reason: 'w: listing again' });
  });
});
