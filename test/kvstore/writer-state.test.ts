import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_RETRY_DELAY,
  OVERLOAD_PATIENCE,
  type WriterConfig,
  type WriterEvent,
  initialWriterState,
  isOverloaded,
  nextWriterAction,
  reduceWriter,
  withinOverloadPatience,
} from '../../src/kvstore/writer-state.js';

const config: WriterConfig = { maxInFlight: 2, qps: 100, bootstrapQps: 1000, retryDelay: 500, joinedAt: 0 };

describe('reduceWriter', () => {
  it('paces starts at bootstrapQps in the first minute, at qps after, and stops at maxInFlight', () => {
    let state = reduceWriter(initialWriterState, { type: 'started', now: 0 }, config);
    expect(nextWriterAction(state, 0, config)).toEqual({ type: 'wait', delay: 1 });
    state = reduceWriter(state, { type: 'started', now: 1 }, config);
    expect(nextWriterAction(state, 5, config)).toEqual({ type: 'full' });
    state = reduceWriter(state, { type: 'settled' }, config);
    expect(nextWriterAction(state, 5, config)).toEqual({ type: 'start' });
    const late = reduceWriter(initialWriterState, { type: 'started', now: 60_000 }, config);
    expect(nextWriterAction(late, 60_000, config)).toEqual({ type: 'wait', delay: 10 });
  });

  it('overloaded answers back off: retryDelay doubling up to 30 s, reset by a success; past the patience no wait', () => {
    let state = initialWriterState;
    const waits: number[] = [];
    for (let i = 0; i < 8; i++) {
      state = reduceWriter(state, { type: 'overloaded', now: 1000 }, config);
      const action = nextWriterAction(state, 1000, config);
      waits.push(action.type === 'wait' ? action.delay : 0);
    }
    expect(waits).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect(withinOverloadPatience(state, 1000 + OVERLOAD_PATIENCE - 1)).toBe(true);
    expect(withinOverloadPatience(state, 1000 + OVERLOAD_PATIENCE)).toBe(false);
    const past = reduceWriter(state, { type: 'overloaded', now: 1000 + OVERLOAD_PATIENCE }, config);
    expect(past.overloads).toBe(state.overloads);
    state = reduceWriter(state, { type: 'succeeded' }, config);
    expect(state.overloads).toBe(0);
    expect(state.overloadedSince).toBeUndefined();
    state = reduceWriter(state, { type: 'overloaded', now: 50_000 }, config);
    expect(nextWriterAction(state, 50_000, config)).toEqual({ type: 'wait', delay: 500 });
  });

  it('tells overload from absence', () => {
    expect(isOverloaded(new Error('etcdserver: too many requests'))).toBe(true);
    expect(isOverloaded(new Error('4 DEADLINE_EXCEEDED: Deadline exceeded'))).toBe(true);
    expect(isOverloaded(new Error('etcdserver: leader changed'))).toBe(true);
    expect(isOverloaded(new Error('connect ECONNREFUSED 127.0.0.1:2379'))).toBe(false);
  });

  it('property: never more than maxInFlight under way, never a start before the pacing or the backoff allows, backoff within [retryDelay, 30 s]', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 40_000 }) }),
      fc.record({ kind: fc.constant('start' as const) }),
      fc.record({ kind: fc.constant('answer' as const), outcome: fc.constantFrom('succeeded', 'overloaded', 'failed') }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        let now = 0;
        let state = initialWriterState;
        let underWay = 0;
        let lastStart = Number.NEGATIVE_INFINITY;
        for (const s of steps) {
          if (s.kind === 'tick') {
            now += s.ms;
            continue;
          }
          if (s.kind === 'start') {
            const action = nextWriterAction(state, now, config);
            if (action.type !== 'start') {
              if (action.type === 'full') expect(underWay).toBe(config.maxInFlight);
              else expect(action.delay).toBeGreaterThan(0);
              continue;
            }
            expect(underWay).toBeLessThan(config.maxInFlight);
            // The pacing: no two starts closer than 1000 / bootstrapQps.
            expect(now - lastStart).toBeGreaterThanOrEqual(1000 / config.bootstrapQps);
            lastStart = now;
            state = reduceWriter(state, { type: 'started', now }, config);
            underWay += 1;
            continue;
          }
          if (underWay === 0) continue;
          const events: WriterEvent[] = s.outcome === 'succeeded' ? [{ type: 'succeeded' }] : s.outcome === 'overloaded' ? [{ type: 'overloaded', now }] : [];
          for (const e of [...events, { type: 'settled' } as const]) state = reduceWriter(state, e, config);
          underWay -= 1;
          expect(state.inFlight).toBe(underWay);
          const wait = state.nextWriteAt - now;
          if (s.outcome === 'overloaded' && withinOverloadPatience(state, now)) {
            expect(wait).toBeGreaterThanOrEqual(config.retryDelay);
            expect(wait).toBeLessThanOrEqual(MAX_RETRY_DELAY);
          }
        }
      }),
    );
  });
});
