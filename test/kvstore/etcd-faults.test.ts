import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { lastValueFrom } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { KvSessionEvent } from '../../src/kvstore/index.js';
import { etcdUnavailableReason } from '../services/etcd.js';
import { useEtcdSuite } from './etcd-suite.js';
import { cacheOf, freshPrefix, itemCodec, record, sleep, waitFor } from './helpers.js';
import { type TcpProxy, startTcpProxy } from './tcp-proxy.js';

const skip = etcdUnavailableReason();
const TTL = 2000;

describe.skipIf(skip !== undefined)('etcd faults', () => {
  const suite = useEtcdSuite({ leaseTtl: TTL, maxReconnectDelay: 1000, synchronizationInterval: 500 });

  it('converges after etcd stops and restarts while keys change; local keys are written back under new leases', async () => {
    const prefix = freshPrefix('restart');
    const aBackend = suite.backend();
    const sessions = record<KvSessionEvent>(aBackend.session$);
    const a = await suite.join(prefix, aBackend, 'a');
    const b = await suite.join(prefix, suite.backend(), 'b');
    await a.updateLocalKeySync({ name: 'a1', value: '1' });
    await a.updateLocalKeySync({ name: 'a2', value: '1' });
    await b.updateLocalKeySync({ name: 'b1', value: '1' });
    await waitFor('both caches to hold the 3 keys', () => a.sharedKeys().size === 3 && b.sharedKeys().size === 3);

    await suite.etcd.halt();
    a.updateLocalKey({ name: 'a1', value: '2' });
    a.updateLocalKey({ name: 'a3', value: '1' });
    await expect(b.deleteLocalKey({ name: 'b1', value: '1' })).rejects.toMatchObject({ tag: 'KvUnavailable' });
    // Down for longer than two TTLs: the client gives the session lease up.
    await sleep(2 * TTL + 1500);
    await suite.etcd.start();

    const expected = { a1: '2', a2: '1', a3: '1' };
    const converged = async (): Promise<boolean> =>
      eqJson(await suite.truth(prefix), expected) && eqJson(cacheOf(a.sharedKeys()), expected) && eqJson(cacheOf(b.sharedKeys()), expected);
    await waitFor('etcd and both caches to converge', converged, 45_000);
    expect(sessions.values.some((s) => s.type === 'lost')).toBe(true);
    // The old leases expire after the restart; the keys were moved to new ones and stay.
    await sleep(TTL * 2);
    expect(await suite.truth(prefix)).toEqual(expected);
    expect(cacheOf(a.sharedKeys())).toEqual(expected);
    sessions.stop();
  }, 90_000);

  it('a collaborator killed without close keeps its keys until its lease expires, and loses them then', async () => {
    const prefix = freshPrefix('killed');
    const observer = await suite.join(prefix, suite.backend(), 'observer');
    const script = fileURLToPath(new URL('./fixtures/collaborator.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script, suite.etcd.endpoint, prefix, 'victim', '3'], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve();
        });
        child.once('exit', (code) => {
          reject(new Error(`collaborator exited early with ${String(code)}`));
        });
      });
      await waitFor('the victim’s keys in the observer', () => observer.sharedKeys().size === 3);
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      // Killed, not closed: the keys stay while the lease lives.
      expect(Object.keys(await suite.truth(prefix))).toHaveLength(3);
      expect(observer.sharedKeys().size).toBe(3);
      await waitFor('the keys to go with the lease', () => observer.sharedKeys().size === 0, TTL * 3 + 5000);
      expect(await suite.truth(prefix)).toEqual({});
    } finally {
      child.kill('SIGKILL');
    }
  }, 60_000);

  it('relists after a compaction past the watcher’s revision: no stale key, deletes delivered', async () => {
    const prefix = freshPrefix('compaction');
    const proxy: TcpProxy = await startTcpProxy(suite.etcd.endpoint);
    try {
      const behind = await suite.join(prefix, suite.backend(proxy.endpoint), 'behind');
      const writer = suite.backend();
      await lastValueFrom(writer.put(`${prefix}/stale`, itemCodec.encode({ name: 'stale', value: '1' })));
      await lastValueFrom(writer.put(`${prefix}/kept`, itemCodec.encode({ name: 'kept', value: '1' })));
      await waitFor('the watcher to see both keys', () => behind.sharedKeys().size === 2);
      const events = record(behind.events$);
      const listsBefore = behind.telemetry().lists;

      proxy.cut();
      await lastValueFrom(writer.delete(`${prefix}/stale`));
      await lastValueFrom(writer.put(`${prefix}/kept`, itemCodec.encode({ name: 'kept', value: '2' })));
      const last = await lastValueFrom(writer.put(`${prefix}/new`, itemCodec.encode({ name: 'new', value: '1' })));
      await suite.admin.client.kv.compact({ revision: last.revision, physical: true });
      proxy.restore();

      await waitFor('the watcher to relist', () => eqJson(cacheOf(behind.sharedKeys()), { kept: '2', new: '1' }), 30_000);
      expect(behind.telemetry().lists).toBeGreaterThan(listsBefore);
      const after = events.values.slice(2).map((e) => `${e.type} ${e.name} ${e.key.value}`);
      expect(after).toContain('delete stale 1');
      expect(after).toContain('update kept 2');
      expect(after).toContain('update new 1');
      events.stop();
    } finally {
      await proxy.close();
    }
  }, 60_000);

  it('a foreign change of a local key is undone at the next synchronization', async () => {
    const prefix = freshPrefix('foreign');
    const owner = await suite.join(prefix, suite.backend(), 'owner');
    await owner.updateLocalKeySync({ name: 'mine', value: 'v' });
    const path = `${prefix}/mine`;
    const encoded = itemCodec.encode({ name: 'mine', value: 'v' });
    // Overwritten with another value, then with the right value but no lease: both repaired.
    await lastValueFrom(suite.admin.put(path, itemCodec.encode({ name: 'mine', value: 'forged' })));
    await waitFor('the value restored', async () => (await lastValueFrom(suite.admin.get(path)))?.value === encoded);
    await lastValueFrom(suite.admin.put(path, encoded));
    expect((await lastValueFrom(suite.admin.get(path)))?.lease).toBeUndefined();
    await waitFor('the lease re-attached', async () => (await lastValueFrom(suite.admin.get(path)))?.lease !== undefined);
    await lastValueFrom(suite.admin.delete(path));
    await waitFor('the deleted key written back', async () => (await lastValueFrom(suite.admin.get(path)))?.value === encoded);
    await waitFor('three repairs counted', () => owner.telemetry().repairs >= 3);
  }, 30_000);
});

/** Equal as maps of name -> value, whatever the order of the names. */
function eqJson(a: Record<string, string>, b: Record<string, string>): boolean {
  const sorted = (m: Record<string, string>): string => JSON.stringify(Object.entries(m).sort(([x], [y]) => (x < y ? -1 : 1)));
  return sorted(a) === sorted(b);
}
