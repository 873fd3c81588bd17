import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  applyListItem,
  applyWatchEvent,
  compareResourceVersions,
  finishList,
  MissingUidError,
  newReaderState,
} from '../../src/pipeline/index.js';
import type { Entry, KubeObject } from '../../src/pipeline/index.js';

const obj = (uid: string, rv: string, generation = 1): KubeObject => ({ metadata: { uid, name: uid, resourceVersion: rv, generation } });
const change = (x: unknown): string => (typeof x === 'object' && x !== null && 'change' in x ? (x as Entry).change : String(x));

describe('reader state', () => {
  it('orders numeric resourceVersions as numbers and refuses to order opaque ones', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 30n }), fc.bigInt({ min: 0n, max: 10n ** 30n }), (a, b) => {
        expect(Math.sign(compareResourceVersions(String(a), String(b))!)).toBe(a < b ? -1 : a > b ? 1 : 0);
      }),
    );
    expect(compareResourceVersions('abc', '12')).toBeUndefined();
    expect(compareResourceVersions('abc', 'abc')).toBe(0);
  });

  it('turns watch events into add / update / delete and drops stale ones', () => {
    const s = newReaderState();
    expect(change(applyWatchEvent(s, 'pod', 'ADDED', obj('a', '10'), 't', 0))).toBe('add');
    expect(change(applyWatchEvent(s, 'pod', 'MODIFIED', obj('a', '9'), 't', 0))).toBe('stale'); // older rv
    expect(change(applyWatchEvent(s, 'pod', 'MODIFIED', obj('a', '10'), 't', 0))).toBe('stale'); // a repeat
    expect(change(applyWatchEvent(s, 'pod', 'MODIFIED', obj('a', '12', 2), 't', 0))).toBe('update');
    expect(change(applyWatchEvent(s, 'pod', 'MODIFIED', obj('a', '13', 1), 't', 0))).toBe('stale'); // older generation
    expect(s.resourceVersion).toBe('12');
    expect(change(applyWatchEvent(s, 'pod', 'DELETED', obj('a', '14', 2), 't', 0))).toBe('delete');
    expect(change(applyWatchEvent(s, 'pod', 'MODIFIED', obj('a', '15', 3), 't', 0))).toBe('stale'); // after its delete
    expect(applyWatchEvent(s, 'pod', 'ADDED', { metadata: { name: 'x' } }, 't', 0)).toBeInstanceOf(MissingUidError);
  });

  it('a relist emits what changed and deletes what vanished; a resync sends everything as snapshot', () => {
    const s = newReaderState();
    let seen = new Set<string>();
    for (const o of [obj('a', '1'), obj('b', '2'), obj('c', '3')]) applyListItem(s, 'node', o, 'sync', seen, 't', 0);
    finishList(s, 'node', seen, '3', 't', 0);
    seen = new Set();
    const relist = [obj('a', '1'), obj('b', '5')].map((o) => change(applyListItem(s, 'node', o, 'sync', seen, 't', 0)));
    expect(relist).toEqual(['unchanged', 'update']);
    const deletes = finishList(s, 'node', seen, '6', 't', 0);
    expect(deletes.map((e) => [e.uid, e.change, e.object.metadata?.resourceVersion])).toEqual([['c', 'delete', '3']]);
    expect(s.resourceVersion).toBe('6');
    seen = new Set();
    expect([obj('a', '1'), obj('b', '5')].map((o) => change(applyListItem(s, 'node', o, 'snapshot', seen, 't', 0)))).toEqual([
      'snapshot',
      'snapshot',
    ]);
  });
});
