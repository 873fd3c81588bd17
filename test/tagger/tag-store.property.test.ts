import fc from 'fast-check';
import { Subject, VirtualTimeScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  type SourcePriority,
  type TagStoreEvent,
  type TagStoreStep,
  readTags,
  tagStore,
} from '../../src/index.js';
import { tagName } from '../../src/tagger/merged-tags.js';
import { createTagStoreState, storeGauges, storedEntities } from '../../src/tagger/tag-store-state.js';
import { info } from './fixtures.js';

const WINDOW = 10;
const SOURCES: Record<string, SourcePriority> = { docker: 0, kubelet: 1, cluster: 2, docker2: 0 };
const ENTITIES = ['container_id://a', 'container_id://b', 'kubernetes_pod_uid://c'];

interface Tags {
  readonly low: readonly string[];
  readonly orchestrator: readonly string[];
  readonly high: readonly string[];
}
type Op =
  | { readonly kind: 'add'; readonly entity: string; readonly source: string; readonly tags: Tags }
  | { readonly kind: 'delete'; readonly entity: string; readonly source: string };

const tag = fc.tuple(fc.constantFrom('env', 'service', 'image', 'team', 'plain'), fc.constantFrom('', ':a', ':b', ':c')).map(([n, v]) => n + v);
const tags = fc.array(tag, { maxLength: 4 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('add' as const), entity: fc.constantFrom(...ENTITIES), source: fc.constantFrom(...Object.keys(SOURCES)), tags: fc.record({ low: tags, orchestrator: tags, high: tags }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), entity: fc.constantFrom(...ENTITIES), source: fc.constantFrom(...Object.keys(SOURCES)) }) },
);
// Each op lands at a time that is never a window boundary, so "which window" is unambiguous.
const timedOps = fc.array(fc.tuple(fc.integer({ min: 0, max: 5 * WINDOW - 1 }).filter((t) => t % WINDOW !== 0), op), { maxLength: 60 }).map((list) => [...list].sort((x, y) => x[0] - y[0]));

/** The plain model: a map of maps, deletes applied at the end of their window. */
function model(ops: readonly (readonly [number, Op])[], until: number) {
  const store = new Map<string, Map<string, Tags>>();
  let pending = new Set<string>();
  let window = 0;
  const deletedInWindow: Set<string>[] = [];
  const closeWindowsUpTo = (time: number) => {
    while ((window + 1) * WINDOW <= time) {
      for (const entity of pending) store.delete(entity);
      deletedInWindow.push(pending);
      pending = new Set();
      window += 1;
    }
  };
  for (const [time, o] of ops) {
    closeWindowsUpTo(time);
    if (o.kind === 'delete') {
      pending.add(o.entity);
      continue;
    }
    const sources = store.get(o.entity) ?? new Map<string, Tags>();
    if (o.tags.low.length + o.tags.orchestrator.length + o.tags.high.length === 0) sources.delete(o.source);
    else sources.set(o.source, o.tags);
    if (sources.size === 0) store.delete(o.entity);
    else store.set(o.entity, sources);
  }
  closeWindowsUpTo(until);
  return { store, deletedInWindow };
}

function modelTags(sources: Map<string, Tags>): Tags {
  const owner = new Map<string, number>();
  for (const [source, t] of sources) {
    for (const x of [...t.low, ...t.orchestrator, ...t.high]) {
      owner.set(tagName(x), Math.max(owner.get(tagName(x)) ?? -1, SOURCES[source] ?? 0));
    }
  }
  const keep = (source: string, list: readonly string[]) => list.filter((x) => owner.get(tagName(x)) === SOURCES[source]);
  const low = new Set<string>();
  const orchestrator = new Set<string>();
  const high = new Set<string>();
  for (const [source, t] of sources) keep(source, t.low).forEach((x) => low.add(x));
  for (const [source, t] of sources) keep(source, t.orchestrator).forEach((x) => orchestrator.add(x));
  for (const [source, t] of sources) keep(source, t.high).forEach((x) => high.add(x));
  const orch = new Set([...low, ...orchestrator]);
  return { low: [...low].sort(), orchestrator: [...orch].sort(), high: [...new Set([...orch, ...high])].sort() };
}

describe('tagStore (property)', () => {
  it('equals a plain model for any adds and deletes over several prune windows; every delete wins over its window', () => {
    fc.assert(
      fc.property(timedOps, (ops) => {
        const scheduler = new VirtualTimeScheduler();
        const input = new Subject<TagStoreEvent>();
        const state = createTagStoreState();
        const steps: TagStoreStep[] = [];
        const sub = input.pipe(tagStore({ pruneInterval: WINDOW, scheduler, state })).subscribe((s) => steps.push(s));
        for (const [time, o] of ops) {
          scheduler.schedule(() => {
            const value = o.kind === 'add'
              ? info(o.entity, o.source, o.tags.low, o.tags.orchestrator, o.tags.high)
              : { ...info(o.entity, o.source), deleteEntity: true };
            input.next({ type: 'upsert', info: value, priority: SOURCES[o.source] ?? 0 });
          }, time);
        }
        const until = 6 * WINDOW + 1;
        scheduler.schedule(() => sub.unsubscribe(), until);
        scheduler.flush();

        const expected = model(ops, until);
        expect(Array.from(storedEntities(state), (stored) => stored.entity).sort()).toEqual([...expected.store.keys()].sort());
        for (const [entity, sources] of expected.store) {
          const want = modelTags(sources);
          for (const cardinality of ['low', 'orchestrator', 'high'] as const) {
            const got = readTags(state, entity, cardinality);
            expect(new Set(got).size).toBe(got.length);
            expect([...got].sort()).toEqual(want[cardinality]);
          }
        }
        expect(storeGauges(state).pendingDeletes).toBe(0);
        // The intern pool holds exactly the low-cardinality tags still stored: nothing leaks.
        const lowTags = new Set<string>();
        for (const sources of expected.store.values()) for (const t of sources.values()) t.low.forEach((x) => lowTags.add(x));
        expect(storeGauges(state).internedStrings).toBe(lowTags.size);
        // Right after each prune, none of its window's deleted entities is left.
        for (const step of steps) {
          if (step.event.type !== 'prune') continue;
          for (const entity of step.event.entities) {
            expect(step.changes.some((c) => c.entity === entity && c.type !== 'deleted')).toBe(false);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
