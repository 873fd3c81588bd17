import { setImmediate as nextTurn } from 'node:timers/promises';

/**
 * How long one message may hold the thread before it lets timers and IO run: a bundle of hundreds
 * of thousands of entries takes seconds to work through, and must not starve everything else.
 */
const YIELD_AFTER_MS = 10;

/** Tells when a piece of work has held the thread long enough to yield; `pause()` yields. */
export interface TurnTaker {
  due(): boolean;
  pause(): Promise<void>;
}

/**
 * A turn taker for one message: due once it held the thread for 10 ms since it was made or last
 * paused; `pause()` lets timers and IO run (`setImmediate`).
 *
 * @example
 * ```ts
 * const turn = turnTaker();
 * for (const item of items) { work(item); if (turn.due()) await turn.pause(); }
 * ```
 */
export function turnTaker(): TurnTaker {
  let since = performance.now();
  return {
    due: () => performance.now() - since >= YIELD_AFTER_MS,
    async pause() {
      await nextTurn();
      since = performance.now();
    },
  };
}

/**
 * Runs `work(0)` ... `work(count - 1)` with at most `limit` at once, yielding to the event loop
 * when `turn` says so; resolves when all are done. `work` reports its own failures; anything it
 * throws goes to `failed`.
 *
 * @example
 * ```ts
 * await runAll(bundle.entryCount, 4, turnTaker(), (i) => processEntry(bundle.entry(i)), report);
 * ```
 */
export async function runAll(count: number, limit: number, turn: TurnTaker, work: (i: number) => Promise<void>, failed: (error: unknown) => void): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        await work(i);
      } catch (error) {
        failed(error);
      }
      if (turn.due()) await turn.pause();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}
