import { describe, expect, it } from 'vitest';
import { formatEntities, formatStreamLine, formatTags } from '../../src/cli/query-format.js';

const NOON = Date.UTC(2026, 0, 1, 12, 30, 5);

describe('formatTags', () => {
  it('one tag per line, nothing for none, or the answer as one JSON line', () => {
    expect(formatTags({ entity: 'container_id://a', cardinality: 'low', tags: ['a:1', 'b:2'] }, false)).toBe('a:1\nb:2\n');
    expect(formatTags({ entity: 'container_id://a', cardinality: 'low', tags: [] }, false)).toBe('');
    expect(formatTags({ entity: 'container_id://a', cardinality: 'high', tags: [] }, true)).toBe('{"entity":"container_id://a","cardinality":"high","tags":[]}\n');
  });
});

describe('formatEntities', () => {
  it('sorts entities, shows what each level adds, and counts', () => {
    const text = formatEntities(
      {
        entities: [
          { entity: 'kubernetes_pod_uid://p', sources: ['kubernetes'], tags: { low: [], orchestrator: [], high: [] } },
          { entity: 'container_id://c', sources: ['kubernetes', 'docker'], tags: { low: ['env:prod'], orchestrator: ['env:prod', 'pod_name:w'], high: ['env:prod', 'pod_name:w', 'container_id:c'] } },
        ],
      },
      false,
    );
    expect(text).toBe(
      [
        'container_id://c  (kubernetes, docker)',
        '  low           env:prod',
        '  orchestrator  pod_name:w',
        '  high          container_id:c',
        'kubernetes_pod_uid://p  (kubernetes)',
        '  (no tags)',
        '2 entities',
        '',
      ].join('\n'),
    );
    expect(formatEntities({ entities: [] }, true)).toBe('{"entities":[]}\n');
  });
});

describe('formatStreamLine', () => {
  it('one readable line per event, a comment at synced, nothing for keep-alives', () => {
    expect(formatStreamLine({ type: 'added', entity: 'container_id://a', tags: ['x:1', 'y:2'] }, NOON, false)).toBe('12:30:05 added     container_id://a  x:1, y:2\n');
    expect(formatStreamLine({ type: 'modified', entity: 'container_id://a', tags: [] }, NOON, false)).toBe('12:30:05 modified  container_id://a\n');
    expect(formatStreamLine({ type: 'synced', entities: 2 }, NOON, false)).toBe('# 12:30:05 synced: 2 entities; watching for changes (Ctrl-C to stop)\n');
    expect(formatStreamLine({ type: 'keepalive' }, NOON, false)).toBe('');
  });

  it('with --json, the protocol line without levels; keep-alives dropped', () => {
    expect(formatStreamLine({ type: 'deleted', entity: 'container_id://a', tags: [], levels: { low: 0, orchestrator: 0 } }, NOON, true)).toBe('{"type":"deleted","entity":"container_id://a","tags":[]}\n');
    expect(formatStreamLine({ type: 'synced', entities: 0 }, NOON, true)).toBe('{"type":"synced","entities":0}\n');
    expect(formatStreamLine({ type: 'keepalive' }, NOON, true)).toBe('');
  });
});
