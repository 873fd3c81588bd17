/**
 * The shared store's health against a real etcd (test/services/etcd.ts): an outage after the join
 * turns `synced$` false and back true, a write made during it lands soon after etcd is back (the
 * periodic synchronization is 10 min away), and a join that times out names the root cause.
 */
import { describe, expect, it } from 'vitest';
import { KvJoinTimeoutError, KvUnavailableError, joinSharedStore } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { freePort } from '../services/availability.js';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { cacheOf, freshPrefix, itemCodec, record, waitFor } from './helpers.js';
import { type TcpProxy, startTcpProxy } from './tcp-proxy.js';

const skip = etcdUnavailableReason();
const TEN_MINUTES = 600_000;

describe.skipIf(skip !== undefined)('shared store health against a real etcd', () => {
  const suite = useEtcdSuite({ leaseTtl: 10_000, maxReconnectDelay: 500, synchronizationInterval: TEN_MINUTES });

  it('etcd stops after the join: synced$ goes false with the connection error and true once etcd is back; the writes made meanwhile land soon after, not at the 10-minute sync', async () => {
    const prefix = freshPrefix('outage');
    const store = await suite.join(prefix, suite.backend(), 'a');
    await store.updateLocalKeySync({ name: 'before', value: '1' });
    await store.updateLocalKeySync({ name: 'gone', value: '1' });
    const synced = record(store.synced$);
    const health = record(store.health$);

    await suite.etcd.halt();
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

    await suite.etcd.start();
    await waitFor('synced$ to turn true again', () => synced.values.at(-1) === true, 30_000);
    // What could not be written during the outage is in etcd soon after it, without the 10-minute sync.
    await waitFor('the writes and the delete made during the outage in etcd', async () => JSON.stringify(await suite.truth(prefix)) === JSON.stringify({ before: '2', during: '1' }), 10_000);
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
    const proxy: TcpProxy = await startTcpProxy(suite.etcd.endpoint);
    try {
      const store = await suite.join(prefix, suite.backend(proxy.endpoint), 'a');
      const synced = record(store.synced$);
      proxy.cut();
      await waitFor('synced$ to turn false', () => synced.values.at(-1) === false);
      await expect(store.updateLocalKeySync({ name: 'k', value: '1' })).rejects.toBeInstanceOf(KvUnavailableError);
      store.updateLocalKey({ name: 'k', value: '1' });
      proxy.restore();
      await waitFor('synced$ to turn true again', () => synced.values.at(-1) === true, 30_000);
      expect(await suite.truth(prefix)).toEqual({ k: '1' });
      expect(synced.values).toEqual([true, false, true]);
      synced.stop();
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('a join that times out names the root cause (ECONNREFUSED), not etcd3’s circuit breaker', async () => {
    const port = await freePort(); // nothing listens there
    const error = await joinSharedStore({ prefix: freshPrefix('refused'), codec: itemCodec, backend: suite.backend(`http://127.0.0.1:${port}`), joinTimeout: 3000, retryDelay: 100, logger: silentLogger }).catch(
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
    await suite.etcd.halt();
    const error = await joinSharedStore({ prefix: freshPrefix('down'), codec: itemCodec, backend: suite.backend(), joinTimeout: 3000, retryDelay: 100, logger: silentLogger }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KvJoinTimeoutError);
    expect((error as Error).message).toMatch(/ECONNREFUSED 127\.0\.0\.1:\d+/);
  }, 30_000);
});
