import { lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import type { StoredEntry } from '../../src/logs/index.js';
import { redisStorage } from '../../src/logs/redis.js';
import { silentLogger } from '../../src/util/logger.js';
import { redisUnavailableReason, startRedis } from '../services/redis.js';
import { range } from './helpers.js';

const unavailable = redisUnavailableReason();
const bytes = (i: number): Uint8Array => Uint8Array.of(i % 256, Math.floor(i / 256));

/** Polls `check` every 20 ms until it holds (at most `ms`). */
async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.skipIf(unavailable !== undefined)('redis storage: follow$ across a Redis restart', () => {
  for (const persistent of [true, false]) {
    it(`keeps following through kill -9 and restart (${persistent ? 'data kept' : 'data wiped'}): no gap, no duplicate`, async () => {
      const server = await startRedis({ persistent });
      // The defaults: maxRetriesPerRequest 1, so a read during the outage fails fast.
      const storage = redisStorage({ url: server.url, pollInterval: 100, logger: silentLogger });
      const project = 'p';
      const path = 'restart/+/out';
      const put = async (from: number, to: number): Promise<void> => {
        // A writer retries its own failures (the collector's transport redelivers).
        for (let attempt = 0; ; attempt++) {
          try {
            await storage.put({ project, path, index: from, entries: range(from, to).map(bytes) });
            return;
          } catch (error) {
            if (attempt > 100) throw error;
            await new Promise((r) => setTimeout(r, 50));
          }
        }
      };
      try {
        await put(0, 49);
        const seen: StoredEntry[] = [];
        const followed: Promise<StoredEntry[] | string> = lastValueFrom(
          storage.follow$({ project, path, until: 149 }).pipe(toArray()),
        ).catch((error: unknown) => String(error));
        // A follow without an end, watched entry by entry (an error is recorded as index -1).
        const sub = storage.follow$({ project, path }).subscribe({
          next: (entry) => seen.push(entry),
          error: (error: unknown) => seen.push({ index: -1, data: new TextEncoder().encode(String(error)) }),
        });
        await until(() => seen.length >= 50, 10_000, 'the first 50 entries');

        // Down for a second: reads during the outage fail (maxRetriesPerRequest).
        await server.restart(1000);
        // Reads fail while Redis is down and after it came back empty (wiped): follow$ waits.
        await new Promise((r) => setTimeout(r, 500));
        await put(50, 99);
        await until(() => seen.length >= 100 || seen.some((e) => e.index < 0), 15_000, 'entries 50..99');
        await server.restart(1000);
        await put(100, 149);
        await until(() => seen.length >= 150 || seen.some((e) => e.index < 0), 15_000, 'entries 100..149');

        const all = await followed;
        sub.unsubscribe();
        expect(seen.filter((e) => e.index < 0).map((e) => new TextDecoder().decode(e.data))).toEqual([]);
        expect(seen.map((e) => e.index)).toEqual(range(0, 149));
        expect(seen.map((e) => [...e.data])).toEqual(range(0, 149).map((i) => [...bytes(i)]));
        expect(typeof all === 'string' ? all : all.map((e) => e.index)).toEqual(range(0, 149));
      } finally {
        await storage.close();
        await server.stop();
      }
    }, 60_000);
  }
});
