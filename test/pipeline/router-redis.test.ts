/**
 * A lossless (`block`) processor that writes to a real Redis, and Redis paused (SIGSTOP): the
 * processor hangs, the pipeline waits, and what the route holds meanwhile stays bounded.
 */
import { Redis } from 'ioredis';
import { lastValueFrom, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { PipelineTelemetry, route, Router } from '../../src/pipeline/index.js';
import type { Batch } from '../../src/pipeline/index.js';
import { redisUnavailableReason, startRedis } from '../services/redis.js';
import { entry, uids } from './fixtures.js';

const unavailable = redisUnavailableReason();
const b = (id: string): Batch => [entry(id)];

describe.skipIf(unavailable !== undefined)('route with a block processor on a paused Redis', () => {
  it('holds at most maxPending batches while Redis is paused; Redis gets the rest in order after', async () => {
    const server = await startRedis();
    const client = new Redis(server.url);
    const telemetry = new PipelineTelemetry();
    const router = new Router({ telemetry, maxPending: 8 });
    const fast: string[] = [];
    router.register('fast', (batch) => void fast.push(uids(batch)));
    router.register('redis', (batch) => client.rpush('batches', uids(batch)), { buffer: 1, overflow: 'block' });
    const input = new Subject<Batch>();
    const routed = lastValueFrom(input.pipe(route(router), toArray()));
    try {
      input.next(b('first'));
      while ((await client.llen('batches')) < 1) await new Promise((r) => setTimeout(r, 5));

      server.pause();
      for (let i = 0; i < 500; i++) input.next(b(`u${i}`));
      // u0 is being written (hung), u1 waits in the buffer, u2 waits for room: every processor waits.
      expect(fast).toEqual(['first', 'u0', 'u1', 'u2']);
      const heldWhilePaused = typeof router.backlog === 'function' ? router.backlog() : undefined;

      server.resume();
      input.complete();
      const out = (await routed).map(uids);
      const kept = ['first', 'u0', 'u1', 'u2', ...Array.from({ length: 8 }, (_, i) => `u${492 + i}`)];
      expect(await client.lrange('batches', 0, -1)).toEqual(kept);
      expect(out).toEqual(kept);
      expect(fast).toEqual(kept);
      expect(heldWhilePaused).toEqual({ queued: 8, dropped: 489 });
      expect(telemetry.snapshot().dropped.backlog).toBe(489);
    } finally {
      server.resume();
      client.disconnect();
      await server.stop();
    }
  }, 60_000);
});
