import { type Observable, defer, map } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type TagInfo, type TagStoreEvent, SourcePriority, streamCollector } from '../../src/index.js';
import { collectorEvents } from '../../src/tagger/collector-events.js';
import { info } from './fixtures.js';

const A = 'container_id://a';

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

/** The first low tag of each event: enough to tell the values apart. */
const firstTag = map((event: TagStoreEvent) => (event.type === 'upsert' ? event.info.lowCardTags[0] : event.type));

describe('collectorEvents (marbles)', () => {
  it('turns accepted TagInfo into upserts at the collector priority and skips refused ones', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const values = { a: info(A, 'k', ['a:1']), r: info(A, 'k', ['refuse:1']), b: info(A, 'k', ['b:1']) };
      const source = cold<TagInfo>('a-r-b|', values);
      const collector = streamCollector('k', source, { priority: SourcePriority.ClusterOrchestrator });
      const out = collectorEvents(collector, source, {
        accept: (value) => (value.lowCardTags[0] === 'refuse:1' ? undefined : value),
        retryDelay: () => 1,
        scheduler: ts,
      });
      expectObservable(out.pipe(map((e) => (e.type === 'upsert' ? `${String(e.priority)}${e.info.lowCardTags[0] ?? ''}` : '')))).toBe(
        'a---b|',
        { a: '2a:1', b: '2b:1' },
      );
    });
  });

  it('resubscribes after errors with the delays it is given, resetting the attempt count on each value', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const attempts: number[] = [];
      const script: Observable<TagInfo>[] = [
        cold('#'),
        cold('#'),
        cold('a#', { a: info(A, 'k', ['a:1']) }),
        cold('b|', { b: info(A, 'k', ['b:1']) }),
      ];
      let subscriptions = 0;
      const source = defer(() => script[subscriptions++] ?? cold<TagInfo>('|'));
      const out = collectorEvents(streamCollector('k', source), source, {
        accept: (value) => value,
        retryDelay: (_error, attempt) => {
          attempts.push(attempt);
          return 10 * 2 ** (attempt - 1);
        },
        scheduler: ts,
      });
      // Errors at 0 and 10 wait 10 then 20; the value at 30 resets the count, so the error after it (at 31) waits 10.
      expectObservable(out.pipe(firstTag)).toBe('30ms a 10ms b|', { a: 'a:1', b: 'b:1' });
      ts.flush();
      expect(attempts).toEqual([1, 2, 1]);
    });
  });

  it('cancels a pending resubscription when unsubscribed', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      let subscriptions = 0;
      const source = defer(() => {
        subscriptions += 1;
        return cold<TagInfo>('#');
      });
      const out = collectorEvents(streamCollector('k', source), source, { accept: (value) => value, retryDelay: () => 10, scheduler: ts });
      expectObservable(out, '^--!').toBe('');
      ts.flush();
      expect(subscriptions).toBe(1);
    });
  });
});
