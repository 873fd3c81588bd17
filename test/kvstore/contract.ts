import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  KvCompactedError,
  KvConfigError,
  KvConflictError,
  KvDecodeError,
  KvStoreClosedError,
  type KvBackend,
  type SharedStore,
  joinSharedStore,
} from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { type Item, cacheOf, freshPrefix, itemCodec, record, recordingLogger, sleep, waitFor } from './helpers.js';

/** A key-value server under test: clients (each a session with its own lease) and compaction. */
export interface KvUnderTest {
  /** A new client session on the server. */
  backend(leaseTtl: number): KvBackend;
  /** Drops the watch history before `revision`. */
  compact(revision: number): Promise<void>;
  close(): Promise<void>;
}

/** The lease TTL of the cases, ms (etcd's smallest is 1 s). */
export interface ContractOptions {
  readonly leaseTtl: number;
  /** fast-check runs of the convergence property. */
  readonly numRuns: number;
}

/**
 * The contract every {@link KvBackend} keeps, and the shared store's behaviour over it, as one suite
 * to run against the memory backend and against etcd.
 */
export function kvContract(name: string, make: () => Promise<KvUnderTest>, options: ContractOptions): void {
  const ttl = options.leaseTtl;
  describe(`kvstore contract: ${name}`, () => {
    let under: KvUnderTest | undefined;
    const opened: KvBackend[] = [];
    const stores: SharedStore<Item>[] = [];
    const server = (): KvUnderTest => {
      if (under === undefined) throw new Error('server not started');
      return under;
    };
    const client = (leaseTtl = ttl): KvBackend => {
      const backend = server().backend(leaseTtl);
      opened.push(backend);
      return backend;
    };
    const join = async (prefix: string, backend: KvBackend, extra: { deleteGracePeriod?: number; synchronizationInterval?: number; name?: string } = {}): Promise<SharedStore<Item>> => {
      const store = await joinSharedStore({ prefix, codec: itemCodec, backend, logger: silentLogger, deleteGracePeriod: 0, ...extra });
      stores.push(store);
      return store;
    };

    beforeAll(async () => {
      under = await make();
    });
    afterEach(async () => {
      await Promise.allSettled(stores.splice(0).map((s) => s.release()));
      await Promise.allSettled(opened.splice(0).map((b) => lastValueFrom(b.close({ revoke: true }), { defaultValue: undefined })));
    });
    afterAll(async () => {
      await under?.close();
    });

    describe('backend', () => {
      it('lists what was put, at a revision from which a watch sees every later change in order', async () => {
        const b = client();
        const p = `${freshPrefix('raw')}/`;
        await lastValueFrom(b.put(`${p}a`, '1'));
        await lastValueFrom(b.put(`${p}b`, '2'));
        await lastValueFrom(b.put(`${freshPrefix('other')}/x`, 'not listed'));
        const listing = await lastValueFrom(b.list(p));
        expect(listing.entries.map((e) => [e.key, e.value])).toEqual([
          [`${p}a`, '1'],
          [`${p}b`, '2'],
        ]);
        const events = firstValueFrom(b.watch(p, listing.revision + 1).pipe(take(3), toArray()));
        await lastValueFrom(b.put(`${p}a`, '3'));
        await lastValueFrom(b.delete(`${p}b`));
        await lastValueFrom(b.put(`${p}c`, '4'));
        const seen = await events;
        expect(seen.map((e) => (e.type === 'put' ? `put ${e.key} ${e.value}` : `delete ${e.key}`))).toEqual([`put ${p}a 3`, `delete ${p}b`, `put ${p}c 4`]);
        expect(seen.map((e) => e.revision)).toEqual([...seen.map((e) => e.revision)].sort((x, y) => x - y));
        expect(seen[0]!.revision).toBeGreaterThan(listing.revision);
        await expect(lastValueFrom(b.get(`${p}a`))).resolves.toMatchObject({ key: `${p}a`, value: '3' });
        await expect(lastValueFrom(b.get(`${p}b`))).resolves.toBeUndefined();
      });

      it('put-if-different writes only a new value or a key without the session lease', async () => {
        const b = client();
        const key = `${freshPrefix('pid')}/k`;
        expect((await lastValueFrom(b.putIfDifferent(key, 'v', { lease: true }))).changed).toBe(true);
        expect((await lastValueFrom(b.putIfDifferent(key, 'v', { lease: true }))).changed).toBe(false);
        expect((await lastValueFrom(b.putIfDifferent(key, 'w', { lease: true }))).changed).toBe(true);
        await lastValueFrom(b.put(key, 'w'));
        // Same value, but no longer bound to the lease: re-attached.
        expect((await lastValueFrom(b.putIfDifferent(key, 'w', { lease: true }))).changed).toBe(true);
        expect((await lastValueFrom(b.get(key)))?.lease).toBeDefined();
      });

      it('compare-and-put writes at the expected revision and fails with a conflict otherwise', async () => {
        const b = client();
        const key = `${freshPrefix('cas')}/k`;
        const created = await lastValueFrom(b.compareAndPut(key, '1', 0));
        await expect(lastValueFrom(b.compareAndPut(key, '2', 0))).rejects.toBeInstanceOf(KvConflictError);
        const error = await lastValueFrom(b.compareAndPut(key, '2', created.revision - 1)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(KvConflictError);
        expect((error as KvConflictError).actualModRevision).toBe(created.revision);
        await lastValueFrom(b.compareAndPut(key, '3', created.revision));
        expect((await lastValueFrom(b.get(key)))?.value).toBe('3');
      });

      it('a delete says whether there was a key', async () => {
        const b = client();
        const key = `${freshPrefix('del')}/k`;
        await lastValueFrom(b.put(key, 'x'));
        expect((await lastValueFrom(b.delete(key))).changed).toBe(true);
        expect((await lastValueFrom(b.delete(key))).changed).toBe(false);
      });

      it('a watch from a compacted revision fails with KvCompactedError', async () => {
        const b = client();
        const p = `${freshPrefix('compact')}/`;
        const first = await lastValueFrom(b.put(`${p}a`, '1'));
        const second = await lastValueFrom(b.put(`${p}a`, '2'));
        await server().compact(second.revision);
        await expect(lastValueFrom(b.watch(p, first.revision))).rejects.toBeInstanceOf(KvCompactedError);
      });

      it('leased keys go when the session ends without revoking, once the lease expires', async () => {
        const observer = client();
        const dying = client();
        const p = `${freshPrefix('lease')}/`;
        await lastValueFrom(dying.put(`${p}leased`, '1', { lease: true }));
        await lastValueFrom(dying.put(`${p}plain`, '2'));
        await lastValueFrom(dying.close());
        // The lease was renewed less than a third of its TTL ago: the key is still there.
        expect((await lastValueFrom(observer.list(p))).entries.map((e) => e.key)).toEqual([`${p}leased`, `${p}plain`]);
        await waitFor('the leased key to expire', async () => (await lastValueFrom(observer.list(p))).entries.length === 1, ttl * 3 + 5000);
        expect((await lastValueFrom(observer.list(p))).entries.map((e) => e.key)).toEqual([`${p}plain`]);
      });

      it('close with revoke deletes the leased keys at once', async () => {
        const observer = client();
        const b = client();
        const p = `${freshPrefix('revoke')}/`;
        await lastValueFrom(b.put(`${p}k`, '1', { lease: true }));
        await lastValueFrom(b.close({ revoke: true }));
        expect((await lastValueFrom(observer.list(p))).entries).toEqual([]);
      });
    });

    describe('shared store', () => {
      it('checks its configuration', async () => {
        const b = client();
        await expect(joinSharedStore({ prefix: '', codec: itemCodec, backend: b })).rejects.toBeInstanceOf(KvConfigError);
        await expect(joinSharedStore({ prefix: 'x', codec: undefined as unknown as typeof itemCodec, backend: b })).rejects.toMatchObject({ tag: 'KvConfig', field: 'codec' });
        await expect(joinSharedStore({ prefix: 'x', codec: itemCodec, backend: b, synchronizationInterval: 0 })).rejects.toMatchObject({ field: 'synchronizationInterval' });
      });

      it('joins with what is already stored, and collaborators see each other’s keys', async () => {
        const prefix = freshPrefix();
        const seed = client();
        await lastValueFrom(seed.put(`${prefix}/old`, itemCodec.encode({ name: 'old', value: 'o' })));
        const a = await join(prefix, client(), { name: 'a' });
        expect(cacheOf(a.sharedKeys())).toEqual({ old: 'o' });
        const b = await join(prefix, client(), { name: 'b' });
        await a.updateLocalKeySync({ name: 'a1', value: 'x' });
        await b.updateLocalKeySync({ name: 'b1', value: 'y' });
        const all = { old: 'o', a1: 'x', b1: 'y' };
        await waitFor('both caches to hold every key', () => eq(cacheOf(a.sharedKeys()), all) && eq(cacheOf(b.sharedKeys()), all));
        expect(cacheOf(a.localKeys())).toEqual({ a1: 'x' });
        // sharedKeys() is a copy.
        a.sharedKeys().clear();
        expect(a.sharedKeys().size).toBe(3);
      });

      it('events$ starts with what it holds, then streams updates and deletes, its own keys included', async () => {
        const prefix = freshPrefix();
        const a = await join(prefix, client(), { name: 'a' });
        const b = await join(prefix, client(), { name: 'b' });
        await a.updateLocalKeySync({ name: 'a1', value: '1' });
        await waitFor('a1 in the cache of a', () => a.sharedKeys().has('a1'));
        const events = record(a.events$);
        expect(events.values).toEqual([{ type: 'update', name: 'a1', key: { name: 'a1', value: '1' } }]);
        await b.updateLocalKeySync({ name: 'b1', value: '2' });
        await a.updateLocalKeySync({ name: 'a1', value: '3' });
        await b.deleteLocalKey({ name: 'b1', value: '2' });
        await waitFor('four events', () => events.values.length >= 4);
        expect(events.values.map((e) => `${e.type} ${e.name} ${e.key.value}`)).toEqual(['update a1 1', 'update b1 2', 'update a1 3', 'delete b1 2']);
        events.stop();
      });

      it('updateLocalKey is written at the next synchronization', async () => {
        const prefix = freshPrefix();
        const a = await join(prefix, client(), { synchronizationInterval: 200 });
        const observer = await join(prefix, client());
        a.updateLocalKey({ name: 'later', value: 'v' });
        expect(a.localKeys().has('later')).toBe(true);
        await waitFor('the key to be written by the interval', () => observer.sharedKeys().get('later')?.value === 'v');
      });

      it('updateKeySync writes without owning the key', async () => {
        const prefix = freshPrefix();
        const a = await join(prefix, client());
        await a.updateKeySync({ name: 'loose', value: 'v' });
        expect(a.localKeys().size).toBe(0);
        await waitFor('the key in the cache', () => a.sharedKeys().has('loose'));
      });

      it('a foreign delete of a local key is written back', async () => {
        const prefix = freshPrefix();
        const a = await join(prefix, client(), { synchronizationInterval: 300 });
        await a.updateLocalKeySync({ name: 'mine', value: 'v' });
        const foreign = client();
        await lastValueFrom(foreign.delete(`${prefix}/mine`));
        await waitFor('the key to be written back', async () => (await lastValueFrom(foreign.get(`${prefix}/mine`)))?.value === itemCodec.encode({ name: 'mine', value: 'v' }));
        await waitFor('the key back in the cache', () => a.sharedKeys().get('mine')?.value === 'v');
        // The put's answer reaches this collaborator after etcd has applied it (others may read it first).
        await waitFor('the repair counted', () => a.telemetry().repairs >= 1);
      });

      it('a remote delete is delivered after the grace period, and not at all if the key comes back in it', async () => {
        const prefix = freshPrefix();
        const watcher = await join(prefix, client(), { deleteGracePeriod: 400 });
        const owner = await join(prefix, client());
        await owner.updateLocalKeySync({ name: 'flap', value: 'v' });
        await owner.updateLocalKeySync({ name: 'gone', value: 'v' });
        await waitFor('both keys seen', () => watcher.sharedKeys().size === 2);
        const events = record(watcher.events$);
        const burst = events.values.length;
        await owner.deleteLocalKey({ name: 'flap', value: 'v' });
        await owner.deleteLocalKey({ name: 'gone', value: 'v' });
        await waitFor('the cache to lose both', () => watcher.sharedKeys().size === 0);
        await owner.updateLocalKeySync({ name: 'flap', value: 'v' });
        await waitFor('the delete of gone', () => events.values.length > burst);
        await sleep(600); // past the grace period of flap's delete too
        expect(events.values.slice(burst).map((e) => `${e.type} ${e.name}`)).toEqual(['delete gone']);
        expect(watcher.sharedKeys().has('flap')).toBe(true);
        events.stop();
      });

      it('close deletes the keys it owns and delivers their deletes; release leaves them', async () => {
        const prefix = freshPrefix();
        const observer = await join(prefix, client());
        const closing = await join(prefix, client());
        const releasing = await join(prefix, client());
        await closing.updateLocalKeySync({ name: 'c', value: '1' });
        await releasing.updateLocalKeySync({ name: 'r', value: '2' });
        await waitFor('both keys seen', () => observer.sharedKeys().size === 2);
        const events = record(closing.events$);
        await closing.close();
        expect(events.values.filter((e) => e.type === 'delete').map((e) => e.name)).toEqual(['c']);
        expect(events.done()).toBe(true);
        await releasing.release();
        await waitFor('c to leave the observer', () => !observer.sharedKeys().has('c'));
        expect(observer.sharedKeys().has('r')).toBe(true);
        await expect(closing.updateLocalKeySync({ name: 'x', value: 'y' })).rejects.toBeInstanceOf(KvStoreClosedError);
      });

      it('a collaborator that stops without close loses its keys when its lease expires, and only then', async () => {
        const prefix = freshPrefix();
        const observer = await join(prefix, client());
        const dyingBackend = client();
        const dying = await join(prefix, dyingBackend);
        await dying.updateLocalKeySync({ name: 'd', value: '1' });
        await waitFor('d seen', () => observer.sharedKeys().has('d'));
        await dying.release();
        await lastValueFrom(dyingBackend.close()); // keep-alive stops; no revoke
        expect(observer.sharedKeys().has('d')).toBe(true);
        await waitFor('d to expire with the lease', () => !observer.sharedKeys().has('d'), ttl * 3 + 5000);
      });

      it('a value that does not decode is reported and skipped; the store goes on', async () => {
        const prefix = freshPrefix();
        const logger = recordingLogger();
        const raw = client();
        await lastValueFrom(raw.put(`${prefix}/bad`, 'not json'));
        const store = await joinSharedStore({ prefix, codec: itemCodec, backend: client(), logger, deleteGracePeriod: 0 });
        stores.push(store);
        const errors = record(store.errors$);
        await lastValueFrom(raw.put(`${prefix}/worse`, '{"name":1}'));
        await lastValueFrom(raw.put(`${prefix}/good`, itemCodec.encode({ name: 'good', value: 'g' })));
        await waitFor('good in the cache', () => store.sharedKeys().has('good'));
        expect([...store.sharedKeys().keys()]).toEqual(['good']);
        expect(store.telemetry().decodeErrors).toBe(2);
        expect(errors.values).toHaveLength(1);
        expect(errors.values[0]).toBeInstanceOf(KvDecodeError);
        expect(logger.lines.filter((l) => l.message.includes('does not decode'))).toHaveLength(2);
        errors.stop();
      });

      it('property: for random updates and deletes by several collaborators at once, every cache converges to the model', async () => {
        const op = fc.record({
          who: fc.integer({ min: 0, max: 2 }),
          key: fc.integer({ min: 0, max: 3 }),
          value: fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined }),
        });
        await fc.assert(
          fc.asyncProperty(fc.array(op, { maxLength: 25 }), async (ops) => {
            const prefix = freshPrefix('prop');
            const members = await Promise.all([0, 1, 2].map(() => join(prefix, client())));
            // Each collaborator runs its own operations in order; the three run at once, interleaved.
            const model = new Map<string, string>();
            for (const { who, key, value } of ops) {
              if (value === undefined) model.delete(`m${who}-k${key}`);
              else model.set(`m${who}-k${key}`, value);
            }
            await Promise.all(
              members.map(async (store, who) => {
                for (const { key, value } of ops.filter((o) => o.who === who)) {
                  const name = `m${who}-k${key}`;
                  if (value === undefined) await store.deleteLocalKey({ name, value: '' });
                  else await store.updateLocalKeySync({ name, value });
                }
              }),
            );
            const expected = Object.fromEntries(model);
            await waitFor('every cache to equal the model', () => members.every((m) => eq(cacheOf(m.sharedKeys()), expected)), 15_000);
            for (const m of members) expect(cacheOf(m.sharedKeys())).toEqual(expected);
            await Promise.all(members.map((m) => m.close()));
          }),
          { numRuns: options.numRuns },
        );
      });
    });
  });
}

function eq(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k]);
}

