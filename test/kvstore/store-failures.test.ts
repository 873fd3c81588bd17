import { lastValueFrom } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  KvJoinTimeoutError,
  KvUnavailableError,
  type KvSessionEvent,
  type SharedStore,
  createMemoryKv,
  joinSharedStore,
  memoryBackend,
  processMemoryKv,
} from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { type Item, cacheOf, freshPrefix, itemCodec, record, sleep, waitFor } from './helpers.js';

const stores: SharedStore<Item>[] = [];
afterEach(async () => {
  await Promise.allSettled(stores.splice(0).map((s) => s.close()));
});
const keep = (store: SharedStore<Item>): SharedStore<Item> => {
  stores.push(store);
  return store;
};

describe('shared store over an unreliable memory backend', () => {
  it('rejects the join with KvJoinTimeoutError, with the backend’s error as cause, when it cannot list in time', async () => {
    const kv = createMemoryKv();
    kv.setAvailable(false);
    const error = await joinSharedStore({ prefix: 'p', codec: itemCodec, backend: memoryBackend({ kv }), joinTimeout: 300, retryDelay: 50, logger: silentLogger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KvJoinTimeoutError);
    expect((error as KvJoinTimeoutError).cause).toBeInstanceOf(KvUnavailableError);
    expect((error as Error).message).toMatch(/did not list it within 300 ms/);
  });

  it('a failed updateLocalKeySync rejects and does not take the key; updateLocalKey keeps it for the next sync', async () => {
    const kv = createMemoryKv();
    const store = keep(await joinSharedStore({ prefix: freshPrefix(), codec: itemCodec, backend: memoryBackend({ kv }), logger: silentLogger }));
    kv.setAvailable(false);
    await expect(store.updateLocalKeySync({ name: 'sync', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
    store.updateLocalKey({ name: 'later', value: '2' });
    expect([...store.localKeys().keys()]).toEqual(['later']);
    await store.sync(); // fails quietly: counted, reported
    expect(store.telemetry().writeErrors).toBe(2);
    kv.setAvailable(true);
    await store.sync();
    expect(cacheOf(store.sharedKeys())).toEqual({ later: '2' });
  });

  it('a failed deleteLocalKey rejects and is retried as soon as the backend is back, not at the next sync', async () => {
    const kv = createMemoryKv();
    const store = keep(await joinSharedStore({ prefix: freshPrefix(), codec: itemCodec, backend: memoryBackend({ kv }), logger: silentLogger, synchronizationInterval: 600_000 }));
    await store.updateLocalKeySync({ name: 'k', value: '1' });
    kv.setAvailable(false);
    await expect(store.deleteLocalKey({ name: 'k', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
    expect(store.localKeys().size).toBe(0);
    expect(store.sharedKeys().has('k')).toBe(true);
    kv.setAvailable(true);
    await waitFor('the delete retried', () => !store.sharedKeys().has('k'));
    expect(store.telemetry()).toMatchObject({ retries: 1, syncs: 1 }); // the resync after the outage, not the interval
  });

  it('a watch that falls behind a compaction relists: synced$ goes false then true, and the vanished key is deleted', async () => {
    const kv = createMemoryKv();
    const prefix = freshPrefix();
    const store = keep(await joinSharedStore({ prefix, codec: itemCodec, backend: memoryBackend({ kv }), retryDelay: 20, deleteGracePeriod: 0, logger: silentLogger }));
    const early = memoryBackend({ kv, leaseTtl: 100 });
    const late = memoryBackend({ kv, leaseTtl: 160 });
    await lastValueFrom(early.put(`${prefix}/early`, itemCodec.encode({ name: 'early', value: '1' }), { lease: true }));
    await lastValueFrom(late.put(`${prefix}/late`, itemCodec.encode({ name: 'late', value: '1' }), { lease: true }));
    expect(store.sharedKeys().size).toBe(2);
    const synced = record(store.synced$);
    const events = record(store.events$);
    kv.setAvailable(false);
    // Both leases expire while the store's watch is stalled; the compaction drops the first expiry.
    await lastValueFrom(early.close());
    await lastValueFrom(late.close());
    await sleep(350);
    kv.compact();
    kv.setAvailable(true);
    await waitFor('the relist', () => synced.values.join(',') === 'true,false,true');
    expect(store.sharedKeys().size).toBe(0);
    expect(events.values.map((e) => `${e.type} ${e.name}`)).toEqual(['update early', 'update late', 'delete early', 'delete late']);
    expect(store.telemetry().lists).toBe(2);
    synced.stop();
    events.stop();
  });

  it('a lost lease is reported, replaced, and the keys come back under the new one', async () => {
    const kv = createMemoryKv();
    const backend = memoryBackend({ kv, leaseTtl: 150 });
    const sessions = record<KvSessionEvent>(backend.session$);
    const prefix = freshPrefix();
    const store = keep(await joinSharedStore({ prefix, codec: itemCodec, backend, deleteGracePeriod: 0, logger: silentLogger }));
    await store.updateLocalKeySync({ name: 'k', value: '1' });
    const first = backend.currentLease;
    kv.setAvailable(false); // keep-alives fail; the lease expires
    await sleep(300);
    kv.setAvailable(true);
    await waitFor('a new lease', () => backend.currentLease !== undefined && backend.currentLease !== first);
    expect(sessions.values.map((s) => s.type)).toEqual(['granted', 'lost', 'granted']);
    await waitFor('the key back', () => store.sharedKeys().get('k')?.value === '1');
    expect((await lastValueFrom(backend.get(`${prefix}/k`)))?.lease).toBe(backend.currentLease);
    sessions.stop();
    await store.close();
    await lastValueFrom(backend.close());
  });

  it('without a backend, stores of one process share the process-wide memory store', async () => {
    const prefix = freshPrefix('default');
    const a = keep(await joinSharedStore({ prefix, codec: itemCodec, logger: silentLogger }));
    const b = keep(await joinSharedStore({ prefix, codec: itemCodec, logger: silentLogger }));
    await a.updateLocalKeySync({ name: 'x', value: '1' });
    expect(cacheOf(b.sharedKeys())).toEqual({ x: '1' });
    await a.close();
    expect(b.sharedKeys().has('x')).toBe(false);
    expect((await lastValueFrom(memoryBackend({ kv: processMemoryKv() }).list(`${prefix}/`))).entries).toEqual([]);
  });
});
