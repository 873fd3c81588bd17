/**
 * How a shared store writes over a real etcd: local keys in transactions of up to 128 puts, a key
 * updated again before it is written is written once, and a burst of every collaborator's keys at
 * once lands whole — nothing rejected — on an etcd with a short call deadline.
 */
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { freshPrefix, waitFor } from './helpers.js';

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
