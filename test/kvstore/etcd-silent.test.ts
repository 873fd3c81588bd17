/**
 * etcd goes silent without an error (SIGSTOP: its connections stay open, nothing answers): a store
 * that is not writing leaves `synced` within a bounded time (the etcd backend's health check), and
 * comes back to `synced` when etcd runs again.
 */
import { describe, expect, it } from 'vitest';
import { etcdBackend } from '../../src/kvstore/etcd.js';
import { KvUnavailableError } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { freshPrefix, record, waitFor } from './helpers.js';

const skip = etcdUnavailableReason();
const CHECK_INTERVAL = 500;
const CHECK_TIMEOUT = 1000;

describe.skipIf(skip !== undefined)('a silent etcd', () => {
  const suite = useEtcdSuite({ leaseTtl: 10_000, maxReconnectDelay: 500, synchronizationInterval: 600_000 });

  it('stalled (SIGSTOP) with no call under way: health leaves synced within interval + timeout, and is synced again once etcd runs', async () => {
    const prefix = freshPrefix('silent');
    const backend = etcdBackend({ hosts: suite.etcd.endpoint, healthCheckInterval: CHECK_INTERVAL, healthCheckTimeout: CHECK_TIMEOUT, maxReconnectDelay: 500, logger: silentLogger });
    suite.adopt(backend);
    const store = await suite.join(prefix, backend, 'a');
    await store.updateLocalKeySync({ name: 'k', value: '1' });
    const health = record(store.health$);
    expect(health.values.at(-1)?.state).toBe('synced');

    suite.etcd.pause();
    const paused = Date.now();
    await waitFor('health to leave synced', () => health.values.at(-1)?.state !== 'synced', 10_000);
    const noticed = Date.now() - paused;
    const down = health.values.at(-1);
    expect(down?.state).toBe('disconnected');
    expect(down?.lastError).toBeInstanceOf(KvUnavailableError);
    // One check may have just started when etcd stopped: it fails at its timeout, and the next one
    // at most an interval + a timeout later (plus the test's polling).
    expect(noticed).toBeLessThan(CHECK_INTERVAL + 2 * CHECK_TIMEOUT + 1000);

    suite.etcd.resume();
    await waitFor('health to be synced again', () => health.values.at(-1)?.state === 'synced', 15_000);
    expect(store.sharedKeys().get('k')?.value).toBe('1');
    health.stop();
  }, 40_000);
});
