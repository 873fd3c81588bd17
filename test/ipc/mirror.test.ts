import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type MirrorInput, createMirrorState, readMirror, reduceMirror } from '../../src/ipc/index.js';

const ev = (type: 'added' | 'modified' | 'deleted', entity: string, tags: string[], low = tags.length, orchestrator = tags.length): MirrorInput => ({
  type,
  entity,
  tags,
  levels: { low, orchestrator },
});

describe('reduceMirror', () => {
  it('answers each cardinality from the levels', () => {
    const m = createMirrorState();
    reduceMirror(m, { type: 'connecting' });
    reduceMirror(m, ev('added', 'c://a', ['l', 'o', 'h'], 1, 2));
    reduceMirror(m, { type: 'synced' });
    expect(readMirror(m, 'c://a', 'low')).toEqual(['l']);
    expect(readMirror(m, 'c://a', 'orchestrator')).toEqual(['l', 'o']);
    expect(readMirror(m, 'c://a', 'high')).toEqual(['l', 'o', 'h']);
    expect(Object.isFrozen(readMirror(m, 'c://a', 'low'))).toBe(true);
    expect(readMirror(m, 'c://none', 'low')).toEqual([]);
  });

  it('keeps answering during a reconnection, then replaces everything at synced and reports the differences', () => {
    const m = createMirrorState();
    reduceMirror(m, { type: 'connecting' });
    reduceMirror(m, ev('added', 'c://a', ['x']));
    reduceMirror(m, ev('added', 'c://b', ['y']));
    reduceMirror(m, { type: 'synced' });
    reduceMirror(m, { type: 'disconnected' });
    expect(reduceMirror(m, ev('added', 'c://z', ['late']))).toEqual([]); // nothing applies while disconnected
    reduceMirror(m, { type: 'connecting' });
    expect(reduceMirror(m, ev('added', 'c://b', ['y2']))).toEqual([]);
    expect(readMirror(m, 'c://a', 'low')).toEqual(['x']); // still served until the burst is complete
    reduceMirror(m, ev('added', 'c://c', ['z']));
    const changes = reduceMirror(m, { type: 'synced' });
    expect(changes.map((c) => [c.entity, c.before?.low, c.after?.low])).toEqual([
      ['c://a', ['x'], undefined],
      ['c://b', ['y'], ['y2']],
      ['c://c', undefined, ['z']],
    ]);
    expect([...m.entities.keys()].sort()).toEqual(['c://b', 'c://c']);
  });

  it('after any history, equals the last burst with the events that followed it (property)', () => {
    const entity = fc.constantFrom('c://a', 'c://b', 'c://c', 'c://d');
    const tags = fc.array(fc.constantFrom('t1', 't2', 't3'), { maxLength: 3 });
    const event = fc.record({ type: fc.constantFrom('added' as const, 'modified' as const, 'deleted' as const), entity, tags });
    const session = fc.record({ burst: fc.array(fc.tuple(entity, tags), { maxLength: 6 }), live: fc.array(event, { maxLength: 8 }), completes: fc.boolean() });
    fc.assert(
      fc.property(fc.array(session, { minLength: 1, maxLength: 5 }), (sessions) => {
        const m = createMirrorState();
        let model = new Map<string, string[]>();
        for (const s of sessions) {
          reduceMirror(m, { type: 'connecting' });
          const burst = new Map<string, string[]>();
          for (const [e, t] of s.burst) {
            reduceMirror(m, ev('added', e, t));
            burst.set(e, t);
          }
          if (!s.completes) {
            reduceMirror(m, { type: 'disconnected' });
            continue;
          }
          reduceMirror(m, { type: 'synced' });
          model = burst;
          for (const e of s.live) {
            reduceMirror(m, ev(e.type, e.entity, e.type === 'deleted' ? [] : e.tags));
            if (e.type === 'deleted') model.delete(e.entity);
            else model.set(e.entity, e.tags);
          }
          reduceMirror(m, { type: 'disconnected' });
        }
        expect(new Map([...m.entities].map(([k, v]) => [k, [...v.high]]))).toEqual(model);
      }),
    );
  });
});
