import { from, lastValueFrom, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type CollectOutcome,
  createLogCollector,
  decodeLogEntry,
  memoryCoordinator,
} from '../../src/logs/index.js';
import { redisStorage } from '../../src/logs/redis.js';
import { silentLogger } from '../../src/util/logger.js';
import { redisUnavailableReason, startRedis } from '../services/redis.js';
import { BundleBuilder } from './helpers.js';

const unavailable = redisUnavailableReason();
const STREAMS = 8;
const BLOCKS = 40; // messages per stream
const PER_BLOCK = 25; // entries per message

describe.skipIf(unavailable !== undefined)('redis storage across a Redis restart', () => {
  it('loses nothing once the messages that failed are redelivered', async () => {
    const server = await startRedis({ persistent: true });
    const storage = redisStorage({ url: server.url, redisOptions: { maxRetriesPerRequest: 0 }, logger: silentLogger });
    const coordinator = memoryCoordinator();
    const collector = createLogCollector({ coordinator, storage, maxMessageWorkers: 4, logger: silentLogger });
    try {
      // Each message carries one block of one stream; the last block of each stream is terminal.
      const bb = new BundleBuilder();
      const messages: Uint8Array[] = [];
      for (let block = 0; block < BLOCKS; block++) {
        for (let s = 0; s < STREAMS; s++) {
          const first = block * PER_BLOCK;
          const indexes = Array.from({ length: PER_BLOCK }, (_, i) => first + i);
          const terminal = block === BLOCKS - 1 ? first + PER_BLOCK - 1 : -1;
          bb.addStreamEntries(`foo/+/s${s}`, terminal, ...indexes);
          messages.push(bb.bundle());
        }
      }

      // A transport: deliver everything; redeliver what was NACKed (transient), until none is.
      let pending = messages;
      let delivered = 0;
      let redelivered = 0;
      let restart: Promise<void> | undefined;
      for (let round = 0; pending.length > 0; round++) {
        if (round > 50) throw new Error(`${pending.length} messages still failing after 50 rounds`);
        const outcomes: CollectOutcome<Uint8Array>[] = await lastValueFrom(
          from(pending).pipe(
            collector.collect,
            tap(() => {
              // Crash Redis a third of the way through the first delivery.
              if (++delivered === Math.floor(messages.length / 3)) restart = server.restart();
            }),
            toArray(),
          ),
        );
        for (const outcome of outcomes) {
          if (outcome.error !== undefined && !outcome.redeliver) throw outcome.error;
        }
        pending = outcomes.filter((o) => o.redeliver).map((o) => o.message);
        redelivered += pending.length;
        await restart;
        if (pending.length > 0) await new Promise((r) => setTimeout(r, 100));
      }

      expect(restart).toBeDefined();
      // The crash hit ingestion: some messages failed transiently and were redelivered.
      expect(redelivered).toBeGreaterThan(0);
      expect(collector.stats().permanentErrors).toBe(0);
      for (let s = 0; s < STREAMS; s++) {
        const path = `foo/+/s${s}`;
        const stored = await storage.get({ project: 'test-project', path });
        expect(stored.map((e) => e.index)).toEqual(Array.from({ length: BLOCKS * PER_BLOCK }, (_, i) => i));
        expect(stored.every((e) => decodeLogEntry(e.data).streamIndex === e.index)).toBe(true);
        expect(coordinator.stream('test-project', path)?.state.terminalIndex).toBe(BLOCKS * PER_BLOCK - 1);
      }
    } finally {
      await collector.close();
      await storage.close();
      await server.stop();
    }
  });
});
