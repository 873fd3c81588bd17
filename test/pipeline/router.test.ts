import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { concat, from, lastValueFrom, of, Subject, throwError, timer, toArray } from 'rxjs';
import fc from 'fast-check';
import {
  DuplicateProcessorError,
  InvalidPipelineOptionError,
  PipelineTelemetry,
  route,
  Router,
  RouterClosedError,
} from '../../src/pipeline/index.js';
import type { Batch, Overflow } from '../../src/pipeline/index.js';
import type { Logger, LogFields } from '../../src/util/logger.js';
import { entry, uids } from './fixtures.js';

const newScheduler = () =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

const b = (...ids: string[]): Batch => ids.map((id) => entry(id));

/** A logger that keeps what it was told. */
function recordingLogger(): Logger & { lines: { level: string; message: string; fields?: LogFields }[] } {
  const lines: { level: string; message: string; fields?: LogFields }[] = [];
  const at =
    (level: string) =>
    (message: string, fields?: LogFields): void => {
      lines.push(fields === undefined ? { level, message } : { level, message, fields });
    };
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

describe('route', () => {
  it('a blocked processor does not stop the others; its drops are counted, named and logged', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const logger = recordingLogger();
      const telemetry = new PipelineTelemetry();
      const router = new Router({ logger, telemetry, now: () => scheduler.now() });
      const fast: [number, string][] = [];
      const slow: [number, string][] = [];
      router.register('fast', (batch) => void fast.push([scheduler.now(), uids(batch)]), { buffer: 0 });
      // busy for 100 ms per batch: stuck for the whole test
      router.register(
        'slow',
        (batch) => {
          slow.push([scheduler.now(), uids(batch)]);
          return timer(100);
        },
        { buffer: 1, overflow: 'drop-newest' },
      );
      const source = cold('a-b-c-d|', { a: b('a'), b: b('b'), c: b('c'), d: b('d') });
      // route passes every batch on at once: nobody waited for the slow processor
      expectObservable(source.pipe(route(router))).toBe('a-b-c-d 193ms |', {
        a: b('a'), b: b('b'), c: b('c'), d: b('d'),
      });
      scheduler.flush();
      expect(fast).toEqual([[0, 'a'], [2, 'b'], [4, 'c'], [6, 'd']]);
      // slow got a at 0, held b (buffer 1), dropped c and d (newest), then got b at 100
      expect(slow).toEqual([[0, 'a'], [100, 'b']]);
      expect(router.stats().size).toBe(0); // closed at the end of the input
      expect(telemetry.snapshot().batchesDropped).toEqual({ slow: 2 });
      expect(telemetry.snapshot().dropped.overflow).toBe(2);
      expect(telemetry.snapshot().batchesDelivered).toEqual({ fast: 4, slow: 2 });
      const drops = logger.lines.filter((l) => l.level === 'warn');
      expect(drops).toHaveLength(2);
      expect(drops[0]!.message).toContain('slow');
      expect(drops[0]!.fields).toMatchObject({ processor: 'slow', overflow: 'drop-newest' });
    });
  });

  it('drop-oldest keeps the newest batches', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold }) => {
      const router = new Router();
      const seen: string[] = [];
      router.register(
        'slow',
        (batch) => {
          seen.push(uids(batch));
          return timer(10);
        },
        { buffer: 2, overflow: 'drop-oldest' },
      );
      cold('abcde|', { a: b('a'), b: b('b'), c: b('c'), d: b('d'), e: b('e') }).pipe(route(router)).subscribe();
      scheduler.flush();
      expect(seen).toEqual(['a', 'd', 'e']);
    });
  });

  it('a lossless (block) processor holds the pipeline back and loses nothing', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const router = new Router();
      const seen: [number, string][] = [];
      const fast: string[] = [];
      router.register('fast', (batch) => void fast.push(uids(batch)), { buffer: 0, overflow: 'drop-newest' });
      router.register(
        'lossless',
        (batch) => {
          seen.push([scheduler.now(), uids(batch)]);
          return timer(10);
        },
        { buffer: 1, overflow: 'block' },
      );
      const source = cold('abcd|', { a: b('a'), b: b('b'), c: b('c'), d: b('d') });
      // a: taken at 0; b: buffered; c waits for room (10), d waits for room (20)
      expectObservable(source.pipe(route(router))).toBe('ab 8ms c 9ms d 19ms |', {
        a: b('a'), b: b('b'), c: b('c'), d: b('d'),
      });
      scheduler.flush();
      expect(seen).toEqual([[0, 'a'], [10, 'b'], [20, 'c'], [30, 'd']]);
      expect(fast).toEqual(['a', 'b', 'c', 'd']);
    });
  });

  it('a failing processor is counted and logged; it and the others get the next batches', async () => {
    const logger = recordingLogger();
    const telemetry = new PipelineTelemetry();
    const router = new Router({ logger, telemetry });
    const good: string[] = [];
    const flaky: string[] = [];
    router.register('good', (batch) => void good.push(uids(batch)));
    router.register('flaky', (batch) => {
      if (uids(batch) === 'b') throw new Error('disk full');
      flaky.push(uids(batch));
    });
    router.register('rejects', (batch) => (uids(batch) === 'c' ? Promise.reject(new Error('nope')) : Promise.resolve()));
    await lastValueFrom(from([b('a'), b('b'), b('c')]).pipe(route(router), toArray()));
    expect(good).toEqual(['a', 'b', 'c']);
    expect(flaky).toEqual(['a', 'c']);
    expect(telemetry.snapshot().processorErrors).toEqual({ flaky: 1, rejects: 1 });
    const errors = logger.lines.filter((l) => l.level === 'error');
    expect(errors.map((l) => l.fields?.['processor'])).toEqual(['flaky', 'rejects']);
  });

  it('Observer processors get next per batch and complete after the last, once closing flushed', async () => {
    const router = new Router();
    const events: string[] = [];
    router.register('observer', { next: (batch) => events.push(uids(batch)), complete: () => events.push('complete') });
    router.register('slow', () => new Promise((resolve) => setTimeout(resolve, 5)), { buffer: 8, overflow: 'block' });
    await lastValueFrom(from([b('a'), b('b')]).pipe(route(router)));
    expect(events).toEqual(['a', 'b', 'complete']);
    expect(router.names()).toEqual([]);
  });

  it('closing waits for an Observer processor\'s complete() to settle (a file being flushed)', async () => {
    const router = new Router();
    const events: string[] = [];
    router.register('slow-close', {
      next: () => undefined,
      complete: () => new Promise<void>((resolve) => setTimeout(() => {
        events.push('flushed');
        resolve();
      }, 20)),
    });
    await lastValueFrom(of(b('a')).pipe(route(router)), { defaultValue: undefined });
    events.push('route completed');
    expect(events).toEqual(['flushed', 'route completed']);
  });

  it('an input error reaches Observer processors after their held batches', async () => {
    const router = new Router();
    const events: string[] = [];
    router.register('observer', { next: (batch) => events.push(uids(batch)), error: (e) => events.push(String(e)) });
    const failing = concat(of(b('a')), throwError(() => new Error('boom')));
    await expect(lastValueFrom(failing.pipe(route(router)))).rejects.toThrow('boom');
    expect(events).toEqual(['a', 'Error: boom']);
  });

  it('unregister delivers what the processor holds, completes it, and stops its deliveries', async () => {
    const router = new Router();
    const seen: string[] = [];
    let completed = false;
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    router.register(
      'p',
      {
        next: (batch) => {
          seen.push(uids(batch));
        },
        complete: () => {
          completed = true;
        },
      },
      { buffer: 4 },
    );
    router.register('gate', () => gate, { buffer: 4 });
    await lastValueFrom(router.dispatch(b('a')));
    await router.unregister('p');
    expect(completed).toBe(true);
    await lastValueFrom(router.dispatch(b('b')));
    expect(seen).toEqual(['a']);
    release();
    await router.close();
  });

  it('unregistering a blocked lossless processor releases the pipeline', async () => {
    const router = new Router();
    router.register('stuck', () => new Promise(() => undefined), { buffer: 0, overflow: 'block' });
    await lastValueFrom(router.dispatch(b('a')));
    const waiting = lastValueFrom(router.dispatch(b('b')));
    // the lane never drains, so unregister never resolves; but the dispatch must be released
    void router.unregister('stuck');
    await expect(waiting).resolves.toEqual(b('b'));
  });

  it('refuses duplicate names, bad buffers and use after close with typed errors', async () => {
    const router = new Router();
    router.register('a', () => undefined);
    expect(() => { router.register('a', () => undefined); }).toThrow(DuplicateProcessorError);
    expect(() => { router.register('b', () => undefined, { buffer: -1 }); }).toThrow(InvalidPipelineOptionError);
    await router.close();
    await router.close(); // idempotent
    expect(() => { router.register('c', () => undefined); }).toThrow(RouterClosedError);
    await expect(lastValueFrom(router.dispatch(b('x')))).rejects.toBeInstanceOf(RouterClosedError);
  });

  it('an idle router with no processor completes with its input', async () => {
    const router = new Router();
    await expect(lastValueFrom(of(b('a')).pipe(route(router), toArray()))).resolves.toEqual([b('a')]);
  });
});

describe('route (properties)', () => {
  const processorSpec = fc.record({
    delay: fc.integer({ min: 0, max: 30 }),
    overflow: fc.constantFrom<Overflow>('drop-oldest', 'drop-newest', 'block'),
    sync: fc.boolean(),
  });

  it('every processor sees every batch in order when its buffer suffices', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 }),
        fc.array(processorSpec, { minLength: 1, maxLength: 4 }),
        (gaps, specs) => {
          const scheduler = newScheduler();
          const batches = gaps.map((_, i) => b(`u${i}`));
          const seen: string[][] = specs.map(() => []);
          scheduler.run(({ cold }) => {
            const router = new Router();
            specs.forEach((spec, i) => {
              router.register(
                `p${i}`,
                (batch) => {
                  seen[i]!.push(uids(batch));
                  return spec.sync ? undefined : timer(spec.delay);
                },
                { buffer: batches.length, overflow: spec.overflow },
              );
            });
            const values: Record<string, Batch> = {};
            const marble = gaps.map((gap, i) => {
              const key = String.fromCharCode(0x100 + i);
              values[key] = batches[i]!;
              return `${gap}ms ${key}`;
            });
            cold(`${marble.join(' ')} |`, values).pipe(route(router)).subscribe();
          });
          for (const s of seen) expect(s).toEqual(batches.map(uids));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('with small buffers, each batch is delivered or dropped exactly once per processor, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 30 }),
        fc.array(fc.record({ delay: fc.integer({ min: 0, max: 30 }), buffer: fc.integer({ min: 0, max: 3 }), overflow: fc.constantFrom<Overflow>('drop-oldest', 'drop-newest', 'block') }), { minLength: 1, maxLength: 4 }),
        (gaps, specs) => {
          const scheduler = newScheduler();
          const batches = gaps.map((_, i) => b(`u${i}`));
          const seen: number[][] = specs.map(() => []);
          const telemetry = new PipelineTelemetry();
          scheduler.run(({ cold }) => {
            const router = new Router({ telemetry });
            specs.forEach((spec, i) => {
              router.register(
                `p${i}`,
                (batch) => {
                  seen[i]!.push(Number(uids(batch).slice(1)));
                  return timer(spec.delay);
                },
                { buffer: spec.buffer, overflow: spec.overflow },
              );
            });
            const values: Record<string, Batch> = {};
            const marble = gaps.map((gap, i) => {
              const key = String.fromCharCode(0x100 + i);
              values[key] = batches[i]!;
              return `${gap}ms ${key}`;
            });
            cold(`${marble.join(' ')} |`, values).pipe(route(router)).subscribe();
          });
          const snap = telemetry.snapshot();
          specs.forEach((spec, i) => {
            const got = seen[i]!;
            expect([...got].sort((x, y) => x - y)).toEqual(got); // in order
            expect(new Set(got).size).toBe(got.length); // no duplicates
            expect(got.length + (snap.batchesDropped[`p${i}`] ?? 0)).toBe(batches.length);
            if (spec.overflow === 'block') expect(got.length).toBe(batches.length);
          });
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('route: the backlog while a lossless processor is full', () => {
  it('holds at most maxPending batches; drops the oldest for every processor, counted and logged', async () => {
    const telemetry = new PipelineTelemetry();
    const logger = recordingLogger();
    const router = new Router({ telemetry, logger, maxPending: 8 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: string[] = [];
    const fast: string[] = [];
    router.register('fast', (batch) => void fast.push(uids(batch)));
    router.register(
      'slow',
      async (batch) => {
        slow.push(uids(batch));
        await gate;
      },
      { buffer: 1, overflow: 'block' },
    );
    const input = new Subject<Batch>();
    const routed = lastValueFrom(input.pipe(route(router), toArray()));
    // A hot source keeps pushing while `slow` is stuck: 1,000 batches.
    for (let i = 0; i < 1000; i++) input.next(b(`u${i}`));
    // The pipeline waits: fast got u0, u1 and u2 (u2 waits for room in slow's buffer), nothing since.
    expect(fast).toEqual(['u0', 'u1', 'u2']);
    input.complete();
    release();
    const out = (await routed).map(uids);
    // What was held is the last 8 batches: u3..u991 were dropped for everyone, not held.
    const kept = ['u0', 'u1', 'u2', ...Array.from({ length: 8 }, (_, i) => `u${992 + i}`)];
    expect(slow).toEqual(kept);
    expect(fast).toEqual(kept);
    expect(out).toEqual(kept);
    expect(router.backlog()).toEqual({ queued: 0, dropped: 989 });
    expect(telemetry.snapshot().dropped.backlog).toBe(989);
    const warned = logger.lines.filter((l) => l.level === 'warn' && l.message.includes('backlog'));
    expect(warned.length).toBeGreaterThan(0);
    expect(warned.at(-1)?.fields).toMatchObject({ droppedBatches: 989, maxPending: 8 });
  });

  it('holds them all with maxPending: Infinity (lossless, unbounded)', async () => {
    const router = new Router({ maxPending: Number.POSITIVE_INFINITY });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow: string[] = [];
    router.register('slow', async (batch) => {
      slow.push(uids(batch));
      await gate;
    }, { buffer: 0, overflow: 'block' });
    const input = new Subject<Batch>();
    const routed = lastValueFrom(input.pipe(route(router), toArray()));
    for (let i = 0; i < 300; i++) input.next(b(`u${i}`));
    expect(router.backlog()).toEqual({ queued: 298, dropped: 0 });
    input.complete();
    release();
    expect((await routed).length).toBe(300);
    expect(slow.length).toBe(300);
  });

  it('drops from the backlog on virtual time (marbles)', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const router = new Router({ maxPending: 1 });
      const seen: string[] = [];
      router.register('lossless', (batch) => {
        seen.push(uids(batch));
        return timer(10);
      }, { buffer: 0, overflow: 'block' });
      // a taken at 0; b waits for room; c, d, e arrive meanwhile: the backlog keeps the newest (e).
      const source = cold('abcde|', { a: b('a'), b: b('b'), c: b('c'), d: b('d'), e: b('e') });
      expectObservable(source.pipe(route(router))).toBe('a 9ms b 9ms e 9ms |', { a: b('a'), b: b('b'), e: b('e') });
      scheduler.flush();
      expect(seen).toEqual(['a', 'b', 'e']);
      expect(router.backlog().dropped).toBe(2);
    });
  });

  it('with maxPending 0 holds nothing: a batch that arrives while a dispatch waits is dropped', () => {
    const scheduler = newScheduler();
    scheduler.run(({ cold, expectObservable }) => {
      const router = new Router({ maxPending: 0 });
      const seen: string[] = [];
      router.register('lossless', (batch) => {
        seen.push(uids(batch));
        return timer(10);
      }, { buffer: 0, overflow: 'block' });
      // a taken at 0; b waits for room; c arrives while b waits: dropped; d arrives after b was taken.
      const source = cold('abc 9ms d|', { a: b('a'), b: b('b'), c: b('c'), d: b('d') });
      expectObservable(source.pipe(route(router))).toBe('a 9ms b 9ms d 9ms |', { a: b('a'), b: b('b'), d: b('d') });
      scheduler.flush();
      expect(seen).toEqual(['a', 'b', 'd']);
      expect(router.backlog()).toEqual({ queued: 0, dropped: 1 });
    });
  });

  it('rejects a maxPending that is not an integer >= 0 or Infinity', () => {
    expect(() => new Router({ maxPending: -1 })).toThrow(InvalidPipelineOptionError);
    expect(() => new Router({ maxPending: 1.5 })).toThrow(InvalidPipelineOptionError);
  });
});
