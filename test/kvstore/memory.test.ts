import { createMemoryKv, memoryBackend } from '../../src/kvstore/index.js';
import { kvContract } from './contract.js';

kvContract(
  'memory backend',
  () => {
    const kv = createMemoryKv();
    return Promise.resolve({
      backend: (leaseTtl: number) => memoryBackend({ kv, leaseTtl }),
      compact: (revision: number) => {
        kv.compact(revision);
        return Promise.resolve();
      },
      close: () => Promise.resolve(),
    });
  },
  { leaseTtl: 300, numRuns: 60 },
);
