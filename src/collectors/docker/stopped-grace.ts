/**
 * The part of a container's inspect document that says whether it runs and when it stopped.
 *
 * @example
 * ```ts
 * const state: ContainerRunState = { Running: false, FinishedAt: '2026-11-26T23:40:00.123456789Z' };
 * ```
 */
export interface ContainerRunState {
  readonly Running: boolean;
  /** When it last stopped (RFC 3339); `0001-01-01T00:00:00Z` when it never did. */
  readonly FinishedAt?: string;
}

/**
 * Where a container stands against the grace of stopped containers: `'running'`; the ms its grace
 * has left, counted from `FinishedAt` (a positive number); or `'expired'` when it stopped `grace`
 * ms ago or more, never ran, or says no valid time. A pure function of its inputs.
 *
 * @example
 * ```ts
 * const now = Date.parse('2026-11-26T23:41:00Z');
 * graceLeft({ Running: true }, 300_000, now);                                        // 'running'
 * graceLeft({ Running: false, FinishedAt: '2026-11-26T23:40:00Z' }, 300_000, now);  // 240000
 * graceLeft({ Running: false, FinishedAt: '0001-01-01T00:00:00Z' }, 300_000, now);  // 'expired'
 * ```
 */
export function graceLeft(state: ContainerRunState, grace: number, now: number): 'running' | 'expired' | number {
  if (state.Running) return 'running';
  const stoppedAt = state.FinishedAt === undefined ? Number.NaN : Date.parse(state.FinishedAt);
  const left = grace - (now - stoppedAt);
  // NaN (no valid time) fails the test too. A clock behind the daemon's never gives more than the grace.
  return left > 0 ? Math.min(left, grace) : 'expired';
}
