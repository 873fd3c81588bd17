import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  KvCompactedError,
  KvUnavailableError,
  type SharedStoreState,
  type StoreHealthEvent,
  type StoreHealthState,
  initialStoreHealth,
  reduceStoreHealth,
  storeHealthOf,
} from '../../src/kvstore/index.js';

const refused = new KvUnavailableError('watch', 'p/', { reason: 'connect ECONNREFUSED 127.0.0.1:2379' });
const refusedAgain = new KvUnavailableError('watch', 'p/', { reason: 'connect ECONNREFUSED 127.0.0.1:2379' });
const compacted = new KvCompactedError('p/', 3, 7);

function run(events: readonly StoreHealthEvent[], from: StoreHealthState = initialStoreHealth): { state: StoreHealthState; states: SharedStoreState[]; effects: string[] } {
  let state = from;
  const states: SharedStoreState[] = [];
  const effects: string[] = [];
  for (const event of events) {
    const step = reduceStoreHealth(state, event);
    state = step.state;
    states.push(storeHealthOf(state).state);
    if (step.effect !== undefined) effects.push(step.effect);
  }
  return { state, states, effects };
}

describe('reduceStoreHealth', () => {
  it('joins, loses the connection (reported once, first error kept), resyncs and is synced again without an error', () => {
    const { state, states, effects } = run([
      { type: 'watchFailed', error: compacted },
      { type: 'listed' },
      { type: 'disconnected', error: refused },
      { type: 'disconnected', error: refusedAgain },
      { type: 'connected' },
      { type: 'resynced' },
    ]);
    expect(states).toEqual(['joining', 'synced', 'disconnected', 'disconnected', 'resyncing', 'synced']);
    expect(effects).toEqual(['reportDisconnect', 'resync']);
    expect(storeHealthOf(state)).toEqual({ state: 'synced' });
  });

  it('keeps the first error of an outage while its message is the same, takes a new one', () => {
    let state = run([{ type: 'listed' }, { type: 'disconnected', error: refused }]).state;
    state = reduceStoreHealth(state, { type: 'disconnected', error: refusedAgain }).state;
    expect(storeHealthOf(state).lastError).toBe(refused);
    const other = new KvUnavailableError('health', 'health', { reason: 'deadline exceeded' });
    state = reduceStoreHealth(state, { type: 'disconnected', error: other }).state;
    expect(storeHealthOf(state).lastError).toBe(other);
  });

  it('a connection back before the join asks for no resync; a failed watch relists with its error', () => {
    expect(run([{ type: 'disconnected', error: refused }, { type: 'connected' }]).effects).toEqual([]);
    const { states, state } = run([{ type: 'listed' }, { type: 'watchFailed', error: compacted }]);
    expect(states).toEqual(['synced', 'relisting']);
    expect(storeHealthOf(state)).toEqual({ state: 'relisting', lastError: compacted });
  });

  it('property: the health is a function of the flags; synced has no error; nothing changes after closed', () => {
    const event = fc.oneof(
      fc.constant<StoreHealthEvent>({ type: 'listed' }),
      fc.constant<StoreHealthEvent>({ type: 'watchFailed', error: compacted }),
      fc.constantFrom<StoreHealthEvent>({ type: 'disconnected', error: refused }, { type: 'disconnected', error: refusedAgain }),
      fc.constant<StoreHealthEvent>({ type: 'connected' }),
      fc.constant<StoreHealthEvent>({ type: 'resynced' }),
      fc.constant<StoreHealthEvent>({ type: 'closed' }),
    );
    fc.assert(
      fc.property(fc.array(event, { maxLength: 30 }), (events) => {
        let state = initialStoreHealth;
        let closedAt: StoreHealthState | undefined;
        let published = storeHealthOf(state);
        for (const e of events) {
          const before = state;
          const step = reduceStoreHealth(state, e);
          state = step.state;
          const health = storeHealthOf(state);
          if (closedAt !== undefined) {
            expect(state).toBe(closedAt);
            expect(step.effect).toBeUndefined();
            continue;
          }
          if (e.type === 'closed') closedAt = state;
          // Derived from the flags, in this order.
          const expected: SharedStoreState = state.closed
            ? 'closed'
            : !state.joined
              ? 'joining'
              : !state.connected
                ? 'disconnected'
                : !state.listed
                  ? 'relisting'
                  : state.resyncing
                    ? 'resyncing'
                    : 'synced';
          expect(health.state).toBe(expected);
          if (health.state === 'synced' || health.state === 'closed') {
            expect(health.lastError).toBeUndefined();
            expect(state.lastError).toBeUndefined();
          }
          // A disconnect is reported only when it ends a synced spell; a resync only after the join.
          if (step.effect === 'reportDisconnect') expect(published.state).toBe('synced');
          if (e.type === 'disconnected') expect(step.effect === 'reportDisconnect').toBe(published.state === 'synced');
          if (step.effect === 'resync') expect(before.joined && !before.connected).toBe(true);
          published = health;
        }
      }),
    );
  });
});
