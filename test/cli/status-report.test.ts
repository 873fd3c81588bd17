/**
 * What `tagstream status` and `tagstream list --sources` print: the status document (built, read
 * back, as text) and the per-source listing. Pure.
 */
import { describe, expect, it } from 'vitest';
import { formatEntitySources } from '../../src/cli/query-format.js';
import {
  type AgentStatus,
  completenessStatus,
  entitiesByPrefix,
  formatAgentStatus,
  parseAgentStatus,
  serverStatus,
  statusDocument,
  taggerCounters,
} from '../../src/cli/status-report.js';
import type { StatusSnapshot } from '../../src/cli/status.js';
import type { EntitySourcesResponse } from '../../src/ipc/protocol.js';
import { createTagger } from '../../src/index.js';

const T = Date.UTC(2026, 0, 2, 3, 4, 5);

const SNAPSHOT: StatusSnapshot = {
  time: T,
  address: 'unix:/run/tagstream.sock',
  collectors: [
    { name: 'docker', state: 'connected', reason: 'socket /var/run/docker.sock, 2 containers at connection', entities: 2 },
    { name: 'ecs', state: 'not found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set', entities: undefined },
  ],
  entities: 3,
  entitiesBySource: { docker: 2, kubernetes: 1 },
  updatesPerSecond: 1.5,
  warnings: ['03:04:00 docker: lost the daemon\u001b[2J'],
};

function doc(extra: Partial<StatusSnapshot> = {}): AgentStatus {
  const tagger = createTagger();
  return statusDocument(
    { ...SNAPSHOT, ...extra },
    {
      version: '0.1.0',
      startedAt: T - 3_725_000,
      entitiesByPrefix: entitiesByPrefix(['container_id://a', 'container_id://b', 'kubernetes_pod_uid://p']),
      counters: taggerCounters(tagger.telemetry()),
      server: serverStatus('unix:/run/tagstream.sock', '/run/tagstream.sock.token', {
        requests: { tags: { '200': 3, '400': 1 }, status: { '200': 1 } },
        unauthorized: 2,
        malformed: 0,
        openStreams: 1,
        streams: 4,
        streamsRefused: 0,
        streamsCut: 0,
        streamsStalled: 0,
        streamLines: 10,
        waitingQueries: 0,
        queryWaits: 0,
        queryWaitsRefused: 0,
      }),
    },
  );
}

describe('the status document', () => {
  it('holds the screen, the entities by prefix, the counters, the server and the kvstore', () => {
    const d = doc();
    expect(d).toMatchObject({
      version: '0.1.0',
      time: '2026-01-02T03:04:05.000Z',
      startedAt: '2026-01-02T02:02:00.000Z',
      collectors: [
        { name: 'docker', state: 'connected', entities: 2 },
        { name: 'ecs', state: 'not found', entities: null },
      ],
      entities: 3,
      entitiesBySource: { docker: 2, kubernetes: 1 },
      entitiesByPrefix: { container_id: 2, kubernetes_pod_uid: 1 },
      updatesPerSecond: 1.5,
      server: { address: 'unix:/run/tagstream.sock', tokenFile: '/run/tagstream.sock.token', requests: 5, unauthorized: 2, openStreams: 1, streams: 4 },
      kvstore: null,
    });
    // It survives the wire, and is read back as it was.
    expect(parseAgentStatus(JSON.parse(JSON.stringify(d)))).toEqual(d);
  });

  it('refuses what is not an agent status', () => {
    expect(parseAgentStatus({ version: '1' })).toBeUndefined();
    expect(parseAgentStatus([])).toBeUndefined();
    expect(parseAgentStatus({ ...doc(), collectors: [{ name: 'docker', state: 'asleep', reason: '', entities: null }] })).toBeUndefined();
    expect(parseAgentStatus({ ...doc(), counters: { updates: '1' } })).toBeUndefined();
  });

  it('prints the screen without its Ctrl-C line, then the prefixes, the counters and the server; or the JSON', () => {
    const text = formatAgentStatus(doc(), false, 200);
    const lines = text.split('\n');
    expect(lines[0]).toBe('tagstream agent 0.1.0 · serving on unix:/run/tagstream.sock · up 1h02m · 03:04:05 UTC');
    expect(text).toMatch(/^docker {5}connected {2}2 {9}socket \/var\/run\/docker\.sock/m);
    expect(text).toMatch(/^ecs {8}not found {2}- {9}ECS_CONTAINER_METADATA_URI_V4 is not set$/m);
    const totals = lines.indexOf('entities: 3 (docker 2, kubernetes 1) · updates/s: 1.5');
    expect(totals).toBeGreaterThan(0);
    expect(lines[totals + 1]).toBe('by prefix: container_id 2, kubernetes_pod_uid 1');
    expect(lines[totals + 2]).toMatch(/^tagger: 0 updates \(0 unchanged\), 0 deletes \(0 pending\), 0 prunes · queries: 0 found, 0 empty · fetches: 0/);
    expect(lines[totals + 3]).toBe('completeness: no delay measured · 0 incomplete now · 0 lookups answered incomplete');
    expect(lines[totals + 4]).toBe('server: 5 requests, 2 unauthorized · streams: 1 open, 4 since start, 0 refused, 0 cut, 0 stalled · token file /run/tagstream.sock.token');
    // The warnings, with their control characters escaped: a status never sends a terminal escape.
    expect(text).toContain('  03:04:00 docker: lost the daemon\\x1b[2J');
    expect(text).not.toContain('\u001b');
    expect(text).not.toContain('Ctrl-C');
    expect(text.endsWith('\n')).toBe(true);
    expect(JSON.parse(formatAgentStatus(doc(), true))).toEqual(doc());
  });

  it('shows completeness: p50 / p99 bucket bounds by prefix, entities incomplete now, lookups answered incomplete; reads an older document without it', () => {
    const c = completenessStatus({
      incompleteEntities: 2,
      earlyAsks: 0,
      reasks: 0,
      lookupsIncompleteAtDeadline: 3,
      delayMs: {
        container_id: { le: [10, 250, 1000], counts: [50, 98, 100], count: 100, sum: 9000 },
        ecs_task: { le: [10, 250], counts: [0, 0], count: 1, sum: 5000 },
      },
    });
    expect(c).toEqual({
      incompleteEntities: 2,
      lookupsIncomplete: 3,
      delayByPrefix: { container_id: { count: 100, p50Ms: 10, p99Ms: 1000 }, ecs_task: { count: 1, p50Ms: null, p99Ms: null } },
    });
    const d = doc();
    const withCompleteness: AgentStatus = { ...d, counters: { ...d.counters, completeness: c } };
    const text = formatAgentStatus(withCompleteness, false, 200);
    expect(text).toContain('completeness: container_id p50 ≤10ms p99 ≤1s (100), ecs_task p50 over the last bucket p99 over the last bucket (1) · 2 incomplete now · 3 lookups answered incomplete');
    expect(parseAgentStatus(JSON.parse(JSON.stringify(withCompleteness)))).toEqual(withCompleteness);
    expect(parseAgentStatus({ ...d, counters: { ...d.counters, completeness: { incompleteEntities: 'x' } } })).toBeUndefined();
    const { completeness: _dropped, ...older } = d.counters;
    const olderDoc = { ...d, counters: older };
    expect(parseAgentStatus(JSON.parse(JSON.stringify(olderDoc)))).toEqual(olderDoc);
    expect(formatAgentStatus(olderDoc, false, 200)).not.toContain('completeness:');
  });

  it('prints the kvstore line when the agent joined one', () => {
    const kvstore = { url: 'etcd://e:2379', name: 'node-a', sharedKeys: 5, localKeys: 2, writeErrors: 0, watchErrors: 1, decodeErrors: 0, retries: 0, disconnects: 0 };
    expect(formatAgentStatus(doc({ kvstore }), false, 200)).toContain('kvstore: 5 keys, 2 published as node-a · errors: 0 write, 1 watch, 0 decode');
  });
});

describe('formatEntitySources (list --sources)', () => {
  const answer: EntitySourcesResponse = {
    entities: [
      {
        entity: 'container_id://3f4a',
        sources: ['kubelet', 'docker'],
        tags: { low: ['team:core', 'image_name:redis'], orchestrator: ['team:core', 'image_name:redis', 'pod_name:web-1'], high: ['team:core', 'image_name:redis', 'pod_name:web-1', 'container_name:cache'] },
        bySource: [
          { source: 'kubelet', priority: 1, priorityName: 'NodeOrchestrator', low: ['team:core'], orchestrator: ['pod_name:web-1'], high: [], overridden: [] },
          {
            source: 'docker',
            priority: 0,
            priorityName: 'NodeRuntime',
            low: ['image_name:redis', 'team:payments'],
            orchestrator: [],
            high: ['container_name:cache'],
            overridden: [{ tag: 'team:payments', by: ['kubelet'] }],
          },
        ],
      },
    ],
  };

  it('prints each entity, each source with its priority and levels, what it loses and to whom, and what is served', () => {
    expect(formatEntitySources(answer, false)).toBe(
      [
        '=== Entity container_id://3f4a ===',
        '== Source kubelet · priority NodeOrchestrator (1) ==',
        '  low           team:core',
        '  orchestrator  pod_name:web-1',
        '== Source docker · priority NodeRuntime (0) ==',
        '  low           image_name:redis, team:payments',
        '  high          container_name:cache',
        '  overridden    team:payments (team: kubelet)',
        '== Served ==',
        '  low           team:core, image_name:redis',
        '  orchestrator  pod_name:web-1',
        '  high          container_name:cache',
        '===',
        '1 entity',
        '',
      ].join('\n'),
    );
    expect(JSON.parse(formatEntitySources(answer, true))).toEqual(answer);
    expect(formatEntitySources({ entities: [] }, false)).toBe('0 entities\n');
  });

  it('escapes control characters in ids, sources and tags', () => {
    const [first] = answer.entities;
    if (first === undefined) throw new Error('no entity');
    const hostile: EntitySourcesResponse = {
      entities: [{ ...first, entity: 'container_id://a\nb', bySource: [{ ...first.bySource[0]!, source: 'k\u001b[2J', low: ['x:\r'] }] }],
    };
    const text = formatEntitySources(hostile, false);
    expect(text).toContain('=== Entity container_id://a\\nb ===');
    expect(text).toContain('== Source k\\x1b[2J');
    expect(text).toContain('  low           x:\\r');
    // No control character but the line breaks.
    expect(Array.from(text, (c) => c.charCodeAt(0)).filter((code) => code !== 0x0a && code < 0x20)).toEqual([]);
  });
});
