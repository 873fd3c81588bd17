/**
 * etcd stalls (SIGSTOP) for longer than the session lease's TTL while a collaborator writes: the
 * lease that etcd expired is lost once, by its own id; one new lease carries every key; an
 * observer (with a delete grace period) is never told that a live key went.
 */
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { KvSessionEvent } from '../../src/kvstore/index.js';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { cacheOf, freshPrefix, record, sleep, waitFor } from './helpers.js';

const skip = etcdUnavailableReason();
const TTL = 2000;
const KEYS = 200;
const LANES = 32;

describe.skipIf(skip !== undefined)('etcd stalls', () => {
  const suite = useEtcdSuite({ leaseTtl: TTL, maxReconnectDelay: 500, synchronizationInterval: 600_000 });

  it('a stall longer than the TTL with writes in flight: one lease lost, by its own id; one new lease carries the keys; no delete reaches an observer', async () => {
    const prefix = freshPrefix('stall');
    const backend = suite.backend();
    const sessions = record<KvSessionEvent>(backend.session$);
    const writer = await suite.join(prefix, backend, 'writer');
    const observer = await suite.join(prefix, suite.backend(), 'observer', { deleteGracePeriod: 2500 });
    await Promise.all(Array.from({ length: KEYS }, (_, i) => writer.updateLocalKeySync({ name: `k${i}`, value: 'v0' })));
    await waitFor('the observer to hold every key', () => observer.sharedKeys().size === KEYS);
    const events = record(observer.events$);

    // Writes keep coming before, during and after the stall; a failed one stays a local key.
    let running = true;
    let next = 0;
    const lane = async (): Promise<void> => {
      while (running) {
        const n = next++;
        const item = { name: `k${n % KEYS}`, value: `v${n}` };
        await writer.updateLocalKeySync(item).catch(async () => {
          writer.updateLocalKey(item);
          await sleep(50); // a failure can come at once (etcd3's circuit breaker): no busy loop
        });
      }
    };
    const lanes = Promise.all(Array.from({ length: LANES }, lane));
    await sleep(300);
    suite.etcd.pause();
    await sleep(TTL * 1.6);
    suite.etcd.resume();
    await sleep(3000);
    running = false;
    await lanes;
    await writer.sync();

    const expected = cacheOf(writer.localKeys());
    const onOneLease = async (): Promise<boolean> => {
      const { entries } = await lastValueFrom(suite.admin.list(`${prefix}/`));
      const leases = new Set(entries.map((e) => e.lease));
      const truth = await suite.truth(prefix);
      return JSON.stringify(truth) === JSON.stringify(sorted(expected)) && leases.size === 1;
    };
    await waitFor('etcd to hold every key on one lease', onOneLease, 20_000);
    // The keys stay: their lease is kept alive (not a lease the backend let go of).
    await sleep(TTL * 2);
    expect(await onOneLease()).toBe(true);
    const { entries } = await lastValueFrom(suite.admin.list(`${prefix}/`));
    const granted = sessions.values.filter((s) => s.type === 'granted').map((s) => s.lease);
    const lost = sessions.values.filter((s) => s.type === 'lost').map((s) => s.lease);
    expect(entries[0]?.lease).toBe(granted.at(-1));
    expect(new Set(lost).size).toBe(lost.length); // each lease lost once
    for (const id of lost) expect(granted).toContain(id); // by its own id
    expect(lost).not.toContain(granted.at(-1));
    expect(lost.length).toBeLessThanOrEqual(1);
    expect(granted.length).toBeLessThanOrEqual(2);
    await waitFor('the observer to follow etcd', () => JSON.stringify(sorted(cacheOf(observer.sharedKeys()))) === JSON.stringify(sorted(expected)), 10_000);
    expect(events.values.filter((e) => e.type === 'delete').map((e) => e.name)).toEqual([]);
    events.stop();
    sessions.stop();
  }, 90_000);
});

function sorted(m: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1)));
}
