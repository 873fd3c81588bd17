/**
 * `updateLocalKeysSync`: many local keys written with one promise, over the memory backend (the
 * same calls run over a real etcd in etcd-writes.test.ts and the contract suite).
 */
import fc from 'fast-check';
import { type Observable, concatMap, defer, from, last, lastValueFrom, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type KvBackend,
  type KvKeyValue,
  type KvPutOptions,
  type KvWriteResult,
  KvEncodeError,
  KvStoreClosedError,
  KvUnavailableError,
  createMemoryKv,
  joinSharedStore,
  memoryBackend,
} from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { type Item, cacheOf, itemCodec } from './helpers.js';

const join = async (backend: KvBackend, extra: { writeBatchSize?: number; maxWritesInFlight?: number } = {}) =>
  joinSharedStore({ prefix: 'p', codec: itemCodec, backend, logger: silentLogger, deleteGracePeriod: 0, retryDelay: 10, ...extra });

/** What the store holds under `p/`, as name → value. */
async function stored(backend: KvBackend): Promise<Record<string, string>> {
  const { entries } = await lastValueFrom(backend.list('p/'));
  return Object.fromEntries(entries.map((e) => [e.key.slice(2), itemCodec.decode(e.value, e.key.slice(2)).value]));
}

describe('updateLocalKeysSync', () => {
  it('property: one call writes every key with its newest value (a name given twice keeps its last), and each becomes a local key', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g'), value: fc.string({ maxLength: 4 }) }), { maxLength: 40 }),
        fc.integer({ min: 1, max: 5 }),
        async (items, batchSize) => {
          const backend = memoryBackend({ kv: createMemoryKv() });
          const store = await join(backend, { writeBatchSize: batchSize, maxWritesInFlight: 2 });
          await store.updateLocalKeysSync(items);
          const newest = Object.fromEntries(items.map((i) => [i.name, i.value]));
          expect(cacheOf(store.localKeys())).toEqual(newest);
          expect(await stored(backend)).toEqual(newest);
          await store.close();
        },
      ),
      { numRuns: 60 },
    );
  });

  it('takes any iterable, and resolves at once for none', async () => {
    const backend = memoryBackend({ kv: createMemoryKv() });
    const store = await join(backend);
    await store.updateLocalKeysSync([]);
    function* items(): Generator<Item> {
      for (let i = 0; i < 300; i++) yield { name: `k${i}`, value: String(i) };
    }
    await store.updateLocalKeysSync(items());
    expect(store.localKeys().size).toBe(300);
    expect(Object.keys(await stored(backend))).toHaveLength(300);
    await store.close();
  });

  it('a key that does not encode rejects the call with KvEncodeError, and no key of it is written', async () => {
    const backend = memoryBackend({ kv: createMemoryKv() });
    const store = await join(backend);
    const bad = [{ name: 'ok', value: '1' }, { name: '', value: '2' }, { name: 'later', value: '3' }];
    await expect(store.updateLocalKeysSync(bad)).rejects.toBeInstanceOf(KvEncodeError);
    await store.sync();
    expect(store.localKeys().size).toBe(0);
    expect(await stored(backend)).toEqual({});
    await store.close();
    await expect(store.updateLocalKeysSync([{ name: 'x', value: '1' }])).rejects.toBeInstanceOf(KvStoreClosedError);
  });

  it('a write that fails rejects the call once, with the first error; the keys written are local keys', async () => {
    const inner = memoryBackend({ kv: createMemoryKv() });
    let batches = 0;
    // The second batch fails for good (not an overload: no retry).
    const failing: KvBackend = {
      ...delegate(inner),
      putMany: (entries: readonly KvKeyValue[], options?: KvPutOptions): Observable<KvWriteResult> =>
        defer(() =>
          ++batches === 2
            ? throwError(() => new KvUnavailableError('put', entries[0]?.key, { cause: new Error('permission denied') }))
            : from(entries).pipe(
                concatMap((e) => inner.put(e.key, e.value, options)),
                last(),
              ),
        ),
    };
    const store = await join(failing, { writeBatchSize: 2, maxWritesInFlight: 1 });
    const errors: unknown[] = [];
    store.errors$.subscribe((e) => errors.push(e));
    const items = Array.from({ length: 6 }, (_, i) => ({ name: `k${i}`, value: String(i) }));
    await expect(store.updateLocalKeysSync(items)).rejects.toBeInstanceOf(KvUnavailableError);
    // The batches after the failed one are still written.
    await expect.poll(() => store.localKeys().size).toBe(4);
    expect(Object.keys(cacheOf(store.localKeys())).sort()).toEqual(['k0', 'k1', 'k4', 'k5']);
    expect(errors).toHaveLength(1);
    await store.close();
  });

  it('a key of the call deleted before it is written counts as answered: the call resolves, the key is not written', async () => {
    const backend = memoryBackend({ kv: createMemoryKv() });
    const store = await join(backend, { writeBatchSize: 1, maxWritesInFlight: 1 });
    const call = store.updateLocalKeysSync([{ name: 'a', value: '1' }, { name: 'b', value: '2' }, { name: 'c', value: '3' }]);
    await store.deleteLocalKey({ name: 'c', value: '3' });
    await call;
    expect(cacheOf(store.localKeys())).toEqual({ a: '1', b: '2' });
    expect(await stored(backend)).toEqual({ a: '1', b: '2' });
    await store.close();
  });
});

/** Every call of `backend`, as a plain object another backend can spread and override. */
function delegate(backend: KvBackend): KvBackend {
  return {
    kind: backend.kind,
    session$: backend.session$,
    get: (key) => backend.get(key),
    list: (prefix) => backend.list(prefix),
    put: (key, value, options) => backend.put(key, value, options),
    putIfDifferent: (key, value, options) => backend.putIfDifferent(key, value, options),
    compareAndPut: (key, value, rev, options) => backend.compareAndPut(key, value, rev, options),
    delete: (key) => backend.delete(key),
    watch: (prefix, rev) => backend.watch(prefix, rev),
    close: (options) => backend.close(options),
  };
}
