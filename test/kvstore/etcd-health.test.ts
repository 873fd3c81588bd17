/**
 * The shared store's health against a real etcd (test/services/etcd.ts): an outage after the join
 * turns `synced$` false and back true, a write made during it lands soon after etcd is back (the
 * periodic synchronization is 10 min away), and a join that times out names the root cause.
 */
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type EtcdBackend, etcdBackend } from '../../src/kvstore/etcd.js';
import { KvJoinTimeoutError, KvUnavailableError, type SharedStore, joinSharedStore } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../services/availability.js';
import { type EtcdServer, etcdUnavailableReason, startEtcd } from '../services/etcd.js';
import { type Item, cacheOf, freshPrefix, itemCodec, record, waitFor } from './helpers.js';
import { type TcpProxy, startTcpProxy } from './tcp-proxy.js';

const skip = etcdUnavailableReason();
const TEN_MINUTES = 600_000;

describe.skipIf(skip !== undefined)('shared store health against a real etcd', () => {
  let etcd: EtcdServer;
  let admin: EtcdBackend;
  const backends: EtcdBackend[] = [];
  const stores: SharedStore<Item>[] = [];
  const backend = (hosts = etcd.endpoint): EtcdBackend => {
    const b = etcdBackend({ hosts, leaseTtl: 10_000, callTimeout: 1000, retryDelay: 100, maxReconnectDelay: 500, logger: silentLogger });
    backends.push(b);
    return b;
  };
  const join = async (prefix: string, b: EtcdBackend): Promise<SharedStore<Item>> => {
    const store = await joinSharedStore({ prefix, codec: itemCodec, backend: b, name: 'a', logger: silentLogger, synchronizationInterval: TEN_MINUTES, deleteGracePeriod: 0, retryDelay: 100 });
    stores.push(store);
    return store;
  };
  /** What etcd holds under the prefix, name -> value. */
  const truth = async (prefix: string): Promise<Record<string, string>> => {
    const { entries } = await lastValueFrom(admin.list(`${prefix}/`));
    return Object.fromEntries(entries.map((e) => [e.key.slice(prefix.length + 1), itemCodec.decode(e.value, '').value]));
  };

  beforeAll(async () => {
    etcd = await startEtcd();
    admin = etcdBackend({ hosts: etcd.endpoint });
  });
  afterEach(async () => {
    await etcd.start(); // a case that failed half-way may have left it down
    await Promise.allSettled(stores.splice(0).map((s) => s.release()));
    await Promise.allSettled(backends.splice(0).map((b) => lastValueFrom(b.close({ revoke: true }), { defaultValue: undefined })));
  });
  afterAll(async () => {
    await lastValueFrom(admin.close(), { defaultValue: undefined });
    await etcd.stop();
  });

  it('etcd stops after the join: synced$ goes false with the connection error and true once etcd is back; the writes made meanwhile land soon after, not at the 10-minute sync', async () => {
    const prefix = freshPrefix('outage');
    const store = await join(prefix, backend());
    await store.updateLocalKeySync({ name: 'before', value: '1' });
    await store.updateLocalKeySync({ name: 'gone', value: '1' });
    const synced = record(store.synced$);
    const health = record(store.health$);

    await etcd.halt();
    await waitFor('synced$ to turn false', () => synced.values.at(-1) === false);
    const down = health.values.at(-1);
    expect(down?.state).toBe('disconnected');
    expect(down?.lastError).toBeInstanceOf(KvUnavailableError);
    await waitFor('the last error to name the refused connection', () => /ECONNREFUSED/.test(health.values.at(-1)?.lastError?.message ?? ''));

    // Writes made during the outage: they fail, the caller keeps the keys as local keys.
    await expect(store.updateLocalKeySync({ name: 'during', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
    store.updateLocalKey({ name: 'during', value: '1' });
    store.updateLocalKey({ name: 'before', value: '2' });
    await expect(store.deleteLocalKey({ name: 'gone', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
    expect(synced.values.at(-1)).toBe(false);

    await etcd.start();
    await waitFor('synced$ to turn true again', () => synced.values.at(-1) === true, 30_000);
    // What could not be written during the outage is in etcd soon after it, without the 10-minute sync.
    await waitFor('the writes and the delete made during the outage in etcd', async () => JSON.stringify(await truth(prefix)) === JSON.stringify({ before: '2', during: '1' }), 10_000);
    expect(synced.values).toEqual([true, false, true]);
    expect(health.values.map((h) => h.state)).toEqual(expect.arrayContaining(['synced', 'disconnected', 'resyncing']));
    expect(health.values.at(-1)).toEqual({ state: 'synced' });
    await waitFor('the cache to follow etcd', () => JSON.stringify(cacheOf(store.sharedKeys())) === JSON.stringify({ before: '2', during: '1' }));
    const t = store.telemetry();
    expect(t.disconnects).toBe(1);
    expect(t.retries).toBeGreaterThanOrEqual(2); // 'during' and the delete of 'gone'
    expect(t.syncs).toBeGreaterThanOrEqual(1); // the resync after the outage...
    expect(t.syncs).toBeLessThanOrEqual(2); // ...not a periodic one (and at most one more reconnect)
    synced.stop();
    health.stop();
  }, 90_000);

  it('a cut connection (TCP proxy) is an outage too: disconnected while cut, synced after restore, and the write made meanwhile lands', async () => {
    const prefix = freshPrefix('cut');
    const proxy: TcpProxy = await startTcpProxy(etcd.endpoint);
    try {
      const store = await join(prefix, backend(proxy.endpoint));
      const synced = record(store.synced$);
      proxy.cut();
      await waitFor('synced$ to turn false', () => synced.values.at(-1) === false);
      await expect(store.updateLocalKeySync({ name: 'k', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
      store.updateLocalKey({ name: 'k', value: '1' });
      proxy.restore();
      await waitFor('synced$ to turn true again', () => synced.values.at(-1) === true, 30_000);
      expect(await truth(prefix)).toEqual({ k: '1' });
      expect(synced.values).toEqual([true, false, true]);
      synced.stop();
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('a join that times out names the root cause (ECONNREFUSED), not etcd3’s circuit breaker', async () => {
    const port = await freePort(); // nothing listens there
    const error = await joinSharedStore({ prefix: freshPrefix('refused'), codec: itemCodec, backend: backend(`http://127.0.0.1:${port}`), joinTimeout: 3000, retryDelay: 100, logger: silentLogger }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KvJoinTimeoutError);
    const message = (error as Error).message;
    expect(message).toMatch(/did not list it within 3000 ms/);
    expect(message).toContain(`ECONNREFUSED 127.0.0.1:${port}`);
    expect(message).not.toMatch(/Execution prevented because the circuit breaker is open/);
    // The cause chain leads to etcd3's connection error.
    const cause = (error as Error).cause;
    expect(cause).toBeInstanceOf(KvUnavailableError);
    expect(String((cause as Error).cause)).toContain('ECONNREFUSED');
  }, 30_000);

  it('a join while etcd is down names the refused connection', async () => {
    await etcd.halt();
    const error = await joinSharedStore({ prefix: freshPrefix('down'), codec: itemCodec, backend: backend(), joinTimeout: 3000, retryDelay: 100, logger: silentLogger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KvJoinTimeoutError);
    expect((error as Error).message).toMatch(/ECONNREFUSED 127\.0\.0\.1:\d+/);
  }, 30_000);
});
