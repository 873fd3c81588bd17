/**
 * How a shared store writes over a real etcd: local keys in transactions of up to 128 puts, a key
 * updated again before it is written is written once, and a burst of every collaborator's keys at
 * once lands whole — nothing rejected — on an etcd with a short call deadline.
 */
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { etcdBackend } from '../../src/kvstore/etcd.js';
import type { KvSessionEvent } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { freshPrefix, record, waitFor } from './helpers.js';

const skip = etcdUnavailableReason();

describe.skipIf(skip !== undefined)('shared store writes over etcd', () => {
  const suite = useEtcdSuite({ leaseTtl: 10_000, maxReconnectDelay: 500, synchronizationInterval: 600_000 });

  const revision = async (): Promise<number> => (await lastValueFrom(suite.admin.list('no-such-prefix/'))).revision;

  it('local keys written at once go in transactions of up to 128 puts: 3 x 300 keys cost 9 revisions, not 900', async () => {
    const prefix = freshPrefix('batches');
    const stores = await Promise.all(['a', 'b', 'c'].map(async (name) => suite.join(prefix, suite.backend(), name)));
    const before = await revision();
    await Promise.all(stores.map(async (store, s) => Promise.all(Array.from({ length: 300 }, async (_, i) => store.updateLocalKeySync({ name: `s${s}-${i}`, value: '1' })))));
    const used = (await revision()) - before;
    expect(Object.keys(await suite.truth(prefix))).toHaveLength(900);
    expect(used).toBe(9); // ceil(300 / 128) = 3 transactions per collaborator
    await waitFor('every cache to hold every key', () => stores.every((s) => s.sharedKeys().size === 900));
    for (const store of stores) expect(store.localKeys().size).toBe(300);
  }, 30_000);

  it('updateLocalKeysSync: 3 collaborators x 1,000 keys, one call each, cost 24 transactions and every cache holds every key', async () => {
    const prefix = freshPrefix('bulk');
    const stores = await Promise.all(['a', 'b', 'c'].map(async (name) => suite.join(prefix, suite.backend(), name)));
    const before = await revision();
    await Promise.all(stores.map(async (store, s) => store.updateLocalKeysSync(Array.from({ length: 1000 }, (_, i) => ({ name: `s${s}-${i}`, value: String(i) })))));
    const used = (await revision()) - before;
    expect(Object.keys(await suite.truth(prefix))).toHaveLength(3000);
    // ceil(1000 / 128) = 8 transactions per collaborator (its 1,000 keys fit one lease: no batch goes in two).
    expect(used).toBe(24);
    await waitFor('every cache to hold every key', () => stores.every((s) => s.sharedKeys().size === 3000));
    for (const store of stores) expect(store.localKeys().size).toBe(1000);
  }, 30_000);

  it('a key updated again before it is written is written once, with its newest value; every caller is answered', async () => {
    const prefix = freshPrefix('coalesce');
    const store = await suite.join(prefix, suite.backend(), 'a');
    const calls = Array.from({ length: 50 }, async (_, i) => store.updateLocalKeySync({ name: 'k', value: String(i) }));
    await Promise.all(calls);
    const { kvs } = await suite.admin.client.get(`${prefix}/k`).exec();
    expect(kvs[0]?.version).toBe('1'); // one put
    expect(await suite.truth(prefix)).toEqual({ k: '49' });
    expect(store.localKeys().get('k')?.value).toBe('49');
  }, 30_000);

  it('keys per lease are capped: 250 keys with maxKeysPerLease 100 go on 3 leases (a 4th granted ahead); a lost one takes only its keys, written again on another', async () => {
    const prefix = freshPrefix('cap');
    const backend = etcdBackend({ hosts: suite.etcd.endpoint, leaseTtl: 10_000, callTimeout: 1000, retryDelay: 100, maxKeysPerLease: 100, logger: silentLogger });
    suite.adopt(backend);
    const sessions = record<KvSessionEvent>(backend.session$);
    const store = await suite.join(prefix, backend, 'a');
    await Promise.all(Array.from({ length: 250 }, async (_, i) => store.updateLocalKeySync({ name: `k${i}`, value: '1' })));
    const perLease = async (): Promise<Map<string | undefined, number>> => {
      const counts = new Map<string | undefined, number>();
      for (const e of (await lastValueFrom(suite.admin.list(`${prefix}/`))).entries) counts.set(e.lease, (counts.get(e.lease) ?? 0) + 1);
      return counts;
    };
    const before = await perLease();
    expect([...before.values()].sort((x, y) => x - y)).toEqual([50, 100, 100]);
    // A fourth lease, granted ahead once the third was half full, holds no key yet.
    const granted = sessions.values.flatMap((e) => (e.type === 'granted' ? [e.lease] : []));
    expect(granted).toHaveLength(4);
    const spare = granted.find((lease) => !before.has(lease));
    expect(spare).toBeDefined();

    // One lease revoked behind the backend's back: its 100 keys move to a new lease; the others stay.
    const [victim] = [...before].find(([, n]) => n === 100) ?? [];
    await suite.admin.client.leaseClient.leaseRevoke({ ID: victim ?? '0' });
    await waitFor('the backend to lose that lease', () => sessions.values.some((e) => e.type === 'lost'), 15_000);
    await waitFor('every key back', async () => Object.keys(await suite.truth(prefix)).length === 250, 15_000);
    const after = await perLease();
    expect(after.has(victim)).toBe(false);
    expect([...after.values()].every((n) => n <= 100)).toBe(true);
    expect(sessions.values.filter((e) => e.type === 'lost').map((e) => e.lease)).toEqual([victim]);
    // Its keys went on the lease granted ahead: no batch waited for a grant.
    expect(after.get(spare)).toBe(100);
    sessions.stop();
  }, 30_000);

  it('a burst: 3 collaborators x 3,000 keys at once, on calls with a 1 s deadline — nothing rejected, every key in etcd and every cache', async () => {
    const prefix = freshPrefix('burst');
    const stores = await Promise.all(['a', 'b', 'c'].map(async (name) => suite.join(prefix, suite.backend(), name)));
    const results = await Promise.allSettled(stores.flatMap((store, s) => Array.from({ length: 3000 }, async (_, i) => store.updateLocalKeySync({ name: `s${s}-${i}`, value: 'x'.repeat(64) }))));
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected.length).toBe(0);
    expect(Object.keys(await suite.truth(prefix))).toHaveLength(9000);
    await waitFor('every cache to hold every key', () => stores.every((s) => s.sharedKeys().size === 9000), 30_000);
  }, 90_000);
});
