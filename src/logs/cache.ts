import { asyncScheduler, type SchedulerLike } from 'rxjs';
import { silentLogger, type Logger } from '../util/logger.js';
import type { Coordinator, LogStreamState, TerminateRequest } from './coordinator.js';
import { attempt, isTransient } from './errors.js';
import type { LogStreamDescriptor } from './types.js';

/** How long a cached stream state lives by default: 10 minutes. */
export const DEFAULT_STREAM_STATE_CACHE_EXPIRE = 10 * 60 * 1000;
/** How many streams the cache holds by default before it forgets the least recently used. */
export const DEFAULT_STREAM_STATE_CACHE_SIZE = 1024 * 1024;

/** Options of {@link cachingCoordinator}. */
export interface CachingCoordinatorOptions {
  /** How long a stream's entry lives, in ms. Default {@link DEFAULT_STREAM_STATE_CACHE_EXPIRE}. */
  readonly expire?: number;
  /** The most streams held (least recently used go first). Default {@link DEFAULT_STREAM_STATE_CACHE_SIZE}. */
  readonly size?: number;
  /** Whose `now()` tells the time. Default `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  readonly logger?: Logger;
}

interface CacheEntry {
  readonly expiresAt: number;
  /** The terminal index the coordinator is known to hold, or -1. */
  terminalIndex: number;
  register: Promise<LogStreamState> | undefined;
  terminate: Promise<void> | undefined;
}

/**
 * Wraps a {@link Coordinator} with a per-stream cache, so that a collector asks the coordinator
 * about a stream once, not once per bundle:
 *
 * - one request per stream however many callers ask at once (they share its answer);
 * - an entry expires `expire` ms after it was made, and the next call asks again;
 * - a transient failure is forgotten at once, so the next call retries; a permanent one is
 *   answered from the cache until the entry expires;
 * - a terminal index the coordinator is known to hold (from a registration's answer or a
 *   successful terminate) is carried into later answers, and a second terminate is skipped.
 *
 * @example
 * ```ts
 * const coordinator = cachingCoordinator(remoteCoordinator, { expire: 60_000 });
 * ```
 */
export function cachingCoordinator(inner: Coordinator, options: CachingCoordinatorOptions = {}): Coordinator {
  const expire = options.expire ?? DEFAULT_STREAM_STATE_CACHE_EXPIRE;
  const size = options.size ?? DEFAULT_STREAM_STATE_CACHE_SIZE;
  const scheduler = options.scheduler ?? asyncScheduler;
  const logger = options.logger ?? silentLogger;
  // A Map iterates in insertion order: re-inserting on use keeps the least recently used first.
  const entries = new Map<string, CacheEntry>();

  function entryFor(project: string, path: string): CacheEntry {
    const key = `${project}\u0000${path}`;
    const now = scheduler.now();
    const current = entries.get(key);
    entries.delete(key);
    if (current !== undefined && now < current.expiresAt) {
      entries.set(key, current);
      return current;
    }
    const created: CacheEntry = {
      expiresAt: now + expire,
      terminalIndex: -1,
      register: undefined,
      terminate: undefined,
    };
    entries.set(key, created);
    if (entries.size > size) {
      const oldest = entries.keys().next();
      if (oldest.done !== true) entries.delete(oldest.value);
    }
    return created;
  }

  function learnTerminalIndex(entry: CacheEntry, index: number): void {
    if (index >= 0 && entry.terminalIndex < 0) entry.terminalIndex = index;
  }

  return {
    async registerStream(state: LogStreamState, descriptor: LogStreamDescriptor): Promise<LogStreamState> {
      const entry = entryFor(state.project, state.path);
      let pending = entry.register;
      if (pending === undefined) {
        const call = attempt(() => inner.registerStream(state, descriptor)).then((remote) => {
          learnTerminalIndex(entry, remote.terminalIndex);
          // The answer outlives this call: its secret may be a view into a caller's buffer.
          return { ...remote, secret: remote.secret.slice() };
        });
        entry.register = pending = call;
        call.catch((error: unknown) => {
          if (isTransient(error) && entry.register === call) entry.register = undefined;
        });
      }
      const remote = await pending;
      return remote.terminalIndex < 0 && entry.terminalIndex >= 0
        ? { ...remote, terminalIndex: entry.terminalIndex }
        : remote;
    },

    async terminateStream(request: TerminateRequest): Promise<void> {
      const entry = entryFor(request.project, request.path);
      if (entry.terminalIndex >= 0) {
        if (entry.terminalIndex !== request.terminalIndex) {
          logger.warn('logs: terminal index disagrees with the cached one', {
            project: request.project,
            path: request.path,
            requested: request.terminalIndex,
            cached: entry.terminalIndex,
          });
        }
        return;
      }
      let pending = entry.terminate;
      if (pending === undefined) {
        const call = attempt(() => inner.terminateStream(request)).then(() => {
          learnTerminalIndex(entry, request.terminalIndex);
        });
        entry.terminate = pending = call;
        call.catch((error: unknown) => {
          if (isTransient(error) && entry.terminate === call) entry.terminate = undefined;
        });
      }
      await pending;
    },
  };
}
