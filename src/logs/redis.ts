/**
 * `tagstream/logs/redis`: the Redis storage of the log collector, apart from `tagstream/logs` so
 * that users of the memory storage never load ioredis.
 *
 * @packageDocumentation
 */
export { redisStorage } from './redis-storage.js';
export type { RedisStorage, RedisStorageOptions } from './redis-storage.js';
