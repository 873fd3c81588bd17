import fc from 'fast-check';
import { NEVER, type Observable, map, merge, timer } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { type Mock, describe, expect, it, vi } from 'vitest';
import {
  type LogLine,
  type TaggedLogLine,
  tagLogLines,
  tagLogLinesCounters,
} from '../../examples/hold-first-lines.js';
import { type Collector, type LogFields, type Logger, type TagInfo, containerId, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';

function testScheduler() {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

const runtimeInfo = (id: string): TagInfo => tagInfo({ entity: containerId(id), source: 'runtime', low: [`image_name:${id}-image`], high: [`container_name:${id}`] });
const orchestratorInfo = (id: string): TagInfo => tagInfo({ entity: containerId(id), source: 'orchestrator', orchestrator: [`pod_name:${id}-pod`] });
/** Both sources' tags at 'high', in the store's order: low, orchestrator, high. */
const bothTags = (id: string) => [`image_name:${id}-image`, `pod_name:${id}-pod`, `container_name:${id}`];
const runtimeTags = (id: string) => [`image_name:${id}-image`, `container_name:${id}`];

const runtime = (tagInfo$: Observable<TagInfo>): Collector => ({ ...streamCollector('runtime', tagInfo$), covers: ['container_id'] });
const orchestrator = (fetch: (entity: string) => Observable<TagInfo>): Collector => ({
  source: 'orchestrator',
  priority: 1,
  mode: 'fetch',
  fetch,
  covers: ['container_id'],
});

const line = (id: string, time: number, message: string): LogLine => ({ containerId: id, time, message });
const tagged = (l: LogLine, tags: readonly string[], complete: boolean, heldUntil?: TaggedLogLine['heldUntil']): TaggedLogLine =>
  heldUntil === undefined ? { ...l, tags, complete } : { ...l, tags, complete, heldUntil };

function spyLogger(): { readonly logger: Logger; readonly warn: Mock<(message: string, fields?: LogFields) => void> } {
  const warn = vi.fn<(message: string, fields?: LogFields) => void>();
  return { logger: { ...silentLogger, warn }, warn };
}

describe('tagLogLines (examples/hold-first-lines.ts)', () => {
  it('a slow second source answering at 300 ms: the first lines come out at 300 ms, in order, with both sources\' tags; a later line passes at once', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const fetch = () => cold<TagInfo>('300ms (o|)', { o: orchestratorInfo('a') });
      const tagger = createTagger({ collectors: [runtime(hot<TagInfo>('r', { r: runtimeInfo('a') })), orchestrator(fetch)], scheduler: ts, logger: silentLogger });
      tagger.start();
      const L = { a: line('a', 0, 'one'), b: line('a', 10, 'two'), c: line('a', 20, 'three'), d: line('a', 400, 'four') };
      const counters = tagLogLinesCounters();
      const out = hot<LogLine>('a 9ms b 9ms c 379ms d 99ms |', L).pipe(tagLogLines(tagger, { holdMs: 500, scheduler: ts, logger: silentLogger, counters }));
      expectObservable(out).toBe('300ms (abc) 95ms d 99ms |', {
        a: tagged(L.a, bothTags('a'), true, 'complete'),
        b: tagged(L.b, bothTags('a'), true, 'complete'),
        c: tagged(L.c, bothTags('a'), true, 'complete'),
        d: tagged(L.d, bothTags('a'), true),
      });
      ts.schedule(() => {
        expect(counters).toEqual({ passed: 1, released: { complete: 3, deadline: 0, cap: 0, 'tagger-stopped': 0, 'lookup-failed': 0 } });
        tagger.stop();
      }, 1000);
    });
  });

  it('a source that never answers: the held lines come out at 500 ms with what there is, incomplete; later lines pass', () => {
    const ts = testScheduler();
    ts.run(({ hot, expectObservable }) => {
      const tagger = createTagger({ collectors: [runtime(hot<TagInfo>('r', { r: runtimeInfo('a') })), orchestrator(() => NEVER)], scheduler: ts, logger: silentLogger });
      tagger.start();
      const L = { a: line('a', 0, 'one'), b: line('a', 10, 'two'), c: line('a', 600, 'three') };
      const out = hot<LogLine>('a 9ms b 589ms c 99ms |', L).pipe(tagLogLines(tagger, { scheduler: ts, logger: silentLogger }));
      expectObservable(out).toBe('500ms (ab) 96ms c 99ms |', {
        a: tagged(L.a, runtimeTags('a'), false, 'deadline'),
        b: tagged(L.b, runtimeTags('a'), false, 'deadline'),
        c: tagged(L.c, runtimeTags('a'), false),
      });
      ts.schedule(() => tagger.stop(), 3000);
    });
  });

  it('two containers interleaved: a slow one does not hold up the other', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const fetch = (entity: string) =>
        entity === containerId('a') ? cold<TagInfo>('300ms (o|)', { o: orchestratorInfo('a') }) : cold<TagInfo>('20ms (o|)', { o: orchestratorInfo('b') });
      const tagger = createTagger({
        collectors: [runtime(hot<TagInfo>('(rs)', { r: runtimeInfo('a'), s: runtimeInfo('b') })), orchestrator(fetch)],
        scheduler: ts,
        logger: silentLogger,
      });
      tagger.start();
      const L = { a: line('a', 0, 'a1'), b: line('b', 5, 'b1'), c: line('a', 10, 'a2'), d: line('b', 30, 'b2'), e: line('b', 100, 'b3') };
      const out = hot<LogLine>('a 4ms b 4ms c 19ms d 69ms e 299ms |', L).pipe(tagLogLines(tagger, { scheduler: ts, logger: silentLogger }));
      expectObservable(out).toBe('20ms b 9ms d 69ms e 199ms (ac) 96ms |', {
        a: tagged(L.a, bothTags('a'), true, 'complete'),
        c: tagged(L.c, bothTags('a'), true, 'complete'),
        b: tagged(L.b, bothTags('b'), true, 'complete'),
        d: tagged(L.d, bothTags('b'), true),
        e: tagged(L.e, bothTags('b'), true),
      });
      ts.schedule(() => tagger.stop(), 1000);
    });
  });

  it('a cap reached: every held line comes out at once, in order, with the tags so far, counted and logged; nothing lost', () => {
    const ts = testScheduler();
    const { logger, warn } = spyLogger();
    const counters = tagLogLinesCounters();
    ts.run(({ cold, hot, expectObservable }) => {
      const fetch = () => cold<TagInfo>('300ms (o|)', { o: orchestratorInfo('a') });
      const tagger = createTagger({ collectors: [runtime(hot<TagInfo>('r', { r: runtimeInfo('a') })), orchestrator(fetch)], scheduler: ts, logger: silentLogger });
      tagger.start();
      const L = { a: line('a', 0, '1'), b: line('a', 1, '2'), c: line('a', 2, '3'), d: line('a', 3, '4'), e: line('a', 10, '5'), f: line('a', 400, '6') };
      const out = hot<LogLine>('abcd------e 389ms f|', L).pipe(tagLogLines(tagger, { maxHeldPerContainer: 3, scheduler: ts, logger, counters }));
      expectObservable(out).toBe('---(abcd)-e 389ms f|', {
        a: tagged(L.a, runtimeTags('a'), false, 'cap'),
        b: tagged(L.b, runtimeTags('a'), false, 'cap'),
        c: tagged(L.c, runtimeTags('a'), false, 'cap'),
        d: tagged(L.d, runtimeTags('a'), false, 'cap'),
        e: tagged(L.e, runtimeTags('a'), false),
        f: tagged(L.f, bothTags('a'), true),
      });
      ts.schedule(() => tagger.stop(), 1000);
    });
    expect(counters).toEqual({ passed: 2, released: { complete: 0, deadline: 0, cap: 4, 'tagger-stopped': 0, 'lookup-failed': 0 } });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('too many lines held'), { containerId: 'a', lines: 4, cap: 3 });
  });

  it('a source error waits for the held lines: they come out at the end of their hold, then the error', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable }) => {
      const fetch = () => cold<TagInfo>('300ms (o|)', { o: orchestratorInfo('a') });
      const tagger = createTagger({ collectors: [runtime(hot<TagInfo>('r', { r: runtimeInfo('a') })), orchestrator(fetch)], scheduler: ts, logger: silentLogger });
      tagger.start();
      const L = { a: line('a', 0, 'one') };
      const boom = new Error('boom');
      const out = hot<LogLine>('a 9ms #', L, boom).pipe(tagLogLines(tagger, { scheduler: ts, logger: silentLogger }));
      expectObservable(out).toBe('300ms (a#)', { a: tagged(L.a, bothTags('a'), true, 'complete') }, boom);
      ts.schedule(() => tagger.stop(), 1000);
    });
  });

  it('a tagger that stops: held lines come out at once with what is stored; an id it refuses: its lines are not held', () => {
    const ts = testScheduler();
    const { logger, warn } = spyLogger();
    ts.run(({ hot, expectObservable }) => {
      const tagger = createTagger({ collectors: [runtime(hot<TagInfo>('r', { r: runtimeInfo('a') })), orchestrator(() => NEVER)], scheduler: ts, logger: silentLogger });
      tagger.start();
      const L = { a: line('a', 0, 'one'), x: line('bad\u0000id', 0, 'two') };
      const out = hot<LogLine>('(ax) 96ms |', L).pipe(tagLogLines(tagger, { scheduler: ts, logger }));
      // The id is refused at once, so its line is never held; a's is held until the stop at 50.
      expectObservable(out).toBe('x 49ms a 49ms |', {
        x: tagged(L.x, [], false),
        a: tagged(L.a, runtimeTags('a'), false, 'tagger-stopped'),
      });
      ts.schedule(() => tagger.stop(), 50);
    });
    expect(warn).toHaveBeenCalledWith(expect.stringContaining('look-up failed'), expect.objectContaining({ containerId: 'bad\u0000id' }));
  });

  it('refuses options that would break its guarantees', () => {
    const tagger = createTagger({ logger: silentLogger });
    expect(() => tagLogLines(tagger, { holdMs: -1 })).toThrow(RangeError);
    expect(() => tagLogLines(tagger, { maxHeldPerContainer: 0 })).toThrow(RangeError);
    expect(() => tagLogLines(tagger, { holdMs: 500, idleMs: 500 })).toThrow(RangeError);
  });

  it('property: for any interleaving of lines of several containers and any answer times, each container\'s lines come out in their order, none lost or duplicated, none later than holdMs after it was written', () => {
    const HOLD = 30;
    const CONTAINERS = ['c0', 'c1', 'c2'];
    const input = fc.record({
      lines: fc.array(fc.record({ container: fc.integer({ min: 0, max: 2 }), gap: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 120 })) }), { maxLength: 40 }),
      // Per container: when the runtime reports it (or never), when the orchestrator answers an ask (or never).
      runtimeAt: fc.array(fc.option(fc.integer({ min: 0, max: 200 })), { minLength: 3, maxLength: 3 }),
      answerAfter: fc.array(fc.option(fc.integer({ min: 0, max: 80 })), { minLength: 3, maxLength: 3 }),
      maxHeld: fc.integer({ min: 1, max: 5 }),
      stopAt: fc.option(fc.integer({ min: 0, max: 600 })),
    });
    fc.assert(
      fc.property(input, ({ lines, runtimeAt, answerAfter, maxHeld, stopAt }) => {
        let time = 0;
        const written: LogLine[] = lines.map(({ container, gap }, i) => {
          time += gap;
          return line(CONTAINERS[container]!, time, `m${i}`);
        });
        const out: { readonly line: TaggedLogLine; readonly at: number }[] = [];
        let completed = false;
        const ts = new TestScheduler(() => undefined);
        ts.run(() => {
          const runtime$ = merge(
            ...CONTAINERS.flatMap((id, i) => {
              const at = runtimeAt[i];
              return at === null || at === undefined ? [] : [timer(at).pipe(map(() => runtimeInfo(id)))];
            }),
          );
          const fetch = (entity: string) => {
            const i = CONTAINERS.findIndex((id) => containerId(id) === entity);
            const after = answerAfter[i];
            return after === null || after === undefined ? NEVER : timer(after).pipe(map(() => orchestratorInfo(CONTAINERS[i]!)));
          };
          const tagger = createTagger({ collectors: [runtime(runtime$), orchestrator(fetch)], fetchTimeout: 100, completenessRetryDelays: [20], scheduler: ts, logger: silentLogger });
          tagger.start();
          if (stopAt !== null) ts.schedule(() => tagger.stop(), stopAt);
          else ts.schedule(() => tagger.stop(), time + 1000);
          merge(...written.map((l) => timer(l.time).pipe(map(() => l))))
            .pipe(tagLogLines(tagger, { holdMs: HOLD, idleMs: 2 * HOLD, maxHeldPerContainer: maxHeld, scheduler: ts, logger: silentLogger }))
            .subscribe({
              next: (l) => out.push({ line: l, at: ts.now() }),
              complete: () => {
                completed = true;
              },
            });
        });
        expect(completed).toBe(true);
        for (const id of CONTAINERS) {
          expect(out.filter((o) => o.line.containerId === id).map((o) => o.line.message)).toEqual(written.filter((l) => l.containerId === id).map((l) => l.message));
        }
        for (const { line: l, at } of out) expect(at - l.time).toBeLessThanOrEqual(HOLD);
      }),
      { numRuns: 300 },
    );
  });
});
