import { describe } from 'vitest';
import { etcdBackend } from '../../src/kvstore/etcd.js';
import { type EtcdServer, etcdUnavailableReason, startEtcd } from '../services/etcd.js';
import { kvContract } from './contract.js';

const skip = etcdUnavailableReason();

describe.skipIf(skip !== undefined)('etcd', () => {
  kvContract(
    'etcd backend',
    async () => {
      const etcd: EtcdServer = await startEtcd();
      const admin = etcdBackend({ hosts: etcd.endpoint });
      return {
        backend: (leaseTtl: number) => etcdBackend({ hosts: etcd.endpoint, leaseTtl }),
        compact: async (revision: number) => {
          await admin.client.kv.compact({ revision, physical: true });
        },
        close: async () => {
          admin.client.close();
          await etcd.stop();
        },
      };
    },
    { leaseTtl: 2000, numRuns: 8 },
  );
});
