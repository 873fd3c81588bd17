import { describe, expect, it } from 'vitest';
import { TestScheduler } from 'rxjs/testing';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import fc from 'fast-check';
import { batch, dedupe, InvalidPipelineOptionError, PipelineTelemetry } from '../../src/pipeline/index.js';
import type { Batch, Entry } from '../../src/pipeline/index.js';
import { entry } from './fixtures.js';
import { silentLogger } from '../../src/util/logger.js';

const newScheduler = () =>
  new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });

const e = (uid: string) => entry(uid);

describe('batch', () => {
  it('emits as soon as maxItems entries are held', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('abcdef|', { a: e('a'), b: e('b'), c: e('c'), d: e('d'), e: e('e'), f: e('f') });
      expectObservable(source.pipe(batch({ maxItems: 3, maxTime: 100 }))).toBe('--x--y|', {
        x: [e('a'), e('b'), e('c')],
        y: [e('d'), e('e'), e('f')],
      });
      expectSubscriptions(source.subscriptions).toBe('^-----!');
    });
  });

  it('flushes by the age of the oldest entry under steady traffic (a max age, not a debounce)', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      // one entry every 4 ms, forever busy: an idle debounce of 10 ms would never fire
      const source = cold('a 3ms b 3ms c 3ms d 3ms e 3ms f 3ms g 3ms h', {
        a: e('a'), b: e('b'), c: e('c'), d: e('d'), e: e('e'), f: e('f'), g: e('g'), h: e('h'),
      });
      expectObservable(source.pipe(batch({ maxItems: 100, maxTime: 10 })), '^ 40ms !').toBe(
        '10ms x 11ms y 11ms z',
        { x: [e('a'), e('b'), e('c')], y: [e('d'), e('e'), e('f')], z: [e('g'), e('h')] },
      );
    });
  });

  it('never emits an empty batch while idle', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a 50ms b 100ms |', { a: e('a'), b: e('b') });
      expectObservable(source.pipe(batch({ maxItems: 10, maxTime: 5 }))).toBe('5ms x 50ms y 95ms |', {
        x: [e('a')],
        y: [e('b')],
      });
    });
  });

  it('flushes the last partial batch when the input completes', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('ab|', { a: e('a'), b: e('b') });
      expectObservable(source.pipe(batch({ maxItems: 10, maxTime: 1000 }))).toBe('--(x|)', {
        x: [e('a'), e('b')],
      });
    });
  });

  it('flushes what it holds before passing an error on', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('a#', { a: e('a') }, new Error('boom'));
      expectObservable(source.pipe(batch({ maxItems: 10, maxTime: 1000 }))).toBe(
        '-(x#)',
        { x: [e('a')] },
        new Error('boom'),
      );
    });
  });

  it('keeps one entry per uid: the newest change wins, a delete wins over earlier changes', () => {
    const add = entry('a', 'add', '1');
    const upd = entry('a', 'update', '2');
    const del = entry('a', 'delete', '3');
    const late = entry('a', 'update', '4');
    const b1 = entry('b', 'add', '1');
    const b2 = entry('b', 'update', '2');
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('1b2c34|', { 1: add, b: b1, 2: upd, c: b2, 3: del, 4: late });
      expectObservable(source.pipe(batch({ maxItems: 10, maxTime: 100 }))).toBe('------(x|)', {
        x: [del, b2],
      });
    });
  });

  it('counts distinct uids towards maxItems', () => {
    newScheduler().run(({ cold, expectObservable }) => {
      const source = cold('aaab|', { a: e('a'), b: e('b') });
      expectObservable(source.pipe(batch({ maxItems: 2, maxTime: 100 }))).toBe('---x|', {
        x: [e('a'), e('b')],
      });
    });
  });

  it('cancels the age timer on unsubscribe', () => {
    newScheduler().run(({ cold, expectObservable, expectSubscriptions }) => {
      const source = cold('a----', { a: e('a') });
      expectObservable(source.pipe(batch({ maxItems: 10, maxTime: 10 })), '^--!').toBe('');
      expectSubscriptions(source.subscriptions).toBe('^--!');
    });
  });

  it('refuses options out of range with a typed error', () => {
    expect(() => batch({ maxItems: 0, maxTime: 1 })).toThrow(InvalidPipelineOptionError);
    expect(() => batch({ maxItems: 1.5, maxTime: 1 })).toThrow(InvalidPipelineOptionError);
    expect(() => batch({ maxItems: 1, maxTime: -1 })).toThrow(InvalidPipelineOptionError);
  });

  it('refuses an entry without uid with a counted, logged rejection', async () => {
    const telemetry = new PipelineTelemetry();
    const warnings: string[] = [];
    const logger = { ...silentLogger, warn: (m: string) => void warnings.push(m) };
    const out = await lastValueFrom(
      from([e('a'), { ...e('x'), uid: '' }, e('b')]).pipe(batch({ maxItems: 10, maxTime: 10, telemetry, logger }), toArray()),
    );
    expect(out).toEqual([[e('a'), e('b')]]);
    expect(telemetry.snapshot().dropped['missing-uid']).toBe(1);
    expect(warnings).toHaveLength(1);
  });

  it('counts batch sizes in telemetry', async () => {
    const telemetry = new PipelineTelemetry();
    await lastValueFrom(from(['a', 'b', 'c'].map(e)).pipe(batch({ maxItems: 2, maxTime: 10, telemetry }), toArray()));
    expect(telemetry.snapshot().batches).toEqual({ count: 2, entries: 3, max: 2 });
  });
});

describe('batch (properties)', () => {
  const changes = fc.constantFrom<Entry['change']>('add', 'update', 'delete', 'snapshot');
  const specs = fc.array(
    fc.record({ uid: fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f'), change: changes, gap: fc.integer({ min: 0, max: 8 }) }),
    { maxLength: 60 },
  );

  it('batches joined equal the input deduped; none is empty or exceeds maxItems', () => {
    fc.assert(
      fc.property(specs, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 0, max: 20 }), (spec, maxItems, maxTime) => {
        const input = spec.map((s, i) => entry(s.uid, s.change, String(i)));
        // the log interleaves what entered the batcher and what it emitted, in the order it happened
        const log: ({ in: Entry } | { out: Batch })[] = [];
        const scheduler = newScheduler();
        scheduler.run(({ cold }) => {
          const values: Record<string, Entry> = {};
          let marble = '';
          input.forEach((item, i) => {
            const key = String.fromCharCode(0x100 + i);
            values[key] = item;
            marble += `${spec[i]!.gap}ms ${key} `;
          });
          cold(`${marble} 1ms |`, values)
            .pipe(
              tap((x) => log.push({ in: x })),
              batch({ maxItems, maxTime }),
            )
            .subscribe((b) => log.push({ out: b }));
        });
        // each batch must be exactly the dedupe of the entries that arrived since the previous one
        let segment: Entry[] = [];
        const batches: Batch[] = [];
        const expected: Entry[][] = [];
        for (const item of log) {
          if ('in' in item) segment.push(item.in);
          else {
            batches.push(item.out);
            expected.push(dedupe(segment));
            segment = [];
          }
        }
        expect(segment).toEqual([]); // the final partial batch was flushed
        expect(batches).toEqual(expected);
        expect(batches.flat()).toEqual(expected.flat());
        for (const b of batches) {
          expect(b.length).toBeGreaterThan(0);
          expect(b.length).toBeLessThanOrEqual(maxItems);
        }
        expect(log.filter((x) => 'in' in x)).toHaveLength(input.length);
      }),
      { numRuns: 300 },
    );
  });

  it('dedupe keeps one entry per uid, the newest unless a delete came first', () => {
    fc.assert(
      fc.property(specs, (spec) => {
        const input = spec.map((s, i) => entry(s.uid, s.change, String(i)));
        const out = dedupe(input);
        expect(new Set(out.map((x) => x.uid)).size).toBe(out.length);
        for (const kept of out) {
          const mine = input.filter((x) => x.uid === kept.uid);
          const firstDelete = mine.find((x) => x.change === 'delete');
          expect(kept).toBe(firstDelete ?? mine[mine.length - 1]);
        }
      }),
    );
  });
});
