import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/util/backoff.js';

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffDelay(attempt, 500, 30_000))).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000]);
  });

  it('is never below the initial delay, never above the cap, never NaN, and never shrinks as attempts grow', () => {
    fc.assert(
      fc.property(fc.integer({ min: -5, max: 5000 }), fc.integer({ min: 0, max: 5000 }), fc.integer({ min: 0, max: 60_000 }), (attempt, initial, max) => {
        const delay = backoffDelay(attempt, initial, max);
        expect(Number.isNaN(delay)).toBe(false);
        expect(delay).toBeLessThanOrEqual(max);
        expect(delay).toBeGreaterThanOrEqual(Math.min(initial, max));
        expect(backoffDelay(attempt + 1, initial, max)).toBeGreaterThanOrEqual(delay);
      }),
    );
  });
});
