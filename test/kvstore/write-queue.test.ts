import fc from 'fast-check';
import { EMPTY, type Observable, defer, from, last, concatMap, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type KvBackend, type KvKeyValue, type KvPutOptions, type KvWriteResult, KvUnavailableError, createMemoryKv, joinSharedStore, memoryBackend } from '../../src/kvstore/index.js';
import { WriteQueue } from '../../src/kvstore/write-queue.js';
import { silentLogger } from '../../src/util/logger.js';
import { itemCodec } from './helpers.js';

describe('WriteQueue', () => {
  it('property: whatever is queued, taken and put back, each key is written with its newest value and every waiter is kept', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('enqueue' as const), name: fc.constantFrom('a', 'b', 'c', 'd'), value: fc.string({ maxLength: 3 }) }),
      // One waiters array shared by several keys, as updateLocalKeysSync queues them.
      fc.record({ kind: fc.constant('enqueueAll' as const), names: fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 4 }), value: fc.string({ maxLength: 3 }) }),
      fc.record({ kind: fc.constant('take' as const), max: fc.integer({ min: 1, max: 3 }), fail: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const queue = new WriteQueue<string, number>();
        const newest = new Map<string, string>();
        const written = new Map<string, string>();
        let waiters = 0;
        let answered = 0;
        const shared: { readonly array: readonly number[]; readonly copy: readonly number[] }[] = [];
        for (const o of ops) {
          if (o.kind === 'enqueue') {
            queue.enqueue(o.name, o.value, o.value, waiters++);
            newest.set(o.name, o.value);
            continue;
          }
          if (o.kind === 'enqueueAll') {
            const array = [waiters++];
            shared.push({ array, copy: [...array] });
            for (const name of o.names) queue.enqueueAll(name, o.value, o.value, array);
            // Each key queued counts as one more answer the shared waiter gets.
            waiters += o.names.length - 1;
            for (const name of o.names) newest.set(name, o.value);
            continue;
          }
          const batch = queue.take(o.max);
          expect(batch.length).toBeLessThanOrEqual(o.max);
          expect(new Set(batch.map((w) => w.name)).size).toBe(batch.length);
          if (o.fail) queue.requeue(batch);
          else
            for (const w of batch) {
              written.set(w.name, w.value);
              answered += w.waiters.length;
            }
        }
        for (const w of queue.drain()) {
          written.set(w.name, w.value);
          answered += w.waiters.length;
        }
        expect(answered).toBe(waiters);
        expect(queue.size).toBe(0);
        // The queue never changed an array it was given.
        for (const { array, copy } of shared) expect(array).toEqual(copy);
        // The last value written of each key is its newest.
        expect(written).toEqual(newest);
      }),
    );
  });
});

describe('shared store writes when the backend is overloaded', () => {
  it('"too many requests" is retried after a backoff: the caller is answered, nothing is lost or reported as an error', async () => {
    const inner = memoryBackend({ kv: createMemoryKv() });
    let refusals = 3;
    // Its first three writes (put or putMany) are refused as etcd refuses them when it is overloaded.
    const overloaded: KvBackend = {
      kind: 'overloaded',
      session$: inner.session$,
      get: (key) => inner.get(key),
      list: (prefix) => inner.list(prefix),
      put: (key, value, options) =>
        defer(() => (refusals-- > 0 ? throwError(() => new KvUnavailableError('put', key, { cause: new Error('etcdserver: too many requests') })) : inner.put(key, value, options))),
      putIfDifferent: (key, value, options) => inner.putIfDifferent(key, value, options),
      compareAndPut: (key, value, rev, options) => inner.compareAndPut(key, value, rev, options),
      delete: (key) => inner.delete(key),
      watch: (prefix, rev) => inner.watch(prefix, rev),
      close: (options) => inner.close(options),
      putMany: (entries: readonly KvKeyValue[], options?: KvPutOptions): Observable<KvWriteResult> =>
        defer(() => {
          if (refusals-- > 0) return throwError(() => new KvUnavailableError('put', entries[0]?.key, { cause: new Error('etcdserver: too many requests') }));
          if (entries.length === 0) return EMPTY;
          return from(entries).pipe(
            concatMap((e) => inner.put(e.key, e.value, options)),
            last(),
          );
        }),
    };
    const store = await joinSharedStore({ prefix: 'p', codec: itemCodec, backend: overloaded, retryDelay: 10, logger: silentLogger, deleteGracePeriod: 0 });
    const errors: unknown[] = [];
    store.errors$.subscribe((e) => errors.push(e));
    await Promise.all(Array.from({ length: 200 }, async (_, i) => store.updateLocalKeySync({ name: `k${i}`, value: '1' })));
    expect(store.localKeys().size).toBe(200);
    expect(store.telemetry()).toMatchObject({ writeErrors: 0 });
    expect(store.telemetry().retries).toBeGreaterThanOrEqual(3);
    expect(errors).toEqual([]);
    await store.close();
    await lastValueFromClose(inner);
  });
});

async function lastValueFromClose(backend: KvBackend): Promise<void> {
  await new Promise<void>((resolve) => {
    backend.close().subscribe({ complete: resolve, error: () => { resolve(); } });
  });
}
