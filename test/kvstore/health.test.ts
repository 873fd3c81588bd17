/**
 * The shared store's health (`health$`, `synced$`) across an outage of the backend's connection,
 * and the retries of failed writes: on the memory backend, the backoff on virtual time.
 */
import { type Observable, VirtualAction, VirtualTimeScheduler, lastValueFrom, throwError } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  type KvBackend,
  type KvWriteResult,
  KvUnavailableError,
  type SharedStore,
  type SharedStoreHealth,
  createMemoryKv,
  joinSharedStore,
  memoryBackend,
} from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { type Item, cacheOf, freshPrefix, itemCodec, record, waitFor } from './helpers.js';

const stores: SharedStore<Item>[] = [];
afterEach(async () => {
  await Promise.allSettled(stores.splice(0).map((s) => s.release()));
});
const keep = (store: SharedStore<Item>): SharedStore<Item> => {
  stores.push(store);
  return store;
};

/** A virtual clock: `advanceTo(t)` runs every timer due at or before t. */
function virtualClock(): { readonly scheduler: VirtualTimeScheduler; advanceTo(frame: number): void } {
  const scheduler = new VirtualTimeScheduler(VirtualAction, 0);
  return {
    scheduler,
    advanceTo(frame) {
      scheduler.maxFrames = frame;
      scheduler.flush();
    },
  };
}

/** `inner` whose writes fail while `failing` is true, though its connection (and watch) stay up. */
function flakyWrites(inner: KvBackend): KvBackend & { failing: boolean } {
  const fail = (key: string): Observable<KvWriteResult> => throwError(() => new KvUnavailableError('putIfDifferent', key, { reason: 'injected failure' }));
  const backend = {
    failing: false,
    kind: inner.kind,
    session$: inner.session$,
    get: (key: string) => inner.get(key),
    list: (prefix: string) => inner.list(prefix),
    put: (key: string, value: string, options?: { lease?: boolean }) => (backend.failing ? fail(key) : inner.put(key, value, options)),
    putIfDifferent: (key: string, value: string, options?: { lease?: boolean }) => (backend.failing ? fail(key) : inner.putIfDifferent(key, value, options)),
    compareAndPut: (key: string, value: string, expected: number, options?: { lease?: boolean }) => inner.compareAndPut(key, value, expected, options),
    delete: (key: string) => (backend.failing ? fail(key) : inner.delete(key)),
    watch: (prefix: string, fromRevision: number) => inner.watch(prefix, fromRevision),
    close: () => inner.close(),
  };
  return backend;
}

const states = (values: readonly SharedStoreHealth[]): string[] => values.map((h) => h.state);

describe('shared store health', () => {
  it('goes disconnected (with the backend’s error) while the backend is unavailable, then resyncing, then synced; synced$ follows', async () => {
    const kv = createMemoryKv();
    const prefix = freshPrefix('health');
    const store = keep(await joinSharedStore({ prefix, codec: itemCodec, backend: memoryBackend({ kv }), logger: silentLogger, synchronizationInterval: 600_000 }));
    const health = record(store.health$);
    const synced = record(store.synced$);
    const errors = record(store.errors$);
    expect(states(health.values)).toEqual(['synced']);

    kv.setAvailable(false);
    expect(health.values.at(-1)?.state).toBe('disconnected');
    expect(health.values.at(-1)?.lastError).toBeInstanceOf(KvUnavailableError);
    expect(health.values.at(-1)?.lastError?.message).toMatch(/unavailable/);
    expect(errors.values).toHaveLength(1); // reported once per outage
    // A write made during the outage: it fails, and the caller keeps the key (as publishTags does).
    await expect(store.updateLocalKeySync({ name: 'k', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
    store.updateLocalKey({ name: 'k', value: '1' });

    kv.setAvailable(true);
    await waitFor('synced again', () => health.values.at(-1)?.state === 'synced');
    expect(states(health.values)).toEqual(['synced', 'disconnected', 'resyncing', 'synced']);
    expect(synced.values).toEqual([true, false, true]);
    // Synced again means the local keys are written: no periodic sync (10 min) was needed.
    expect(cacheOf(store.sharedKeys())).toEqual({ k: '1' });
    expect((await lastValueFrom(memoryBackend({ kv }).get(`${prefix}/k`)))?.value).toBe(itemCodec.encode({ name: 'k', value: '1' }));
    expect(store.telemetry()).toMatchObject({ disconnects: 1, retries: 1, syncs: 1, writeErrors: 1 });
    health.stop();
    synced.stop();
    errors.stop();
  });

  it('health$ completes with closed at release', async () => {
    const store = await joinSharedStore({ prefix: freshPrefix('closed'), codec: itemCodec, backend: memoryBackend(), logger: silentLogger });
    const health = record(store.health$);
    await store.release();
    expect(states(health.values)).toEqual(['synced', 'closed']);
    expect(health.done()).toBe(true);
  });
});

describe('retries of failed writes, on virtual time', () => {
  it('a failed write is retried after retryDelay, doubling per failure, long before the next synchronization', async () => {
    const clock = virtualClock();
    const kv = createMemoryKv({ scheduler: clock.scheduler });
    const backend = flakyWrites(memoryBackend({ kv, scheduler: clock.scheduler }));
    const store = keep(
      await joinSharedStore({ prefix: 'p', codec: itemCodec, backend, retryDelay: 1000, synchronizationInterval: 600_000, scheduler: clock.scheduler, logger: silentLogger }),
    );
    backend.failing = true;
    await expect(store.updateLocalKeySync({ name: 'k', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
    store.updateLocalKey({ name: 'k', value: '1' });

    clock.advanceTo(999);
    expect(store.telemetry()).toMatchObject({ retries: 0, writeErrors: 1 });
    clock.advanceTo(1000); // first retry: fails again; the next waits 2 s
    expect(store.telemetry()).toMatchObject({ retries: 1, writeErrors: 2 });
    backend.failing = false;
    clock.advanceTo(2999);
    expect(store.sharedKeys().size).toBe(0);
    clock.advanceTo(3000);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: '1' });
    expect(store.telemetry()).toMatchObject({ retries: 2, writeErrors: 2, syncs: 0 });
  });

  it('the backoff is capped at 30 s, and resets after a round that succeeds', async () => {
    const clock = virtualClock();
    const kv = createMemoryKv({ scheduler: clock.scheduler });
    const backend = flakyWrites(memoryBackend({ kv, scheduler: clock.scheduler }));
    const store = keep(
      await joinSharedStore({ prefix: 'p', codec: itemCodec, backend, retryDelay: 10_000, synchronizationInterval: 3_600_000, scheduler: clock.scheduler, logger: silentLogger }),
    );
    backend.failing = true;
    store.updateLocalKey({ name: 'k', value: '1' });
    await store.sync(); // fails: retries at 10 s, then +20 s, then +30 s (capped), then +30 s
    const retriesAt = (frame: number): number => {
      clock.advanceTo(frame);
      return store.telemetry().retries;
    };
    expect([retriesAt(9_999), retriesAt(10_000), retriesAt(29_999), retriesAt(30_000), retriesAt(59_999), retriesAt(60_000), retriesAt(89_999), retriesAt(90_000)]).toEqual([
      0, 1, 1, 2, 2, 3, 3, 4,
    ]);
    backend.failing = false;
    clock.advanceTo(120_000);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: '1' });
    expect(store.telemetry().retries).toBe(5);
    // A new failure starts again from retryDelay.
    backend.failing = true;
    store.updateLocalKey({ name: 'k', value: '2' });
    await store.sync();
    backend.failing = false;
    clock.advanceTo(129_999);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: '1' });
    clock.advanceTo(130_000);
    expect(cacheOf(store.sharedKeys())).toEqual({ k: '2' });
  });
});
