/**
 * Shared store over a real etcd: 3 collaborators x 10,000 keys, each writing all its keys at once —
 * with one `updateLocalKeysSync` call, and with 10,000 `updateLocalKeySync` calls. Prints the time
 * until every cache holds every key beside raw etcd3 writing the same keys in transactions of 128
 * leased puts (etcd's --max-txn-ops) with prefix watchers counting keys, in the same process,
 * alternating rounds, with the ratio — and, for context, raw etcd3 with the store's lease cap (a
 * lease per 1,000 keys) beside it; then the time for a fourth collaborator to join (list 30,000
 * keys) beside a raw prefix get.
 *
 *   npx tsx test/bench/kvstore.bench.ts
 *
 * Needs etcd (Debian packages etcd-server, etcd-client); exits with a message without it.
 */
import { Etcd3, type Lease } from 'etcd3';
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
const TXN_OPS = 128;
// The etcd backend's default maxKeysPerLease (Cilium's).
const MAX_KEYS_PER_LEASE = 1000;
// Alternating rounds of each; TAGSTREAM_BENCH_ROUNDS runs more.
const ROUNDS = Number(process.env.TAGSTREAM_BENCH_ROUNDS ?? 5);
// Long enough that a loaded machine cannot starve a keep-alive into a lost lease mid-run.
const LEASE_TTL_S = 60;

/** Wall-clock ms of `fn` (the figure compared), and this process's CPU ms over it (steadier on a loaded machine). */
type Side = 'bulk' | 'perKey' | 'raw' | 'rawCapped';
const cpu: Record<Side, number[]> = { bulk: [], perKey: [], raw: [], rawCapped: [] };
async function timed(side: Side, fn: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  const ms = await timeAsync(fn);
  const used = process.cpuUsage(before);
  cpu[side].push((used.user + used.system) / 1000);
  return ms;
}

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 5));
}

const item = (c: number, i: number): Item => ({ name: `c${c}-${i}`, value: `v${i}-${'x'.repeat(40)}` });

const backends: KvBackend[] = [];
const backend = (endpoint: string): KvBackend => {
  const b = etcdBackend({ hosts: endpoint, leaseTtl: LEASE_TTL_S * 1000 });
  backends.push(b);
  return b;
};

/**
 * The shared store: every collaborator writes all its keys at once — one `updateLocalKeysSync`
 * call (`bulk`) or a call per key (`perKey`); done when every cache holds all.
 */
async function ours(endpoint: string, prefix: string, side: 'bulk' | 'perKey'): Promise<number> {
  const mine = Array.from({ length: COLLABORATORS }, () => etcdBackend({ hosts: endpoint, leaseTtl: LEASE_TTL_S * 1000 }));
  const stores = await Promise.all(mine.map(async (b, c) => joinSharedStore({ prefix, codec: itemCodec, backend: b, name: `c${c}`, logger: silentLogger, deleteGracePeriod: 0 })));
  const converged = await timed(side, async () => {
    await Promise.all(
      stores.map(async (store, c) =>
        side === 'bulk' ? store.updateLocalKeysSync(Array.from({ length: KEYS }, (_, i) => item(c, i))) : Promise.all(Array.from({ length: KEYS }, (_, i) => store.updateLocalKeySync(item(c, i)))),
      ),
    );
    await until(() => stores.every((s) => s.telemetry().sharedKeys === TOTAL)); // not sharedKeys(): a copy of 30,000 keys per poll
  });
  await Promise.all(stores.map(async (s) => s.release()));
  // Revoking the leases deletes the round's keys at once.
  await Promise.all(mine.map(async (b) => lastValueFrom(b.close({ revoke: true }), { defaultValue: undefined })));
  return converged;
}

/**
 * Raw etcd3: its keys in transactions of 128 leased puts, all at once, on one lease per
 * collaborator (`raw`, granted before the timing) — or (`rawCapped`) on a lease per
 * `MAX_KEYS_PER_LEASE` keys as the store binds them, the first granted before the timing and the
 * others at its start, all at once: what the lease cap alone costs etcd.
 */
async function raw(endpoint: string, prefix: string, side: 'raw' | 'rawCapped'): Promise<number> {
  const clients = Array.from({ length: COLLABORATORS }, () => new Etcd3({ hosts: endpoint }));
  const seen = clients.map(() => new Set<string>());
  const watchers = await Promise.all(
    clients.map(async (client, c) =>
      client
        .watch()
        .prefix(`${prefix}/`)
        .create()
        .then((w) => w.on('put', (kv) => seen[c]?.add(kv.key.toString()))),
    ),
  );
  const grant = async (client: Etcd3): Promise<{ lease: Lease; id: string }> => {
    const lease = client.lease(LEASE_TTL_S);
    return { lease, id: await lease.grant() };
  };
  const leases = await Promise.all(clients.map(async (client) => [await grant(client)]));
  const perLease = side === 'raw' ? KEYS : MAX_KEYS_PER_LEASE;
  const converged = await timed(side, async () => {
    await Promise.all(
      clients.map(async (client, c) => {
        const mine = leases[c] ?? [];
        mine.push(...(await Promise.all(Array.from({ length: Math.ceil(KEYS / perLease) - 1 }, async () => grant(client)))));
        const txns: Promise<unknown>[] = [];
        for (let start = 0; start < KEYS; start += TXN_OPS) {
          const success = [];
          for (let i = start; i < Math.min(KEYS, start + TXN_OPS); i++) {
            success.push({ request_put: { key: Buffer.from(`${prefix}/c${c}-${i}`), value: Buffer.from(itemCodec.encode(item(c, i))), lease: mine[Math.floor(i / perLease)]?.id ?? '0' } });
          }
          txns.push(client.kv.txn({ compare: [], success, failure: [] }));
        }
        await Promise.all(txns);
      }),
    );
    await until(() => seen.every((s) => s.size === TOTAL));
  });
  await Promise.all(watchers.map(async (w) => w.cancel()));
  await Promise.all(leases.flat().map(async ({ lease }) => lease.revoke()));
  clients.forEach((client) => { client.close(); });
  return converged;
}

async function main(): Promise<void> {
  if (!etcdAvailable()) {
    console.log('kvstore bench skipped: etcd is not installed (Debian packages etcd-server, etcd-client)');
    return;
  }
  const etcd = await startEtcd();
  try {
    // Warm-up: connections, JIT.
    await raw(etcd.endpoint, 'bench/warmup-raw', 'raw');
    await raw(etcd.endpoint, 'bench/warmup-capped', 'rawCapped');
    await ours(etcd.endpoint, 'bench/warmup-bulk', 'bulk');
    await ours(etcd.endpoint, 'bench/warmup-keys', 'perKey');
    const title = `${COLLABORATORS} collaborators x ${KEYS.toLocaleString('en-US')} keys over etcd, all at once, until every cache holds every key`;
    const rawName = `raw etcd3, ${TXN_OPS}-put transactions + prefix watchers`;
    const times: Record<Side, number[]> = { bulk: [], perKey: [], raw: [], rawCapped: [] };
    for (let round = 0; round < ROUNDS; round++) {
      times.raw.push(await raw(etcd.endpoint, `bench/raw-${round}`, 'raw'));
      times.rawCapped.push(await raw(etcd.endpoint, `bench/capped-${round}`, 'rawCapped'));
      times.bulk.push(await ours(etcd.endpoint, `bench/bulk-${round}`, 'bulk'));
      times.perKey.push(await ours(etcd.endpoint, `bench/keys-${round}`, 'perKey'));
      const rawMs = times.raw[round] ?? 0;
      report(`${title} (round ${round + 1})`, { name: 'shared store, one updateLocalKeysSync', value: times.bulk[round] ?? 0, unit: 'ms' }, { name: rawName, value: rawMs, unit: 'ms' });
      report(`${title} (round ${round + 1})`, { name: 'shared store, updateLocalKeySync per key', value: times.perKey[round] ?? 0, unit: 'ms' }, { name: rawName, value: rawMs, unit: 'ms' });
      report(`${title} (round ${round + 1})`, { name: `raw etcd3, a lease per ${MAX_KEYS_PER_LEASE} keys`, value: times.rawCapped[round] ?? 0, unit: 'ms' }, { name: rawName, value: rawMs, unit: 'ms' });
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
    for (const side of ['bulk', 'perKey', 'raw', 'rawCapped'] as const) cpu[side].splice(0, 1); // the warm-up's
    report(`${title}: process CPU over the timed part (median of ${ROUNDS})`, { name: 'shared store, one updateLocalKeysSync', value: median(cpu.bulk), unit: 'ms' }, { name: 'raw etcd3', value: median(cpu.raw), unit: 'ms' });
    report(`${title}: process CPU over the timed part (median of ${ROUNDS})`, { name: 'shared store, updateLocalKeySync per key', value: median(cpu.perKey), unit: 'ms' }, { name: 'raw etcd3', value: median(cpu.raw), unit: 'ms' });
    report(`${title} (median of ${ROUNDS}): what the lease cap alone costs`, { name: `raw etcd3, a lease per ${MAX_KEYS_PER_LEASE} keys`, value: median(times.rawCapped), unit: 'ms' }, { name: 'raw etcd3, one lease', value: median(times.raw), unit: 'ms' });
    report(`${title} (median of ${ROUNDS})`, { name: 'shared store, one updateLocalKeysSync', value: median(times.bulk), unit: 'ms' }, { name: `raw etcd3, ${TXN_OPS}-put transactions`, value: median(times.raw), unit: 'ms' }, '<= 1.5');
    report(`${title} (median of ${ROUNDS})`, { name: 'shared store, updateLocalKeySync per key', value: median(times.perKey), unit: 'ms' }, { name: `raw etcd3, ${TXN_OPS}-put transactions`, value: median(times.raw), unit: 'ms' }, '<= 1.5');

    // The keys a late collaborator lists: one more round of the store, left in place.
    const stores = await Promise.all(
      Array.from({ length: COLLABORATORS }, async (_, c) => joinSharedStore({ prefix: 'bench/store', codec: itemCodec, backend: backend(etcd.endpoint), name: `c${c}`, logger: silentLogger, deleteGracePeriod: 0 })),
    );
    await Promise.all(stores.map(async (store, c) => store.updateLocalKeysSync(Array.from({ length: KEYS }, (_, i) => item(c, i)))));
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
    await Promise.all(stores.map(async (s) => s.release()));
    await Promise.all(backends.map(async (b) => lastValueFrom(b.close({ revoke: true }), { defaultValue: undefined })));
  } finally {
    await etcd.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
