import { concat, of } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import type { TagEvent, Tagger } from '../../src/index.js';
import { eventLines } from '../../src/ipc/index.js';
import type { StreamLine } from '../../src/ipc/index.js';

const added: TagEvent = { type: 'added', entity: 'container_id://a', tags: ['env:prod'] };
const modified: TagEvent = { type: 'modified', entity: 'container_id://a', tags: ['env:qa'] };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

/** A tagger whose events$ is the given burst (synchronous) followed by `live`. */
function fakeTagger(burst: TagEvent[], live: import('rxjs').Observable<TagEvent>): Pick<Tagger, 'events$' | 'storedTags'> {
  return { events$: () => concat(of(...burst), live), storedTags: () => [] };
}

describe('eventLines (virtual time)', () => {
  it('writes the burst, one synced line, the changes, and a keep-alive only when a whole interval was idle', () => {
    const s = scheduler();
    s.run(({ hot, expectObservable, expectSubscriptions }) => {
      const live = hot<TagEvent>('-----m 11ms m 30ms m 30ms |', { m: modified });
      const lines = eventLines(fakeTagger([added], live), { cardinality: 'low', prefixes: [], levels: false, keepAliveInterval: 10, scheduler: s });
      const values: Record<string, StreamLine> = {
        a: { type: 'added', entity: added.entity, tags: added.tags },
        y: { type: 'synced', entities: 1 },
        m: { type: 'modified', entity: modified.entity, tags: modified.tags },
        k: { type: 'keepalive' },
      };
      // Ticks every 10 ms: at 10 the m at 5 went out (busy), at 20 the m at 17 (busy), at 30 and 40
      // idle -> k, at 50 the m at 48 (busy), at 60 and 70 idle -> k; the end at 79.
      expectObservable(lines).toBe('(ay)-m 11ms m 12ms k 9ms k 7ms m 11ms k 9ms k 8ms |', values);
      expectSubscriptions(live.subscriptions).toBe('^ 78ms !');
    });
  });

  it('reports an empty store as a synced line with no entities', () => {
    const s = scheduler();
    s.run(({ cold, expectObservable }) => {
      const lines = eventLines(fakeTagger([], cold<TagEvent>('-----|')), { cardinality: 'low', prefixes: [], levels: false, keepAliveInterval: 100, scheduler: s });
      expectObservable(lines).toBe('y----|', { y: { type: 'synced', entities: 0 } });
    });
  });
});
