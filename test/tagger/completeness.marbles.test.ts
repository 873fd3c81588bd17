import type { Observable } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type Collector, type TagInfo, type TagLookup, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';

const A = 'container_id://a';

function testScheduler() {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

const infos: Record<string, TagInfo> = {
  d: tagInfo({ entity: A, source: 'docker', low: ['d:1'] }),
  k: tagInfo({ entity: A, source: 'kubelet', low: ['k:1'] }),
};

const docker = (tagInfo$: Observable<TagInfo>): Collector => ({
  ...streamCollector('docker', tagInfo$),
  covers: ['container_id'],
});

describe('completeness (marbles)', () => {
  it('asks an expected fetching source as soon as another source reports the entity, without any query', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const fetch$ = cold<TagInfo>('---(k|)', infos);
      const kubelet: Collector = { source: 'kubelet', priority: 1, mode: 'fetch', fetch: () => fetch$, covers: ['container_id'] };
      const tagger = createTagger({ collectors: [docker(hot<TagInfo>('-d------', infos)), kubelet], scheduler: ts, logger: silentLogger });
      tagger.start();
      ts.schedule(() => tagger.stop(), 7);
      expectObservable(tagger.events$({ cardinality: 'low' })).toBe('-a--m--|', {
        a: { type: 'added', entity: A, tags: ['d:1'], complete: false },
        m: { type: 'modified', entity: A, tags: ['k:1', 'd:1'], complete: true },
      });
      expectSubscriptions(fetch$.subscriptions).toBe('-^--!');
    });
  });

  it('asks again after "not found" at each of completenessRetryDelays (from the previous answer); the last "not found" is final and completes the entity', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const fetch$ = cold<TagInfo>('--|');
      const kubelet: Collector = { source: 'kubelet', priority: 1, mode: 'fetch', fetch: () => fetch$, covers: ['container_id'] };
      const tagger = createTagger({
        collectors: [docker(hot<TagInfo>('-d', infos)), kubelet],
        completenessRetryDelays: [5, 10],
        scheduler: ts,
        logger: silentLogger,
      });
      tagger.start();
      ts.schedule(() => tagger.stop(), 25);
      expectObservable(tagger.events$()).toBe('-a--------------------m--|', {
        a: { type: 'added', entity: A, tags: ['d:1'], complete: false },
        // Complete with the same tags: the final "not found" counts as kubelet's report.
        m: { type: 'modified', entity: A, tags: ['d:1'], complete: true },
      });
      expectSubscriptions(fetch$.subscriptions).toBe(['-^-!', '--------^-!', '--------------------^-!']);
    });
  });

  it('a fetch answering an empty TagInfo is a "not found" like one emitting nothing: asked again, final at the last ask', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const fetch$ = cold<TagInfo>('--(e|)', { e: tagInfo({ entity: A, source: 'kubelet' }) });
      const kubelet: Collector = { source: 'kubelet', priority: 1, mode: 'fetch', fetch: () => fetch$, covers: ['container_id'] };
      const tagger = createTagger({ collectors: [docker(hot<TagInfo>('-d', infos)), kubelet], completenessRetryDelays: [5], scheduler: ts, logger: silentLogger });
      tagger.start();
      ts.schedule(() => tagger.stop(), 12);
      expectObservable(tagger.events$()).toBe('-a--------m-|', {
        a: { type: 'added', entity: A, tags: ['d:1'], complete: false },
        m: { type: 'modified', entity: A, tags: ['d:1'], complete: true },
      });
      expectSubscriptions(fetch$.subscriptions).toBe(['-^-!', '--------^-!']);
    });
  });

  it('stops asking again once the source reports by its own stream', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectSubscriptions }) => {
      const fetch$ = cold<TagInfo>('--|');
      const kubeletInfo$ = hot<TagInfo>('-----k', infos);
      const kubelet: Collector = { source: 'kubelet', priority: 1, mode: 'pull', tagInfo$: kubeletInfo$, fetch: () => fetch$, covers: ['container_id'] };
      const tagger = createTagger({
        collectors: [docker(hot<TagInfo>('-d', infos)), kubelet],
        completenessRetryDelays: [5, 10],
        scheduler: ts,
        logger: silentLogger,
      });
      tagger.start();
      ts.schedule(() => tagger.stop(), 30);
      // Asked at 1 ("not found" at 3); kubelet's stream reports at 5, before the re-ask due at 8.
      expectSubscriptions(fetch$.subscriptions).toBe('-^-!');
    });
  });

  it('lookup$ emits on a change of completeness as on a change of tags (a stream-only expected source)', () => {
    const ts = testScheduler();
    ts.run(({ hot, expectObservable }) => {
      const kubelet: Collector = { ...streamCollector('kubelet', hot<TagInfo>('-----k', infos), { priority: 1 }), covers: ['container_id'] };
      const tagger = createTagger({ collectors: [docker(hot<TagInfo>('-d', infos)), kubelet], scheduler: ts, logger: silentLogger });
      tagger.start();
      ts.schedule(() => tagger.stop(), 8);
      expectObservable(tagger.lookup$(A)).toBe('ab---c--|', {
        a: { tags: [], complete: false, missing: ['docker', 'kubelet'] },
        b: { tags: ['d:1'], complete: false, missing: ['kubelet'] },
        c: { tags: ['k:1', 'd:1'], complete: true, missing: [] },
      });
      ts.schedule(() => {
        const c = tagger.telemetry().completeness;
        expect(c.delayMs.container_id).toEqual({ le: [10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000], counts: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], count: 1, sum: 4 });
        expect(c.incompleteEntities).toBe(0);
        expect(c.earlyAsks).toBe(0); // nothing to ask: kubelet has no fetch
      }, 7);
    });
  });

  it('lookup$ follows tags and completeness; a lookup waits for completeness up to its deadline, and joins the ask in flight', async () => {
    const ts = testScheduler();
    const answers: Promise<TagLookup>[] = [];
    let fetches = 0;
    ts.run(({ cold, hot, expectObservable }) => {
      const fetch$ = cold<TagInfo>('---------(k|)', infos);
      const kubelet: Collector = {
        source: 'kubelet',
        priority: 1,
        mode: 'fetch',
        fetch: () => {
          fetches += 1;
          return fetch$;
        },
        covers: ['container_id'],
      };
      const tagger = createTagger({ collectors: [docker(hot<TagInfo>('-d', infos)), kubelet], scheduler: ts, fetchTimeout: 50, logger: silentLogger });
      tagger.start();
      // Asked at 1 by the early ask; kubelet answers at 10.
      ts.schedule(() => {
        answers.push(tagger.lookup(A, { waitForComplete: 4 })); // deadline 6: incomplete
        answers.push(tagger.lookup(A, { waitForComplete: 20 })); // complete at 10
        answers.push(tagger.lookup(A)); // no wait: joins the ask (a fetch due), answers at 10
      }, 2);
      ts.schedule(() => {
        expect(tagger.telemetry().completeness).toMatchObject({ lookupsIncompleteAtDeadline: 1, earlyAsks: 1, reasks: 0, incompleteEntities: 0 });
        tagger.stop();
      }, 14);
      // From 2, a fetch of kubelet is due (the ask in flight): lookup$ waits for it, then follows.
      expectObservable(tagger.lookup$(A), '--^').toBe('----------b---|', { b: { tags: ['k:1', 'd:1'], complete: true, missing: [] } });
    });
    const [early, waited, plain] = await Promise.all(answers);
    expect(early).toEqual({ tags: ['d:1'], complete: false, missing: ['kubelet'] });
    expect(waited).toEqual({ tags: ['k:1', 'd:1'], complete: true, missing: [] });
    expect(plain).toEqual({ tags: ['k:1', 'd:1'], complete: true, missing: [] });
    expect(fetches).toBe(1);
  });
});
