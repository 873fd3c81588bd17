/**
 * One real etcd (test/services/etcd.ts) per suite, with the backends and stores each case makes
 * torn down after it: call {@link useEtcdSuite} inside a `describe`.
 */
import { lastValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type EtcdBackend, type EtcdBackendOptions, etcdBackend } from '../../src/kvstore/etcd.js';
import { type JoinSharedStoreOptions, type SharedStore, joinSharedStore } from '../../src/kvstore/index.js';
import { silentLogger } from '../../src/util/logger.js';
import { type EtcdServer, startEtcd } from '../services/etcd.js';
import { type Item, itemCodec } from './helpers.js';

/** Options of {@link useEtcdSuite}; durations in milliseconds. */
export interface EtcdSuiteOptions {
  readonly leaseTtl: number;
  readonly maxReconnectDelay: number;
  /** The stores' periodic synchronization. */
  readonly synchronizationInterval: number;
}

/** What a suite's cases use: the server, an admin backend, and backends/stores that are cleaned up. */
export interface EtcdSuite {
  readonly etcd: EtcdServer;
  /** A backend of its own, for reading and forging what etcd holds. */
  readonly admin: EtcdBackend;
  /** A backend with the suite's options, overridden by `extra`, closed after the case. */
  backend(hosts?: string, extra?: Partial<EtcdBackendOptions>): EtcdBackend;
  /** Closes `backend` after the case, as the suite's own. */
  adopt(backend: EtcdBackend): void;
  /** Joins with the suite's options (delete grace 0, retry delay 100 ms), overridden by `extra`. */
  join(prefix: string, backend: EtcdBackend, name: string, extra?: Partial<JoinSharedStoreOptions<Item>>): Promise<SharedStore<Item>>;
  /** What etcd holds under the prefix, name -> value. */
  truth(prefix: string): Promise<Record<string, string>>;
}

/** Registers the suite's hooks (start etcd, clean up after each case, stop etcd) and returns what its cases use. */
export function useEtcdSuite(options: EtcdSuiteOptions): EtcdSuite {
  let etcd: EtcdServer | undefined;
  let admin: EtcdBackend | undefined;
  const backends: EtcdBackend[] = [];
  const stores: SharedStore<Item>[] = [];
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('etcd is not started: use the suite inside its describe, after beforeAll');
    return value;
  };
  const suite: EtcdSuite = {
    get etcd() {
      return started(etcd);
    },
    get admin() {
      return started(admin);
    },
    backend(hosts = suite.etcd.endpoint, extra = {}) {
      const b = etcdBackend({ hosts, leaseTtl: options.leaseTtl, callTimeout: 1000, retryDelay: 100, maxReconnectDelay: options.maxReconnectDelay, logger: silentLogger, ...extra });
      backends.push(b);
      return b;
    },
    adopt(backend) {
      backends.push(backend);
    },
    async join(prefix, backend, name, extra = {}) {
      const store = await joinSharedStore({
        prefix,
        codec: itemCodec,
        backend,
        name,
        logger: silentLogger,
        synchronizationInterval: options.synchronizationInterval,
        deleteGracePeriod: 0,
        retryDelay: 100,
        ...extra,
      });
      stores.push(store);
      return store;
    },
    async truth(prefix) {
      const { entries } = await lastValueFrom(suite.admin.list(`${prefix}/`));
      return Object.fromEntries(entries.map((e) => [e.key.slice(prefix.length + 1), itemCodec.decode(e.value, '').value]));
    },
  };
  beforeAll(async () => {
    etcd = await startEtcd();
    admin = etcdBackend({ hosts: etcd.endpoint });
  });
  afterEach(async () => {
    suite.etcd.resume(); // a case that failed half-way may have left it paused...
    await suite.etcd.start(); // ...or down
    await Promise.allSettled(stores.splice(0).map((s) => s.release()));
    await Promise.allSettled(backends.splice(0).map((b) => lastValueFrom(b.close({ revoke: true }), { defaultValue: undefined })));
  });
  afterAll(async () => {
    if (admin !== undefined) await lastValueFrom(admin.close(), { defaultValue: undefined });
    await etcd?.stop();
  });
  return suite;
}
