/**
 * Log collector throughput: log entries per second with 4 workers, against memory storage,
 * against a real Redis, and with a coordinator that answers in 5 ms behind the cache. Each figure
 * is printed beside a plain baseline measured in the same process, with the ratio.
 *
 *   npx tsx test/bench/logs.bench.ts
 *
 * Needs redis-server (Debian package redis-server) for the Redis figures; skips them without it.
 */
import { Redis } from 'ioredis';
import { performance } from 'node:perf_hooks';
import { from, lastValueFrom, mergeMap } from 'rxjs';
import {
  type Coordinator,
  type Storage,
  createLogCollector,
  decodeMessage,
  encodeLogEntry,
  encodeMessage,
  memoryCoordinator,
  memoryStorage,
  streamPath,
} from '../../src/logs/index.js';
import { redisStorage } from '../../src/logs/redis.js';
import { silentLogger } from '../../src/util/logger.js';
import { BundleBuilder } from '../logs/helpers.js';
import { redisServerAvailable, startRedis } from '../services/redis.js';

const WORKERS = 4;
const ENTRIES_PER_MESSAGE = 100;
const RUNS = 3;
// 128,000 entries either way: many short streams (each first contact costs a coordinator round
// trip), or a few long ones.
let STREAMS = 64;
let MESSAGES_PER_STREAM = 20;
let TOTAL = STREAMS * MESSAGES_PER_STREAM * ENTRIES_PER_MESSAGE;

function shape(streams: number, messagesPerStream: number): void {
  STREAMS = streams;
  MESSAGES_PER_STREAM = messagesPerStream;
  TOTAL = STREAMS * MESSAGES_PER_STREAM * ENTRIES_PER_MESSAGE;
}

/** One message per (stream, block): 100 text entries each, the last block terminal. */
function workload(): Uint8Array[] {
  const bb = new BundleBuilder();
  const messages: Uint8Array[] = [];
  for (let block = 0; block < MESSAGES_PER_STREAM; block++) {
    for (let s = 0; s < STREAMS; s++) {
      const first = block * ENTRIES_PER_MESSAGE;
      const indexes = Array.from({ length: ENTRIES_PER_MESSAGE }, (_, i) => first + i);
      const terminal = block === MESSAGES_PER_STREAM - 1 ? first + ENTRIES_PER_MESSAGE - 1 : -1;
      bb.addStreamEntries(`foo/+/stream-${s}`, terminal, ...indexes);
      messages.push(encodeMessage(bb.bundleValue()));
    }
  }
  return messages;
}

/** Entries per second of `run` (best of RUNS, each on fresh state from `fresh`). */
async function measure<S>(fresh: () => Promise<S>, run: (state: S) => Promise<void>): Promise<number> {
  let best = 0;
  for (let i = 0; i < RUNS; i++) {
    const state = await fresh();
    const start = performance.now();
    await run(state);
    const seconds = (performance.now() - start) / 1000;
    best = Math.max(best, TOTAL / seconds);
  }
  return best;
}

/** The baseline: decode each message and put its entries as they are, 4 at a time, no rules. */
async function plainPuts(messages: readonly Uint8Array[], storage: Storage, project: string): Promise<void> {
  await lastValueFrom(
    from(messages).pipe(
      mergeMap(async (message) => {
        const { bundle } = decodeMessage(message);
        for (const entry of bundle.entries) {
          const desc = entry.desc;
          if (desc === undefined) continue;
          await storage.put({
            project,
            path: streamPath(bundle.prefix, desc.name),
            index: entry.logs[0]?.streamIndex ?? 0,
            entries: entry.logs.map(encodeLogEntry),
          });
        }
      }, WORKERS),
    ),
    { defaultValue: undefined },
  );
}

async function collectAll(
  messages: readonly Uint8Array[],
  coordinator: Coordinator,
  storage: Storage,
  cache = true,
): Promise<void> {
  const collector = createLogCollector({
    coordinator,
    storage,
    maxMessageWorkers: WORKERS,
    logger: silentLogger,
    ...(cache ? {} : { streamStateCacheExpire: 0 }),
  });
  await lastValueFrom(from(messages).pipe(collector.collect), { defaultValue: undefined });
  await collector.close();
  if (collector.stats().logsStored !== TOTAL) throw new Error(`stored ${collector.stats().logsStored} of ${TOTAL}`);
}

/** A coordinator that answers every call after `ms` milliseconds (a remote service). */
function slowCoordinator(inner: Coordinator, ms: number): Coordinator {
  const wait = (): Promise<void> => new Promise((r) => setTimeout(r, ms));
  return {
    registerStream: async (state, descriptor) => {
      await wait();
      return inner.registerStream(state, descriptor);
    },
    terminateStream: async (request) => {
      await wait();
      return inner.terminateStream(request);
    },
  };
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

function report(name: string, ours: number, baselineName: string, baseline: number): void {
  console.log(
    `${name.padEnd(44)} ${fmt(ours).padStart(10)} entries/s | ${baselineName.padEnd(34)} ${fmt(baseline).padStart(10)} entries/s | ratio ${(ours / baseline).toFixed(2)}`,
  );
}

async function main(): Promise<void> {
  const messages = workload();
  console.log(
    `${TOTAL.toLocaleString('en-US')} entries: ${STREAMS} streams x ${MESSAGES_PER_STREAM} messages x ${ENTRIES_PER_MESSAGE} entries, ${WORKERS} workers, best of ${RUNS}`,
  );

  const memory = await measure(
    () => Promise.resolve({ storage: memoryStorage(), coordinator: memoryCoordinator() }),
    ({ storage, coordinator }) => collectAll(messages, coordinator, storage),
  );
  const memoryPlain = await measure(
    () => Promise.resolve(memoryStorage()),
    (storage) => plainPuts(messages, storage, 'test-project'),
  );
  report('collector -> memory storage', memory, 'plain decode + put -> memory', memoryPlain);

  const slowCached = await measure(
    () => Promise.resolve({ storage: memoryStorage(), coordinator: slowCoordinator(memoryCoordinator(), 5) }),
    ({ storage, coordinator }) => collectAll(messages, coordinator, storage),
  );
  report('collector, 5 ms coordinator behind the cache', slowCached, 'collector, instant coordinator', memory);
  const slowUncached = await measure(
    () => Promise.resolve({ storage: memoryStorage(), coordinator: slowCoordinator(memoryCoordinator(), 5) }),
    ({ storage, coordinator }) => collectAll(messages, coordinator, storage, false),
  );
  report('collector, 5 ms coordinator, no cache', slowUncached, 'collector, instant coordinator', memory);

  shape(8, 160);
  const longMessages = workload();
  console.log(`the same with ${STREAMS} streams x ${MESSAGES_PER_STREAM} messages:`);
  const longMemory = await measure(
    () => Promise.resolve({ storage: memoryStorage(), coordinator: memoryCoordinator() }),
    ({ storage, coordinator }) => collectAll(longMessages, coordinator, storage),
  );
  const longSlow = await measure(
    () => Promise.resolve({ storage: memoryStorage(), coordinator: slowCoordinator(memoryCoordinator(), 5) }),
    ({ storage, coordinator }) => collectAll(longMessages, coordinator, storage),
  );
  report('collector, 5 ms coordinator behind the cache', longSlow, 'collector, instant coordinator', longMemory);
  shape(64, 20);

  if (!redisServerAvailable()) {
    console.log('redis-server is not installed: Redis figures skipped (Debian package redis-server)');
    return;
  }
  const server = await startRedis();
  const client = new Redis(server.url);
  const storage = redisStorage({ client });
  // Each run starts from an empty database.
  const flushed = async <S>(state: S): Promise<S> => {
    await client.flushdb();
    return state;
  };
  try {
    const redis = await measure(
      () => flushed(memoryCoordinator()),
      (coordinator) => collectAll(messages, coordinator, storage),
    );
    const redisPlain = await measure(
      () => flushed(undefined),
      () => plainPuts(messages, storage, 'test-project'),
    );
    report('collector -> redis storage', redis, 'plain decode + put -> redis', redisPlain);
  } finally {
    client.disconnect();
    await server.stop();
  }
}

await main();
