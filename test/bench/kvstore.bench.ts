/**
 * Shared store over a real etcd: 3 collaborators x 10,000 keys. Prints the time until every cache
 * holds every key and the puts per second through `updateLocalKeySync`, each beside the same work
 * done with the raw etcd3 client (leased puts, prefix watchers counting keys) in the same process,
 * with the ratio; then the time for a fourth collaborator to join (list 30,000 keys) beside a raw
 * prefix get.
 *
 *   npx tsx test/bench/kvstore.bench.ts
 *
 * Needs etcd (Debian packages etcd-server, etcd-client); exits with a message without it.
 */
import { Etcd3 } from 'etcd3';
import { lastValueFrom } from 'rxjs';
import type { KvBackend } from '../../src/kvstore/index.js';
import { etcdBackend } from '../../src/kvstore/etcd.js';
import { type SharedStore, joinSharedStore } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { type Item, itemCodec } from '../kvstore/helpers.js';
import { etcdAvailable, startEtcd } from '../services/etcd.js';
import { report, timeAsync } from './harness.js';

const COLLABORATORS = 3;
const KEYS = 10_000;
const TOTAL = COLLABORATORS * KEYS;
const CONCURRENCY = 64;
// Long enough that a loaded machine cannot starve a keep-alive into a lost lease mid-run.
const LEASE_TTL_S = 60;

/** Runs `work(i)` for i in [0, count) with at most `limit` in flight. */
async function pool(count: number, limit: number, work: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, lane));
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

const value = (c: number, i: number): string => itemCodec.encode({ name: `c${c}-${i}`, value: `v${i}-${'x'.repeat(40)}` });

interface Figures {
  readonly converged: number;
  readonly writes: number;
}

const backends: KvBackend[] = [];
const backend = (endpoint: string): KvBackend => {
  const b = etcdBackend({ hosts: endpoint, leaseTtl: LEASE_TTL_S * 1000 });
  backends.push(b);
  return b;
};

async function ours(endpoint: string, prefix: string): Promise<Figures & { stores: SharedStore<Item>[] }> {
  const stores = await Promise.all(
    Array.from({ length: COLLABORATORS }, (_, c) =>
      joinSharedStore({ prefix, codec: itemCodec, backend: backend(endpoint), name: `c${c}`, logger: silentLogger, deleteGracePeriod: 0 }),
    ),
  );
  let writes = 0;
  const converged = await timeAsync(async () => {
    writes = await timeAsync(() =>
      Promise.all(stores.map((store, c) => pool(KEYS, CONCURRENCY, (i) => store.updateLocalKeySync({ name: `c${c}-${i}`, value: `v${i}-${'x'.repeat(40)}` })))).then(() => undefined),
    );
    await until(() => stores.every((s) => s.sharedKeys().size === TOTAL));
  });
  return { converged, writes, stores };
}

async function raw(endpoint: string, prefix: string): Promise<Figures> {
  const clients = Array.from({ length: COLLABORATORS }, () => new Etcd3({ hosts: endpoint }));
  const seen = clients.map(() => new Set<string>());
  const watchers = await Promise.all(
    clients.map((client, c) =>
      client.watch().prefix(`${prefix}/`).create().then((w) => w.on('put', (kv) => seen[c]!.add(kv.key.toString()))),
    ),
  );
  const leases = clients.map((client) => client.lease(LEASE_TTL_S));
  let writes = 0;
  const converged = await timeAsync(async () => {
    writes = await timeAsync(() =>
      Promise.all(clients.map((_, c) => pool(KEYS, CONCURRENCY, (i) => leases[c]!.put(`${prefix}/c${c}-${i}`).value(value(c, i)).exec()))).then(() => undefined),
    );
    await until(() => seen.every((s) => s.size === TOTAL));
  });
  await Promise.all(watchers.map((w) => w.cancel()));
  await Promise.all(leases.map((l) => l.revoke()));
  clients.forEach((client) => client.close());
  return { converged, writes };
}

async function main(): Promise<void> {
  if (!etcdAvailable()) {
    console.log('kvstore bench skipped: etcd is not installed (Debian packages etcd-server, etcd-client)');
    return;
  }
  const etcd = await startEtcd();
  try {
    // Warm-up: connections, JIT.
    await raw(etcd.endpoint, 'bench/warmup-raw');
    const baseline = await raw(etcd.endpoint, 'bench/raw');
    const mine = await ours(etcd.endpoint, 'bench/store');
    const title = `${COLLABORATORS} collaborators x ${KEYS.toLocaleString('en-US')} keys over etcd`;
    report(`${title}, every cache holds every key`, { name: 'shared store', value: mine.converged, unit: 'ms' }, { name: 'raw etcd3 puts + prefix watchers', value: baseline.converged, unit: 'ms' });
    report(
      `${title}, puts per second (${CONCURRENCY} in flight per collaborator)`,
      { name: 'updateLocalKeySync', value: TOTAL / (mine.writes / 1000), unit: 'puts/s' },
      { name: 'raw etcd3 leased put', value: TOTAL / (baseline.writes / 1000), unit: 'puts/s' },
    );

    const rawClient = new Etcd3({ hosts: etcd.endpoint });
    const rawList = await timeAsync(async () => {
      const { kvs } = await rawClient.getAll().prefix('bench/store/').exec();
      if (kvs.length !== TOTAL) throw new Error(`raw list saw ${kvs.length} keys`);
    });
    rawClient.close();
    let late: SharedStore<Item> | undefined;
    const join = await timeAsync(async () => {
      late = await joinSharedStore({ prefix: 'bench/store', codec: itemCodec, backend: backend(etcd.endpoint), logger: silentLogger });
    });
    if (late?.sharedKeys().size !== TOTAL) throw new Error('the late collaborator did not list every key');
    report(`a 4th collaborator joins ${TOTAL.toLocaleString('en-US')} keys`, { name: 'joinSharedStore (paged list + decode)', value: join, unit: 'ms' }, { name: 'raw etcd3 getAll().prefix().exec(), one range', value: rawList, unit: 'ms' });
    await late.release();
    await Promise.all(mine.stores.map((s) => s.release()));
    await Promise.all(backends.map((b) => lastValueFrom(b.close({ revoke: true }), { defaultValue: undefined })));
  } finally {
    await etcd.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
