import { describe } from 'vitest';
import { redisStorage } from '../../src/logs/redis.js';
import { silentLogger } from '../../src/util/logger.js';
import { redisUnavailableReason, startRedis } from '../services/redis.js';
import { storageContract } from './storage-contract.js';

const unavailable = redisUnavailableReason();

describe.skipIf(unavailable !== undefined)('redis storage', () => {
  storageContract(
    'redis',
    async () => {
      const server = await startRedis();
      const storage = redisStorage({ url: server.url, pollInterval: 200, logger: silentLogger });
      return {
        storage,
        async close() {
          await storage.close();
          await server.stop();
        },
      };
    },
    40,
  );
});
