/**
 * The Docker collector's pure reconciliation: examples, and a property — whatever the order in
 * which events, lists and inspect answers arrive, and whatever a lost connection hides, once
 * everything asked is answered the emitted TagInfos describe exactly the running containers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createReconcileState, reconcile } from '../../../src/collectors/docker/reconcile.js';
import type { ContainerAction, ReconcileOutput, ReconcileState } from '../../../src/collectors/docker/reconcile.js';
import { containerId } from '../../../src/tagger/entity-id.js';
import { tagInfo } from '../../../src/tagger/stream-collector.js';
import type { TagInfo } from '../../../src/tagger/types.js';

function info(id: string, name: string): TagInfo {
  return tagInfo({ entity: containerId(id), source: 'docker', high: [`container_name:${name}`] });
}

function emitted(outputs: readonly ReconcileOutput[]): [string, string][] {
  return outputs.flatMap((o): [string, string][] =>
    o.type === 'emit' ? [[o.info.entity, o.info.deleteEntity === true ? 'delete' : (o.info.highCardTags[0] ?? '')]] : [],
  );
}

function connected(ids: string[] = []): ReconcileState {
  const state = createReconcileState('docker');
  reconcile(state, { type: 'connected' });
  reconcile(state, { type: 'listed', ids });
  return state;
}

describe('reconcile', () => {
  it('inspects every listed container and emits its tags', () => {
    const state = createReconcileState('docker');
    expect(reconcile(state, { type: 'connected' })).toEqual([]);
    expect(reconcile(state, { type: 'listed', ids: ['a', 'b'] })).toEqual([
      { type: 'inspect', id: 'a', seq: 1 },
      { type: 'inspect', id: 'b', seq: 2 },
    ]);
    expect(emitted(reconcile(state, { type: 'inspected', id: 'b', seq: 2, info: info('b', 'bee') }))).toEqual([
      [containerId('b'), 'container_name:bee'],
    ]);
  });

  it('drops an inspect answer a later event made stale', () => {
    const state = connected();
    reconcile(state, { type: 'event', action: 'start', id: 'a' }); // seq 1
    reconcile(state, { type: 'event', action: 'rename', id: 'a' }); // seq 2
    expect(reconcile(state, { type: 'inspected', id: 'a', seq: 2, info: info('a', 'new') })).toHaveLength(1);
    expect(reconcile(state, { type: 'inspected', id: 'a', seq: 1, info: info('a', 'old') })).toEqual([]);
    expect(state.known.get('a')?.highCardTags).toEqual(['container_name:new']);
  });

  it('deletes on die at once, and an inspect still in flight can no longer bring the tags back', () => {
    const state = connected();
    reconcile(state, { type: 'event', action: 'start', id: 'a' });
    expect(emitted(reconcile(state, { type: 'event', action: 'die', id: 'a' }))).toEqual([[containerId('a'), 'delete']]);
    expect(reconcile(state, { type: 'inspected', id: 'a', seq: 1, info: info('a', 'a') })).toEqual([]);
    expect(state.pending.size).toBe(0);
  });

  it('sends one delete for die then destroy', () => {
    const state = connected();
    reconcile(state, { type: 'event', action: 'start', id: 'a' });
    reconcile(state, { type: 'inspected', id: 'a', seq: 1, info: info('a', 'a') });
    expect(emitted(reconcile(state, { type: 'event', action: 'die', id: 'a' }))).toHaveLength(1);
    expect(reconcile(state, { type: 'event', action: 'destroy', id: 'a' })).toEqual([]);
  });

  it('does not emit an unchanged TagInfo again', () => {
    const state = connected(['a']);
    reconcile(state, { type: 'inspected', id: 'a', seq: 1, info: info('a', 'a') });
    reconcile(state, { type: 'connected' });
    expect(reconcile(state, { type: 'listed', ids: ['a'] })).toEqual([{ type: 'inspect', id: 'a', seq: 2 }]);
    expect(reconcile(state, { type: 'inspected', id: 'a', seq: 2, info: info('a', 'a') })).toEqual([]);
  });

  it('on a relist, deletes what vanished — unless an event since the stream opened says otherwise', () => {
    const state = connected(['a', 'b', 'c']);
    for (const [seq, id] of [[1, 'a'], [2, 'b'], [3, 'c']] as const) reconcile(state, { type: 'inspected', id, seq, info: info(id, id) });
    reconcile(state, { type: 'connected' });
    // 'c' (re)started after the list was taken: its event decides, not the list.
    const started = reconcile(state, { type: 'event', action: 'start', id: 'c' });
    const outputs = reconcile(state, { type: 'listed', ids: ['a'] });
    expect(emitted(outputs)).toEqual([[containerId('b'), 'delete']]);
    expect(outputs.flatMap((o) => (o.type === 'inspect' ? [o.id] : []))).toEqual(['a']);
    expect(outputs.find((o) => o.type === 'emit')).toMatchObject({ reason: 'vanished' });
    expect(started).toEqual([{ type: 'inspect', id: 'c', seq: 4 }]);
  });

  it('deletes a container a fetch handed out when a relist no longer shows it', () => {
    const state = connected();
    reconcile(state, { type: 'fetched', id: 'f' });
    reconcile(state, { type: 'connected' });
    expect(emitted(reconcile(state, { type: 'listed', ids: [] }))).toEqual([[containerId('f'), 'delete']]);
  });

  it('keeps what it knew when an inspect fails, and forgets the inspect', () => {
    const state = connected(['a']);
    reconcile(state, { type: 'inspected', id: 'a', seq: 1, info: info('a', 'a') });
    reconcile(state, { type: 'event', action: 'rename', id: 'a' });
    expect(reconcile(state, { type: 'inspectFailed', id: 'a', seq: 2 })).toEqual([]);
    expect(state.known.has('a')).toBe(true);
    expect(state.pending.size).toBe(0);
  });

  it('deletes a known container an inspect finds gone', () => {
    const state = connected(['a']);
    reconcile(state, { type: 'inspected', id: 'a', seq: 1, info: info('a', 'a') });
    reconcile(state, { type: 'event', action: 'rename', id: 'a' });
    expect(emitted(reconcile(state, { type: 'inspected', id: 'a', seq: 2, info: undefined }))).toEqual([[containerId('a'), 'delete']]);
  });
});

type Step =
  | { readonly kind: 'change'; readonly id: string; readonly action: ContainerAction }
  | { readonly kind: 'deliver' }
  | { readonly kind: 'answer'; readonly pick: number }
  | { readonly kind: 'disconnect' }
  | { readonly kind: 'reconnect' }
  /** The daemon answers the list now (a snapshot of this moment)... */
  | { readonly kind: 'list' }
  /** ...and the answer reaches the collector now (events may have overtaken it). */
  | { readonly kind: 'listed' };

const ids = ['a', 'b', 'c'];
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({
    kind: fc.constant('change' as const),
    id: fc.constantFrom(...ids),
    action: fc.constantFrom<ContainerAction>('start', 'die', 'destroy', 'rename'),
  }),
  fc.constant({ kind: 'deliver' as const }),
  fc.record({ kind: fc.constant('answer' as const), pick: fc.nat(20) }),
  fc.constant({ kind: 'disconnect' as const }),
  fc.constant({ kind: 'reconnect' as const }),
  fc.constant({ kind: 'list' as const }),
  fc.constant({ kind: 'listed' as const }),
);

/** Plays `steps` against a simulated daemon and wire; what the consumer holds, and what runs. */
function play(steps: readonly Step[]): { store: Map<string, string>; expected: Map<string, string>; pending: number } {
  // The world.
  const running = new Map<string, boolean>();
  const names = new Map<string, number>();
  // The wire.
  const wire = { online: true, listPending: false };
  let listAnswer: string[] | undefined;
  const queued: { id: string; action: ContainerAction }[] = [];
  const inspects: { id: string; seq: number; answer: TagInfo | undefined }[] = [];
  // The consumer.
  const store = new Map<string, string>();
  const state = createReconcileState('docker');

  const snapshot = (id: string): TagInfo | undefined =>
    running.get(id) === true ? info(id, `${id}${names.get(id) ?? 0}`) : undefined;
  const apply = (outputs: ReconcileOutput[]): void => {
    for (const output of outputs) {
      if (output.type === 'inspect') inspects.push({ id: output.id, seq: output.seq, answer: snapshot(output.id) });
      else if (output.info.deleteEntity === true) store.delete(output.info.entity);
      else store.set(output.info.entity, output.info.highCardTags[0] ?? '');
    }
  };
  const list = (): void => {
    wire.listPending = false;
    listAnswer = ids.filter((id) => running.get(id) === true);
  };
  const listed = (): void => {
    if (listAnswer !== undefined) apply(reconcile(state, { type: 'listed', ids: listAnswer }));
    listAnswer = undefined;
  };
  const deliver = (): void => {
    const event = queued.shift();
    if (event !== undefined) apply(reconcile(state, { type: 'event', action: event.action, id: event.id }));
  };
  const answer = (pick: number): void => {
    const [inspect] = inspects.splice(pick % inspects.length, 1);
    if (inspect !== undefined) apply(reconcile(state, { type: 'inspected', id: inspect.id, seq: inspect.seq, info: inspect.answer }));
  };
  const reconnect = (): void => {
    wire.online = true;
    wire.listPending = true;
    listAnswer = undefined;
    apply(reconcile(state, { type: 'connected' }));
  };

  reconnect();
  list();
  listed();
  for (const s of steps) {
    switch (s.kind) {
      case 'change':
        if (s.action === 'start') running.set(s.id, true);
        else if (s.action === 'rename') names.set(s.id, (names.get(s.id) ?? 0) + 1);
        else running.set(s.id, false);
        if (wire.online) queued.push({ id: s.id, action: s.action });
        break;
      case 'deliver':
        deliver();
        break;
      case 'answer':
        if (inspects.length > 0) answer(s.pick);
        break;
      case 'disconnect':
        wire.online = false;
        queued.length = 0;
        listAnswer = undefined;
        break;
      case 'reconnect':
        if (!wire.online) reconnect();
        break;
      case 'list':
        if (wire.online && wire.listPending) list();
        break;
      case 'listed':
        listed();
        break;
    }
  }
  if (!wire.online) reconnect();
  if (wire.listPending) list();
  listed();
  while (queued.length > 0) deliver();
  while (inspects.length > 0) answer(0);

        const expected = new Map(
    ids.filter((id) => running.get(id) === true).map((id) => [containerId(id), `container_name:${id}${names.get(id) ?? 0}`]),
  );
  return { store, expected, pending: state.pending.size };
}

describe('reconcile (property)', () => {
  it('keeps a container that restarted after the list was taken, though the list misses it', () => {
    const { store, expected } = play([
      { kind: 'change', id: 'a', action: 'start' },
      { kind: 'deliver' },
      { kind: 'answer', pick: 0 },
      { kind: 'disconnect' },
      { kind: 'change', id: 'a', action: 'die' },
      { kind: 'reconnect' },
      { kind: 'list' },
      { kind: 'change', id: 'a', action: 'start' },
      { kind: 'deliver' },
      { kind: 'listed' },
    ]);
    expect(expected.size).toBe(1);
    expect(store).toEqual(expected);
  });

  it('ends with exactly the running containers and their latest names, whatever the interleaving', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const { store, expected, pending } = play(steps);
        expect(store).toEqual(expected);
        expect(pending).toBe(0);
      }),
      { numRuns: 3000 },
    );
  });
});
