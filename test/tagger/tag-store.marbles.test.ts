import { TestScheduler } from 'rxjs/testing';
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { type TagStoreEvent, storeChanges, tagStore } from '../../src/index.js';
import { info, upsert } from './fixtures.js';

const A = 'container_id://a';
const B = 'container_id://b';

function scheduler() {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

const events: Record<string, TagStoreEvent> = {
  a: upsert(info(A, 'docker', ['x:1'])),
  k: upsert(info(A, 'kubelet', ['y:1']), 1),
  b: upsert(info(B, 'docker', ['z:1'])),
  d: upsert({ ...info(A, 'docker'), deleteEntity: true }),
  e: upsert({ ...info(B, 'docker'), deleteEntity: true }),
  f: { type: 'fetched', info: { ...info(A, 'ecs'), deleteEntity: true }, priority: 0, generation: 0 },
  m: { type: 'markDelete', entity: B },
};

/** Each step with changes as a short string: "+A" added, "~A" modified, "-A" deleted. */
const summary = map((step: { changes: readonly { type: string; entity: string }[] }) =>
  step.changes.map((c) => (c.type === 'added' ? '+' : c.type === 'modified' ? '~' : '-') + c.entity.slice(-1).toUpperCase()).join(','),
);

describe('tagStore timing (marbles)', () => {
  it('applies upserts at once and deletes at the end of their prune window', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable, expectSubscriptions }) => {
      const input = hot<TagStoreEvent>('a-b-d----------|', events);
      const out = input.pipe(tagStore({ pruneInterval: 10, scheduler: ts }), storeChanges(), summary);
      expectObservable(out).toBe('A-B-------D----|', { A: '+A', B: '+B', D: '-A' });
      expectSubscriptions(input.subscriptions).toBe('^--------------!');
    });
  });

  it('lets a delete win over adds of its window, before and after it; an add after the prune survives', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot<TagStoreEvent>('--d-k------a--|', events);
      const out = input.pipe(tagStore({ pruneInterval: 10, scheduler: ts }), storeChanges(), summary);
      expectObservable(out).toBe('----K-----DA--|', { K: '+A', D: '-A', A: '+A' });
    });
  });

  it('prunes every delete of one window together, and emits nothing for an idle window', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot<TagStoreEvent>('ab-de------------------------|', events);
      const out = input.pipe(tagStore({ pruneInterval: 10, scheduler: ts }), storeChanges(), summary);
      expectObservable(out).toBe('AB--------D------------------|', { A: '+A', B: '+B', D: '-A,-B' });
    });
  });

  it('emits nothing for an update identical to what is stored', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot<TagStoreEvent>('a-a-a|', events);
      const out = input.pipe(tagStore({ pruneInterval: 10, scheduler: ts }), storeChanges(), summary);
      expectObservable(out).toBe('A----|', { A: '+A' });
    });
  });

  it('prunes what a fetch answer or a markDelete event marks, like a collector delete', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot<TagStoreEvent>('ab-f-m-------|', events);
      const out = input.pipe(tagStore({ pruneInterval: 10, scheduler: ts }), storeChanges(), summary);
      expectObservable(out).toBe('AB--------D--|', { A: '+A', B: '+B', D: '-A,-B' });
    });
  });

  it('prunes the deletes still buffered when its input completes, then completes', () => {
    const ts = scheduler();
    ts.run(({ hot, expectObservable }) => {
      const input = hot<TagStoreEvent>('a-d|', events);
      const out = input.pipe(tagStore({ pruneInterval: 10, scheduler: ts }), storeChanges(), summary);
      expectObservable(out).toBe('A--(D|)', { A: '+A', D: '-A' });
    });
  });
});
