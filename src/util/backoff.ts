/**
 * The wait before retry number `attempt` (1 for the first retry): `initial` doubled for each retry
 * before it, at most `max`. Every retry loop of the library (collectors, the tagger's fetch, the
 * IPC client, the kvstore, the pipeline's readers, log storage) waits by this one rule.
 *
 * @example
 * ```ts
 * backoffDelay(1, 500, 30_000); // 500
 * backoffDelay(4, 500, 30_000); // 4000
 * backoffDelay(100, 500, 30_000); // 30000
 * ```
 */
export function backoffDelay(attempt: number, initial: number, max: number): number {
  // The exponent is capped: 2 ** 1024 is Infinity, and Infinity * 0 is NaN.
  const doublings = Math.min(Math.max(Math.floor(attempt) - 1, 0), 52);
  return Math.min(max, initial * 2 ** doublings);
}
