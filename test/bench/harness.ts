/** Small helpers shared by the benchmarks: timing, memory, and a printed comparison line. */

export interface Measure {
  readonly name: string;
  /** The figure, in `unit`. */
  readonly value: number;
  readonly unit: string;
}

/** Runs `fn` and returns the elapsed milliseconds (high resolution). */
export function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Like {@link time}, for an async function. */
export async function timeAsync(fn: () => Promise<void>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Best (lowest) of `runs` timings: the least disturbed by the rest of the machine. */
export function best(runs: number, fn: () => number): number {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) min = Math.min(min, fn());
  return min;
}

export async function bestAsync(runs: number, fn: () => Promise<number>): Promise<number> {
  let min = Number.POSITIVE_INFINITY;
  for (let i = 0; i < runs; i++) min = Math.min(min, await fn());
  return min;
}

/** Heap bytes in use after a full collection (needs `node --expose-gc`). */
export function heapUsed(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const fmt = (n: number): string =>
  n >= 100 ? Math.round(n).toLocaleString('en-US') : n >= 1 ? n.toFixed(2) : n.toPrecision(3);

/** Prints one line: ours, the baseline, the ratio ours/baseline, and the target when there is one. */
export function report(title: string, ours: Measure, baseline: Measure | undefined, target?: string): void {
  const parts = [`${title}: ${ours.name} ${fmt(ours.value)} ${ours.unit}`];
  if (baseline !== undefined) {
    parts.push(`baseline (${baseline.name}) ${fmt(baseline.value)} ${baseline.unit}`);
    parts.push(`ratio ${(ours.value / baseline.value).toFixed(2)}`);
  }
  if (target !== undefined) parts.push(`target ${target}`);
  console.log(parts.join(' | '));
}
