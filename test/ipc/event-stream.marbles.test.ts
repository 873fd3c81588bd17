/**
 * The stream writer's stall timer on virtual time: a fake response whose writes complete only when
 * the test says so (the real-socket behaviour is in stream-pressure.test.ts).
 */
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { NEVER, Subject } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { TagEvent, Tagger } from '../../src/index.js';
import { writeEventStream } from '../../src/ipc/event-stream.js';
import { type ServerEvent, initialServerState, reduceServerState, serverTelemetry } from '../../src/ipc/server-state.js';
import { silentLogger } from '../../src/index.js';

/** A response whose writes stay in flight until `complete()` is called for them. */
class FakeResponse extends EventEmitter {
  writableLength = 0;
  destroyed = false;
  writableEnded = false;
  readonly written: string[] = [];
  private readonly pending: (() => void)[] = [];

  write(text: string, callback: () => void): boolean {
    this.written.push(text);
    this.writableLength += text.length;
    this.pending.push(() => {
      this.writableLength -= text.length;
      callback();
    });
    return false;
  }

  /** The reader takes every write in flight. */
  complete(): void {
    for (const done of this.pending.splice(0)) done();
  }

  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }

  ended = '';

  end(text = ''): void {
    this.ended = text;
    this.writableEnded = true;
    this.emit('close');
  }
}

function fakeTagger(live: Subject<TagEvent>): Pick<Tagger, 'events$' | 'storedTags' | 'storedEntries'> {
  return { events$: () => live, storedTags: () => [], storedEntries: () => [] };
}

/** The server's state machine, as the server keeps it, with one stream open. */
function serverWithOneStream() {
  let state = reduceServerState(initialServerState(), { type: 'stream-opened' });
  return {
    report: (event: ServerEvent) => {
      state = reduceServerState(state, event);
    },
    telemetry: () => serverTelemetry(state),
  };
}

const settings = (scheduler: TestScheduler) => ({ maxBacklog: 1024 * 1024, stallTimeout: 1000, chunkBytes: 64 * 1024, logger: silentLogger, scheduler });
const options = { cardinality: 'low' as const, prefixes: [], levels: false, keepAliveInterval: 1_000_000 };

describe('writeEventStream: the stall timer (virtual time)', () => {
  it('closes a stream whose write waits readerStallTimeout, not before, and counts it', () => {
    const scheduler = new TestScheduler((a, b) => {
      expect(a).toEqual(b);
    });
    scheduler.run(({ flush }) => {
      const res = new FakeResponse();
      const server = serverWithOneStream();
      writeEventStream(fakeTagger(new Subject()), res as unknown as ServerResponse, options, settings(scheduler), server.report, NEVER);
      expect(res.written).toEqual(['{"type":"synced","entities":0}\n']); // in flight from t=0
      scheduler.schedule(() => {
        expect(res.destroyed).toBe(false);
      }, 999);
      scheduler.schedule(() => {
        expect(res.destroyed).toBe(true);
      }, 1000);
      flush();
      expect(server.telemetry()).toMatchObject({ streamsStalled: 1, streamsCut: 0, openStreams: 0 });
    });
  });

  it('starts the timer again at each write: a reader that takes each write in time is never closed', () => {
    const scheduler = new TestScheduler((a, b) => {
      expect(a).toEqual(b);
    });
    scheduler.run(({ flush }) => {
      const res = new FakeResponse();
      const live = new Subject<TagEvent>();
      const server = serverWithOneStream();
      writeEventStream(fakeTagger(live), res as unknown as ServerResponse, options, settings(scheduler), server.report, NEVER);
      for (const t of [900, 1800, 2700]) {
        scheduler.schedule(() => {
          res.complete(); // taken at 900, 1800, 2700 ...
          live.next({ type: 'modified', entity: 'container_id://a', tags: [`t:${String(t)}`] }); // ... and a new write each time
        }, t);
      }
      scheduler.schedule(() => {
        expect(res.destroyed).toBe(false);
        expect(res.written).toHaveLength(4);
      }, 3699);
      flush();
      // The last write (at 2700) was never taken: closed at 3700.
      expect(res.destroyed).toBe(true);
      expect(server.telemetry()).toMatchObject({ streamsStalled: 1, openStreams: 0 });
    });
  });

  it('counts every line, written or still queued when the stream ends, once', () => {
    const scheduler = new TestScheduler((a, b) => {
      expect(a).toEqual(b);
    });
    scheduler.run(({ flush }) => {
      const res = new FakeResponse();
      const live = new Subject<TagEvent>();
      const closing = new Subject<void>();
      const server = serverWithOneStream();
      writeEventStream(fakeTagger(live), res as unknown as ServerResponse, options, settings(scheduler), server.report, closing);
      expect(server.telemetry().streamLines).toBe(1); // synced, in flight
      for (let i = 0; i < 3; i++) live.next({ type: 'modified', entity: 'container_id://a', tags: [`n:${String(i)}`] });
      res.complete(); // the reader takes `synced`: the three go out in one write, now in flight
      expect(res.written).toHaveLength(2);
      expect(server.telemetry().streamLines).toBe(4);
      live.next({ type: 'deleted', entity: 'container_id://a', tags: [] }); // queued behind the write in flight ...
      live.next({ type: 'modified', entity: 'container_id://b', tags: ['n:9'] });
      expect(server.telemetry().streamLines).toBe(4); // ... and counted when written
      closing.next(); // a clean end: what is queued goes out with the end, and is counted
      flush();
      expect(res.writableEnded).toBe(true);
      expect(res.ended).toContain('container_id://b');
      expect(server.telemetry()).toMatchObject({ streamLines: 6, openStreams: 0, streamsCut: 0, streamsStalled: 0 });
    });
  });
});
