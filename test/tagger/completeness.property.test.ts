import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createCompletenessState,
  expectedSources,
  forgetEntity,
  incompleteCount,
  isComplete,
  isMissing,
  missingSources,
  reportSource,
} from '../../src/tagger/completeness.js';
import type { Collector } from '../../src/tagger/types.js';

const collector = (source: string, covers?: readonly string[]): Collector =>
  covers === undefined ? { source, priority: 0, mode: 'stream' } : { source, priority: 0, mode: 'stream', covers };

const COLLECTORS: readonly Collector[] = [
  collector('docker', ['container_id']),
  collector('kubelet', ['container_id', 'kubernetes_pod_uid']),
  collector('ecs', ['ecs_task']),
  collector('plain'),
];
const EXPECTED: Record<string, readonly string[]> = {
  container_id: ['docker', 'kubelet'],
  kubernetes_pod_uid: ['kubelet'],
  ecs_task: ['ecs'],
  internal: [],
};
const ENTITIES = ['container_id://a', 'container_id://b', 'kubernetes_pod_uid://p', 'ecs_task://t', 'internal://g'];
const SOURCES = ['docker', 'kubelet', 'ecs', 'plain'];

type Op = { readonly kind: 'report'; readonly entity: string; readonly source: string } | { readonly kind: 'delete'; readonly entity: string };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('report' as const), entity: fc.constantFrom(...ENTITIES), source: fc.constantFrom(...SOURCES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), entity: fc.constantFrom(...ENTITIES) }) },
);

const expectedOf = (entity: string): readonly string[] => EXPECTED[entity.slice(0, entity.indexOf('://'))] ?? [];

describe('completeness state (property)', () => {
  it('an entity is complete iff it is stored and every expected source reported it; missing is the rest; a delete drops its state', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const state = createCompletenessState(COLLECTORS);
        // The model: the entities stored (as the store would have them), each with who reported it.
        const model = new Map<string, Set<string>>();
        let completions = 0;
        let modelCompletions = 0;
        let now = 0;
        for (const o of ops) {
          now += 7;
          if (o.kind === 'delete') {
            model.delete(o.entity);
            forgetEntity(state, o.entity);
            continue;
          }
          const first = !model.has(o.entity);
          const reported = model.get(o.entity) ?? new Set<string>();
          const wasComplete = !first && expectedOf(o.entity).every((s) => reported.has(s));
          reported.add(o.source);
          model.set(o.entity, reported);
          const nowComplete = expectedOf(o.entity).every((s) => reported.has(s));
          if (!first && !wasComplete && nowComplete) modelCompletions += 1;
          const outcome = reportSource(state, o.entity, o.source, { first, now });
          if (outcome.type === 'completed') {
            completions += 1;
            expect(outcome.delay).toBeGreaterThan(0);
          }
          if (first) expect(outcome.type === 'complete-at-first').toBe(nowComplete);
        }
        expect(completions).toBe(modelCompletions);
        let incomplete = 0;
        for (const entity of ENTITIES) {
          const reported = model.get(entity);
          const stored = reported !== undefined;
          const missing = expectedOf(entity).filter((s) => reported?.has(s) !== true);
          expect(expectedSources(state, entity)).toEqual(expectedOf(entity));
          expect(isComplete(state, entity, stored)).toBe(stored && missing.length === 0);
          expect(missingSources(state, entity, stored)).toEqual(missing);
          for (const source of SOURCES) expect(isMissing(state, entity, source)).toBe(stored && missing.includes(source));
          if (stored && missing.length > 0) incomplete += 1;
        }
        // State lives only for stored, incomplete entities: deletes and completions drop it.
        expect(incompleteCount(state)).toBe(incomplete);
      }),
    );
  });

  it('the delay of a completion is the time from the first report', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1e6 }), fc.integer({ min: 0, max: 60_000 }), (start, delay) => {
        const state = createCompletenessState(COLLECTORS);
        expect(reportSource(state, 'container_id://a', 'kubelet', { first: true, now: start })).toEqual({ type: 'first' });
        expect(missingSources(state, 'container_id://a', true)).toEqual(['docker']);
        expect(reportSource(state, 'container_id://a', 'docker', { first: false, now: start + delay })).toEqual({ type: 'completed', delay });
      }),
    );
  });

  it('refuses more covering collectors for one prefix than it can track', () => {
    const many = Array.from({ length: 31 }, (_, i) => collector(`s${String(i)}`, ['container_id']));
    expect(() => createCompletenessState(many)).toThrow(RangeError);
  });
});
