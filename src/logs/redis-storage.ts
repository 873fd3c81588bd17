import { Redis, type RedisOptions } from 'ioredis';
import { asyncScheduler, catchError, defer, EMPTY, finalize, fromEvent, ignoreElements, interval, merge, type Observable, type SchedulerLike } from 'rxjs';
import { consoleLogger, type Logger } from '../util/logger.js';
import { StorageError } from './errors.js';
import { FOLLOW_BATCH, followEntries, type FollowRequest, type Storage, type StoredEntry } from './storage.js';

/** Options of {@link redisStorage}: a server to connect to, or a client to use. */
export type RedisStorageOptions = (
  | {
      /** A `redis://` URL; the storage makes its own client and closes it in `close()`. */
      readonly url: string;
      /** Options for that client (defaults: `maxRetriesPerRequest: 1`, so an outage fails fast). */
      readonly redisOptions?: RedisOptions;
    }
  | {
      /** A client the caller owns: `close()` leaves it open. */
      readonly client: Redis;
    }
) & {
  /** Prefix of every key. Default `'tagstream:logs:'`. */
  readonly keyPrefix?: string;
  /** How often `follow$` reads even without a notification, in ms. Default 1000. */
  readonly pollInterval?: number;
  /** The scheduler of that poll. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /** Where connection errors of the clients the storage made go. Default `consoleLogger('warn')`. */
  readonly logger?: Logger;
};

/** A {@link Storage} on Redis; `close()` ends the client it made. */
export interface RedisStorage extends Storage {
  close(): Promise<void>;
}

/*
 * Layout: one sorted set per stream, scored by stream index. Each member is the index as 8 bytes
 * (big-endian), then the entry, so that equal entries at different indexes stay distinct. A put
 * is one Lua script — atomic, and idempotent by index: an index that is there already keeps its
 * entry. A put that stored something publishes on the stream's key, which wakes `follow$`.
 */

// ARGV: count, then for each entry its index (decimal, from the client: Lua's number formatting
// would round large ones) and its member bytes.
const PUT_SCRIPT = `
local stored = 0
for i = 1, tonumber(ARGV[1]) do
  local index = ARGV[2 * i]
  if redis.call('ZCOUNT', KEYS[1], index, index) == 0 then
    redis.call('ZADD', KEYS[1], index, ARGV[2 * i + 1])
    stored = stored + 1
  end
end
if stored > 0 then redis.call('PUBLISH', KEYS[1], ARGV[2]) end
return stored
`;

// The last member of the run of indexes 0, 1, 2, ...: rank r holds index r exactly on that run.
const TAIL_SCRIPT = `
local lo, hi = 0, redis.call('ZCARD', KEYS[1])
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local at = redis.call('ZRANGE', KEYS[1], mid, mid, 'WITHSCORES')
  if tonumber(at[2]) == mid then lo = mid + 1 else hi = mid end
end
if lo == 0 then return false end
return redis.call('ZRANGE', KEYS[1], lo - 1, lo - 1)[1]
`;

interface ScriptedRedis {
  tagstreamLogsPut(key: string, ...args: (string | Uint8Array)[]): Promise<number>;
  tagstreamLogsTailBuffer(key: string): Promise<Buffer | null>;
}

const INDEX_BYTES = 8;

function member(index: number, data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(INDEX_BYTES + data.length);
  out.writeBigUInt64BE(BigInt(index), 0);
  out.set(data, INDEX_BYTES);
  return out;
}

function fromMember(raw: Buffer): StoredEntry {
  const data = new Uint8Array(raw.length - INDEX_BYTES);
  data.set(raw.subarray(INDEX_BYTES));
  return { index: Number(raw.readBigUInt64BE(0)), data };
}

// Replies that mean "not now" rather than "never".
const TRANSIENT_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|CLUSTERDOWN|READONLY|NOREPLICAS)\b/;

/** A Redis failure as a StorageError: a connection failure or a busy server is transient. */
function storageError(operation: StorageError['operation'], error: unknown): StorageError {
  const message = error instanceof Error ? error.message : String(error);
  const reply = error instanceof Error && error.name === 'ReplyError';
  return new StorageError(operation, `redis ${operation} failed: ${message}`, {
    transient: !reply || TRANSIENT_REPLY.test(message),
    cause: error,
  });
}

/**
 * A {@link Storage} on Redis: each stream is one sorted set, puts are atomic Lua scripts that
 * are idempotent by index, reads are ordered, and `follow$` is woken by Redis pub/sub (with a
 * slow poll as a safety net). Connection failures reject with a transient `StorageError`.
 *
 * @example
 * ```ts
 * const storage = redisStorage({ url: 'redis://127.0.0.1:6379' });
 * const collector = createLogCollector({ coordinator, storage });
 * // ...
 * await collector.close();
 * await storage.close();
 * ```
 */
export function redisStorage(options: RedisStorageOptions): RedisStorage {
  const owned = 'url' in options;
  const client: Redis = owned
    ? new Redis(options.url, { maxRetriesPerRequest: 1, ...options.redisOptions })
    : options.client;
  const keyPrefix = options.keyPrefix ?? 'tagstream:logs:';
  const pollInterval = options.pollInterval ?? 1000;
  const scheduler = options.scheduler ?? asyncScheduler;
  const logger = options.logger ?? consoleLogger('warn');
  if (owned) {
    // Without a listener ioredis prints every connection error; failed commands reject anyway.
    client.on('error', (error: unknown) => {
      logger.warn('logs: redis connection error', { error: String(error) });
    });
  }
  client.defineCommand('tagstreamLogsPut', { numberOfKeys: 1, lua: PUT_SCRIPT });
  client.defineCommand('tagstreamLogsTail', { numberOfKeys: 1, lua: TAIL_SCRIPT });
  const scripted = client as unknown as ScriptedRedis;
  // The project has no ':' once URI-encoded, so the key says where the path starts.
  const keyOf = (project: string, path: string): string => `${keyPrefix}${encodeURIComponent(project)}:${path}`;

  const read = async (project: string, path: string, index: number, limit?: number): Promise<StoredEntry[]> => {
    try {
      const key = keyOf(project, path);
      const raw =
        limit === undefined || !Number.isFinite(limit)
          ? await client.zrangebyscoreBuffer(key, index, '+inf')
          : await client.zrangebyscoreBuffer(key, index, '+inf', 'LIMIT', 0, limit);
      return raw.map(fromMember);
    } catch (error) {
      throw storageError('get', error);
    }
  };

  /** Notifications for one stream, on a connection of its own (a subscriber can do nothing else). */
  const notifications$ = (key: string): Observable<unknown> =>
    defer(() => {
      const subscriber = client.duplicate({ maxRetriesPerRequest: null });
      // Its failures only delay wake-ups: the poll goes on, and reads report their own errors.
      subscriber.on('error', (error: unknown) => {
        logger.debug('logs: redis follow subscriber error', { error: String(error) });
      });
      return merge(
        // ioredis resubscribes after a reconnect; a subscribe that fails only costs wake-ups.
        defer(() => subscriber.subscribe(key)).pipe(
          ignoreElements(),
          catchError((error: unknown) => {
            logger.debug('logs: redis follow subscribe failed; polling only', { error: String(error) });
            return EMPTY;
          }),
        ),
        fromEvent(subscriber, 'message'),
      ).pipe(
        finalize(() => {
          subscriber.disconnect();
        }),
      );
    });

  return {
    async put({ project, path, index, entries }) {
      if (entries.length === 0) return 0;
      const args: (string | Uint8Array)[] = [String(entries.length)];
      entries.forEach((data, offset) => {
        args.push(String(index + offset), member(index + offset, data));
      });
      try {
        return await scripted.tagstreamLogsPut(keyOf(project, path), ...args);
      } catch (error) {
        throw storageError('put', error);
      }
    },
    get: ({ project, path, index = 0, limit }) => read(project, path, index, limit),
    async tail(project, path) {
      try {
        const raw = await scripted.tagstreamLogsTailBuffer(keyOf(project, path));
        return raw === null ? undefined : fromMember(raw);
      } catch (error) {
        throw storageError('tail', error);
      }
    },
    follow$(request: FollowRequest): Observable<StoredEntry> {
      const wake$ = merge(notifications$(keyOf(request.project, request.path)), interval(pollInterval, scheduler));
      // A Redis restart fails reads for a while (transient): follow$ retries them and resumes
      // from the index after the last one it delivered; it ends only when unsubscribed (or at
      // `until`, or on a permanent error).
      return followEntries((index, limit) => read(request.project, request.path, index, limit), wake$, request, FOLLOW_BATCH, {
        retry: { initialDelay: Math.min(100, pollInterval), maxDelay: Math.max(pollInterval, 2000), scheduler },
      });
    },
    async close() {
      if (!owned) return;
      try {
        await client.quit();
      } catch {
        client.disconnect();
      }
    },
  };
}
