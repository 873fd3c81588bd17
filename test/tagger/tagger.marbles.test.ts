import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type Collector, type TagInfo, createTagger, silentLogger, streamCollector, tagInfo } from '../../src/index.js';

const A = 'container_id://a';

function testScheduler() {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

const infos: Record<string, TagInfo> = {
  d: tagInfo({ entity: A, source: 'docker', low: ['d:1'] }),
  e: tagInfo({ entity: A, source: 'ecs', low: ['e:1'] }),
  x: { ...tagInfo({ entity: A, source: 'docker' }), deleteEntity: true },
};

describe('Tagger timing (marbles)', () => {
  it('tags$ waits for a due fetch, then answers with its result and follows changes', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const docker = hot<TagInfo>('d-------------', infos);
      const fetch$ = cold<TagInfo>('---(e|)', infos);
      const ecs: Collector = { source: 'ecs', priority: 1, mode: 'fetch', fetch: () => fetch$ };
      const tagger = createTagger({ collectors: [streamCollector('docker', docker), ecs], scheduler: ts, fetchTimeout: 10, pruneInterval: 5, logger: silentLogger });
      tagger.start();
      ts.schedule(() => tagger.stop(), 13);
      expectObservable(tagger.tags$(A)).toBe('---a---------|', { a: ['e:1', 'd:1'] });
      expectSubscriptions(fetch$.subscriptions).toBe('^--!');
    });
  });

  it('a fetch slower than fetchTimeout is cut at the deadline and the stored tags answer', () => {
    const ts = testScheduler();
    ts.run(({ cold, hot, expectObservable, expectSubscriptions }) => {
      const docker = hot<TagInfo>('d---------------', infos);
      const fetch$ = cold<TagInfo>('----------(e|)', infos);
      const ecs: Collector = { source: 'ecs', priority: 1, mode: 'fetch', fetch: () => fetch$ };
      const tagger = createTagger({ collectors: [streamCollector('docker', docker), ecs], scheduler: ts, fetchTimeout: 4, logger: silentLogger });
      tagger.start();
      ts.schedule(() => tagger.stop(), 15);
      expectObservable(tagger.tags$(A)).toBe('----a----------|', { a: ['d:1'] });
      expectSubscriptions(fetch$.subscriptions).toBe('^---!');
    });
  });

  it('a delete reaches tags$ at the end of its prune window, not before', () => {
    const ts = testScheduler();
    ts.run(({ hot, expectObservable }) => {
      const docker = hot<TagInfo>('-d-x---------', infos);
      const tagger = createTagger({ collectors: [streamCollector('docker', docker)], scheduler: ts, pruneInterval: 5, logger: silentLogger });
      tagger.start();
      ts.schedule(() => tagger.stop(), 12);
      expectObservable(tagger.tags$(A)).toBe('ab---c------|', { a: [], b: ['d:1'], c: [] });
    });
  });
});
