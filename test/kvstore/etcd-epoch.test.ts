/**
 * etcd loses its data (killed, its data directory removed, started empty on the same ports): its
 * revision counter starts again below what the collaborators saw. The stores notice the new epoch,
 * list again, write their own keys again, and a change by one reaches the others.
 */
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { SharedStoreHealth } from '../../src/kvstore/index.js';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { cacheOf, freshPrefix, record, waitFor } from './helpers.js';

const skip = etcdUnavailableReason();

describe.skipIf(skip !== undefined)('etcd loses its data', () => {
  const suite = useEtcdSuite({ leaseTtl: 2000, maxReconnectDelay: 500, synchronizationInterval: 600_000 });

  it('restarted empty: the caches relist, own keys are written again, and a change by one collaborator reaches the other', async () => {
    const prefix = freshPrefix('epoch');
    // Health checks often enough that each backend sees the churn's revisions before the wipe: the
    // watches themselves see no event of it (it is outside their prefix).
    const a = await suite.join(prefix, suite.backend(undefined, { healthCheckInterval: 100 }), 'a');
    const b = await suite.join(prefix, suite.backend(undefined, { healthCheckInterval: 100 }), 'b');
    await a.updateLocalKeySync({ name: 'a1', value: '1' });
    await a.updateLocalKeySync({ name: 'a2', value: '1' });
    await b.updateLocalKeySync({ name: 'b1', value: '1' });
    // Revisions well above what the empty etcd will reach in this test.
    for (let i = 0; i < 100; i++) await lastValueFrom(suite.admin.put('test/churn', String(i)));
    await waitFor('both caches to hold the 3 keys', () => a.sharedKeys().size === 3 && b.sharedKeys().size === 3);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const health = record<SharedStoreHealth>(b.health$);
    const listsBefore = b.telemetry().lists;

    await suite.etcd.wipe();

    const expected = { a1: '1', a2: '1', b1: '1' };
    await waitFor('etcd to hold every collaborator’s keys again', async () => JSON.stringify(await suite.truth(prefix)) === JSON.stringify(expected), 20_000);
    await waitFor('both stores synced again', () => health.values.at(-1)?.state === 'synced' && b.telemetry().lists > listsBefore, 20_000);
    expect(health.values.map((h) => h.state)).toContain('relisting');

    await a.updateLocalKeySync({ name: 'a1', value: '2' });
    await b.updateLocalKeySync({ name: 'b2', value: '1' });
    const after = { a1: '2', a2: '1', b1: '1', b2: '1' };
    await waitFor('each change to reach the other collaborator', () => JSON.stringify(sorted(cacheOf(a.sharedKeys()))) === JSON.stringify(after) && JSON.stringify(sorted(cacheOf(b.sharedKeys()))) === JSON.stringify(after), 10_000);
    expect(await suite.truth(prefix)).toEqual(after);
    health.stop();
  }, 60_000);
});

function sorted(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1)));
}
