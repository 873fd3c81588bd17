import { describe, expect, it } from 'vitest';
import { type CacheContext, createCacheState, reduceCache } from '../../src/kvstore/index.js';

const ctx: CacheContext<number> = {
  pathPrefix: 'p/',
  decode: (value) => {
    const n = Number(value);
    if (!Number.isInteger(n)) throw new TypeError(`not an integer: ${value}`);
    return n;
  },
};
const entry = (name: string, value: string, modRevision: number) => ({ key: `p/${name}`, value, modRevision });

describe('reduceCache', () => {
  it('applies puts and deletes, and ignores what changes nothing', () => {
    const state = createCacheState<number>();
    expect(reduceCache(state, { type: 'put', key: 'p/a', value: '1', revision: 2 }, ctx).changes).toEqual([{ type: 'update', name: 'a', key: 1, value: '1' }]);
    expect(reduceCache(state, { type: 'put', key: 'p/a', value: '1', revision: 3 }, ctx).changes).toEqual([]);
    expect(state.entries.get('a')?.revision).toBe(3);
    expect(reduceCache(state, { type: 'delete', key: 'p/zz', revision: 4 }, ctx).changes).toEqual([]);
    expect(reduceCache(state, { type: 'delete', key: 'p/a', revision: 5 }, ctx).changes).toEqual([{ type: 'delete', name: 'a', key: 1, value: '1' }]);
    expect(state.entries.size).toBe(0);
    expect(state.revision).toBe(5);
  });

  it('a list at a lower revision (etcd restarted without its data) replaces the cache, and the new epoch’s events apply', () => {
    const state = createCacheState<number>();
    reduceCache(state, { type: 'listed', listing: { entries: [entry('a', '1', 90), entry('b', '2', 95)], revision: 120 } }, ctx);
    const relisted = reduceCache(state, { type: 'listed', listing: { entries: [entry('a', '1', 2)], revision: 3 } }, ctx);
    expect(relisted.changes).toEqual([{ type: 'delete', name: 'b', key: 2, value: '2' }]);
    expect(state.revision).toBe(3);
    expect(reduceCache(state, { type: 'put', key: 'p/a', value: '7', revision: 4 }, ctx).changes).toEqual([{ type: 'update', name: 'a', key: 7, value: '7' }]);
  });

  it('ignores events older than the cache, but applies every event of one revision (a lease expiry)', () => {
    const state = createCacheState<number>();
    reduceCache(state, { type: 'listed', listing: { entries: [entry('a', '1', 3), entry('b', '2', 4)], revision: 10 } }, ctx);
    expect(reduceCache(state, { type: 'delete', key: 'p/a', revision: 9 }, ctx).changes).toEqual([]);
    expect(reduceCache(state, { type: 'delete', key: 'p/a', revision: 11 }, ctx).changes).toHaveLength(1);
    expect(reduceCache(state, { type: 'delete', key: 'p/b', revision: 11 }, ctx).changes).toHaveLength(1);
    expect(state.entries.size).toBe(0);
  });

  it('a list replaces the cache: deletes for what vanished, updates for what changed, nothing for the rest', () => {
    const state = createCacheState<number>();
    reduceCache(state, { type: 'listed', listing: { entries: [entry('a', '1', 2), entry('b', '2', 3), entry('c', '3', 4)], revision: 4 } }, ctx);
    const step = reduceCache(state, { type: 'listed', listing: { entries: [entry('a', '1', 2), entry('b', '20', 7), entry('d', '4', 8)], revision: 9 } }, ctx);
    expect(step.changes).toEqual([
      { type: 'update', name: 'b', key: 20, value: '20' },
      { type: 'update', name: 'd', key: 4, value: '4' },
      { type: 'delete', name: 'c', key: 3, value: '3' },
    ]);
    expect([...state.entries.keys()].sort()).toEqual(['a', 'b', 'd']);
  });

  it('rejects a value that does not decode, and a key that turns bad leaves the cache', () => {
    const state = createCacheState<number>();
    const bad = reduceCache(state, { type: 'put', key: 'p/a', value: 'x', revision: 2 }, ctx);
    expect(bad.changes).toEqual([]);
    expect(bad.rejected.map((e) => [e.tag, e.key])).toEqual([['KvDecode', 'p/a']]);
    reduceCache(state, { type: 'put', key: 'p/b', value: '1', revision: 3 }, ctx);
    const turned = reduceCache(state, { type: 'put', key: 'p/b', value: 'y', revision: 4 }, ctx);
    expect(turned.changes).toEqual([{ type: 'delete', name: 'b', key: 1, value: '1' }]);
    expect(turned.rejected).toHaveLength(1);
    expect(state.entries.size).toBe(0);
  });

  it('ignores keys outside the prefix', () => {
    const state = createCacheState<number>();
    expect(reduceCache(state, { type: 'put', key: 'q/a', value: '1', revision: 2 }, ctx).changes).toEqual([]);
    expect(state.entries.size).toBe(0);
  });
});
