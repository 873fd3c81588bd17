import { lastValueFrom, NEVER, toArray, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { followEntries, StorageError, type StoredEntry } from '../../src/logs/index.js';

const entry = (index: number): StoredEntry => ({ index, data: Uint8Array.of(index) });
const transient = (): StorageError => new StorageError('get', 'connection lost', { transient: true });

/** A read over entries 0..n-1 that fails as `failures` says, call by call; records what it was asked. */
function scriptedRead(n: number, failures: readonly (Error | undefined)[]) {
  const asked: number[] = [];
  let call = 0;
  const read = (index: number, limit: number): Promise<StoredEntry[]> => {
    asked.push(index);
    const failure = failures[call++];
    if (failure !== undefined) return Promise.reject(failure);
    const out: StoredEntry[] = [];
    for (let i = index; i < Math.min(n, index + limit); i++) out.push(entry(i));
    return Promise.resolve(out);
  };
  return { read, asked };
}

describe('followEntries with retry', () => {
  it('retries a transient read failure from the next undelivered index: no gap, no duplicate', async () => {
    // Batches of 3: reads at 0, 3 (fails twice), 3, 6, 9 (fails), 9.
    const { read, asked } = scriptedRead(10, [undefined, transient(), transient(), undefined, undefined, transient()]);
    const got = await lastValueFrom(
      followEntries(read, NEVER, { project: 'p', path: 'a/+/b', until: 9 }, 3, { retry: { initialDelay: 1, maxDelay: 4 } }).pipe(
        toArray(),
      ),
    );
    expect(got.map((e) => e.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(asked).toEqual([0, 3, 3, 3, 6, 9, 9]);
  });

  it('ends with a permanent failure, and without retry with any failure', async () => {
    const permanent = new StorageError('get', 'WRONGTYPE', { transient: false });
    const a = scriptedRead(10, [undefined, permanent]);
    await expect(
      lastValueFrom(followEntries(a.read, NEVER, { project: 'p', path: 'a/+/b' }, 3, { retry: { initialDelay: 1 } })),
    ).rejects.toBe(permanent);
    expect(a.asked).toEqual([0, 3]);
    const failure = transient();
    const b = scriptedRead(10, [failure]);
    await expect(lastValueFrom(followEntries(b.read, NEVER, { project: 'p', path: 'a/+/b' }, 3))).rejects.toBe(failure);
  });

  it('stops retrying when unsubscribed', async () => {
    const failures = Array.from({ length: 10_000 }, () => transient());
    const { read, asked } = scriptedRead(10, [undefined, ...failures]);
    const seen: number[] = [];
    const sub = followEntries(read, NEVER, { project: 'p', path: 'a/+/b' }, 3, {
      retry: { initialDelay: 1, maxDelay: 1 },
    }).subscribe((e) => seen.push(e.index));
    while (asked.length < 6) await new Promise((r) => setTimeout(r, 2));
    sub.unsubscribe();
    const calls = asked.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(asked.length).toBe(calls);
    expect(seen).toEqual([0, 1, 2]);
    expect(new Set(asked.slice(1))).toEqual(new Set([3]));
  });
});

describe('followEntries: the retry delays (virtual time)', () => {
  it('waits initialDelay doubling to maxDelay between transient failures, and starts again at initialDelay after a success', async () => {
    const scheduler = new VirtualTimeScheduler();
    // Batches of 3: 0 succeeds; 3 fails six times, then succeeds; 6 fails twice, then succeeds up to 9.
    const failures = [undefined, ...Array.from({ length: 6 }, transient), undefined, transient(), transient()];
    const { read, asked } = scriptedRead(10, failures);
    const at: number[] = [];
    const timed = (index: number, limit: number): Promise<StoredEntry[]> => {
      at.push(scheduler.now());
      return read(index, limit);
    };
    const seen: number[] = [];
    const follow = { done: false };
    followEntries(timed, NEVER, { project: 'p', path: 'a/+/b', until: 9 }, 3, { retry: { initialDelay: 100, maxDelay: 1000, scheduler } }).subscribe({
      next: (e) => seen.push(e.index),
      complete: () => (follow.done = true),
    });
    // Reads answer promises: let them settle, then run the timers due, until the follow is over.
    for (let turn = 0; turn < 100 && !follow.done; turn++) {
      await new Promise((r) => setImmediate(r));
      scheduler.flush();
    }
    expect(follow.done).toBe(true);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(asked).toEqual([0, 3, 3, 3, 3, 3, 3, 3, 6, 6, 6, 9]);
    // 100, 200, 400, 800, 1000 (the most), 1000; then, after the success, 100 and 200 again.
    expect(at).toEqual([0, 0, 100, 300, 700, 1500, 2500, 3500, 3500, 3600, 3800, 3800]);
  });
});
