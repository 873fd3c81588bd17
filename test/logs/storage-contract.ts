import fc from 'fast-check';
import { firstValueFrom, lastValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Storage, StoredEntry } from '../../src/logs/index.js';

/** A storage under test, and how to clean up after it. */
export interface StorageUnderTest {
  readonly storage: Storage;
  close(): Promise<void>;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);
let streamCounter = 0;
/** A path no other case uses, so cases share one storage without clearing it. */
const freshPath = (): string => `contract/+/stream-${process.pid}-${++streamCounter}-${Date.now()}`;
const indexes = (entries: readonly StoredEntry[]): number[] => entries.map((e) => e.index);

/**
 * The contract every {@link Storage} keeps, as one suite to run against each implementation.
 */
export function storageContract(name: string, make: () => Promise<StorageUnderTest>, numRuns = 100): void {
  describe(`storage contract: ${name}`, () => {
    let under: StorageUnderTest | undefined;
    const storage = (): Storage => {
      if (under === undefined) throw new Error('storage not started');
      return under.storage;
    };
    beforeAll(async () => {
      under = await make();
    });
    afterAll(async () => {
      await under?.close();
    });

    it('answers what was put, in index order, bytes intact', async () => {
      const path = freshPath();
      await expect(storage().put({ project: 'p', path, index: 3, entries: [bytes(3), bytes(), bytes(0, 255)] })).resolves.toBe(3);
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(0), bytes(1)] });
      const got = await storage().get({ project: 'p', path });
      expect(got).toEqual([
        { index: 0, data: bytes(0) },
        { index: 1, data: bytes(1) },
        { index: 3, data: bytes(3) },
        { index: 4, data: bytes() },
        { index: 5, data: bytes(0, 255) },
      ]);
    });

    it('keeps what an index holds when it is put again (idempotent, not an error)', async () => {
      const path = freshPath();
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(1), bytes(2)] });
      await expect(storage().put({ project: 'p', path, index: 0, entries: [bytes(9), bytes(9)] })).resolves.toBe(0);
      await expect(storage().put({ project: 'p', path, index: 1, entries: [bytes(8), bytes(3)] })).resolves.toBe(1);
      expect(await storage().get({ project: 'p', path })).toEqual([
        { index: 0, data: bytes(1) },
        { index: 1, data: bytes(2) },
        { index: 2, data: bytes(3) },
      ]);
    });

    it('stores equal entries at different indexes as different entries', async () => {
      const path = freshPath();
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(7), bytes(7), bytes(7)] });
      expect(indexes(await storage().get({ project: 'p', path }))).toEqual([0, 1, 2]);
    });

    it('lets exactly one of concurrent puts of an index win', async () => {
      const path = freshPath();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => storage().put({ project: 'p', path, index: 0, entries: [bytes(i)] })),
      );
      expect(results.reduce((a, b) => a + b, 0)).toBe(1);
      const got = await storage().get({ project: 'p', path });
      expect(got).toHaveLength(1);
      expect(results[got[0]!.data[0]!]).toBe(1);
    });

    it('reads from an index, up to a limit, across gaps', async () => {
      const path = freshPath();
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(0), bytes(1)] });
      await storage().put({ project: 'p', path, index: 5, entries: [bytes(5), bytes(6), bytes(7)] });
      expect(indexes(await storage().get({ project: 'p', path, index: 1 }))).toEqual([1, 5, 6, 7]);
      expect(indexes(await storage().get({ project: 'p', path, index: 2, limit: 2 }))).toEqual([5, 6]);
      expect(await storage().get({ project: 'p', path, index: 8 })).toEqual([]);
      expect(await storage().get({ project: 'p', path: freshPath() })).toEqual([]);
    });

    it('keeps projects and paths apart', async () => {
      const path = freshPath();
      await storage().put({ project: 'a', path, index: 0, entries: [bytes(1)] });
      await storage().put({ project: 'b', path, index: 0, entries: [bytes(2)] });
      await storage().put({ project: 'a', path: `${path}x`, index: 0, entries: [bytes(3)] });
      expect(await storage().get({ project: 'a', path })).toEqual([{ index: 0, data: bytes(1) }]);
      expect(await storage().get({ project: 'b', path })).toEqual([{ index: 0, data: bytes(2) }]);
    });

    it('holds indexes up to Number.MAX_SAFE_INTEGER exactly', async () => {
      const path = freshPath();
      const big = Number.MAX_SAFE_INTEGER - 1;
      await storage().put({ project: 'p', path, index: big, entries: [bytes(1), bytes(2)] });
      await expect(storage().put({ project: 'p', path, index: big + 1, entries: [bytes(3)] })).resolves.toBe(0);
      expect(indexes(await storage().get({ project: 'p', path, index: big + 1 }))).toEqual([big + 1]);
      expect(indexes(await storage().get({ project: 'p', path, index: 123_456_789_012_345 }))).toEqual([big, big + 1]);
    });

    it('tails the last entry of the run from index 0', async () => {
      const path = freshPath();
      expect(await storage().tail('p', path)).toBeUndefined();
      await storage().put({ project: 'p', path, index: 1, entries: [bytes(1), bytes(2)] });
      expect(await storage().tail('p', path)).toBeUndefined();
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(0)] });
      expect(await storage().tail('p', path)).toEqual({ index: 2, data: bytes(2) });
      await storage().put({ project: 'p', path, index: 4, entries: [bytes(4)] });
      expect((await storage().tail('p', path))?.index).toBe(2);
      await storage().put({ project: 'p', path, index: 3, entries: [bytes(3)] });
      expect((await storage().tail('p', path))?.index).toBe(4);
    });

    it('follows a stream: what is there, then what comes, in order, waiting out gaps', async () => {
      const path = freshPath();
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(0), bytes(1)] });
      const followed = lastValueFrom(storage().follow$({ project: 'p', path, index: 1, until: 5 }).pipe(toArray()));
      await new Promise((r) => setTimeout(r, 20));
      await storage().put({ project: 'p', path, index: 4, entries: [bytes(4), bytes(5)] });
      await new Promise((r) => setTimeout(r, 20));
      await storage().put({ project: 'p', path, index: 2, entries: [bytes(2), bytes(3)] });
      expect(await followed).toEqual([1, 2, 3, 4, 5].map((i) => ({ index: i, data: bytes(i) })));
    });

    it('follows without an end until unsubscribed', async () => {
      const path = freshPath();
      const first = firstValueFrom(storage().follow$({ project: 'p', path }).pipe(take(2), toArray()));
      await new Promise((r) => setTimeout(r, 20));
      await storage().put({ project: 'p', path, index: 0, entries: [bytes(0)] });
      await storage().put({ project: 'p', path, index: 1, entries: [bytes(1)] });
      expect(indexes(await first)).toEqual([0, 1]);
    });

    it('behaves as a first-write-wins map of indexes (property)', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.record({ index: fc.nat({ max: 40 }), entries: fc.array(fc.uint8Array({ maxLength: 4 }), { maxLength: 5 }) }),
            { maxLength: 8 },
          ),
          fc.nat({ max: 45 }),
          fc.integer({ min: 1, max: 50 }),
          async (puts, from, limit) => {
            const path = freshPath();
            const model = new Map<number, Uint8Array>();
            for (const put of puts) {
              let fresh = 0;
              put.entries.forEach((data, i) => {
                if (!model.has(put.index + i)) {
                  model.set(put.index + i, data);
                  fresh++;
                }
              });
              expect(await storage().put({ project: 'p', path, ...put })).toBe(fresh);
            }
            const expected = [...model.entries()]
              .filter(([i]) => i >= from)
              .sort(([a], [b]) => a - b)
              .slice(0, limit)
              .map(([index, data]) => ({ index, data }));
            expect(await storage().get({ project: 'p', path, index: from, limit })).toEqual(expected);
            let run = 0;
            while (model.has(run)) run++;
            expect((await storage().tail('p', path))?.index).toBe(run === 0 ? undefined : run - 1);
          },
        ),
        { numRuns },
      );
    });
  });
}
