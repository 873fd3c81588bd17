import type { SchedulerLike } from 'rxjs';
import { type MemoryBackend, memoryBackend } from './memory-backend.js';
import { MemoryKv } from './memory-kv.js';

let processKv: MemoryKv | undefined;

/**
 * The in-process store that shared stores joined without a backend use: one per process, so that
 * they see each other's keys.
 *
 * @example
 * ```ts
 * processMemoryKv().size; // keys held by the stores of this process that have no backend
 * ```
 */
export function processMemoryKv(): MemoryKv {
  processKv ??= new MemoryKv();
  return processKv;
}

/**
 * A new client of {@link processMemoryKv}, with its own session lease: the backend of a shared
 * store joined without one.
 *
 * @example
 * ```ts
 * const backend = defaultMemoryBackend();
 * ```
 */
export function defaultMemoryBackend(scheduler?: SchedulerLike): MemoryBackend {
  return memoryBackend(scheduler === undefined ? { kv: processMemoryKv() } : { kv: processMemoryKv(), scheduler });
}
