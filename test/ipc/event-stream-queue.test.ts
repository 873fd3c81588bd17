/** The event stream's queue of lines (src/ipc/event-stream-queue.ts): pieces, backlog, the rest. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineQueue } from '../../src/ipc/event-stream-queue.js';

type Step = { readonly push: string } | { readonly take: number };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ push: fc.string({ minLength: 1, maxLength: 40, unit: 'grapheme-ascii' }).map((s) => `${s}\n`) }),
  fc.record({ take: fc.integer({ min: 1, max: 60 }) }),
);

describe('LineQueue', () => {
  it('gives back exactly what was pushed, in order, in pieces of at most the limit', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 100 }), fc.boolean(), (steps, all) => {
        const queue = new LineQueue();
        let pushed = '';
        let taken = '';
        for (const step of steps) {
          if ('push' in step) {
            queue.push(step.push);
            pushed += step.push;
          } else {
            const held = pushed.length - taken.length;
            const piece = queue.take(step.take);
            expect(piece.length).toBe(Math.min(step.take, held));
            taken += piece;
          }
          expect(queue.isEmpty()).toBe(taken.length === pushed.length);
          expect(queue.queuedBytes).toBe(Buffer.byteLength(pushed) - Buffer.byteLength(taken));
        }
        const rest = all ? queue.takeAll() : queue.take(Number.MAX_SAFE_INTEGER);
        expect(taken + rest).toBe(pushed);
        expect(queue.isEmpty()).toBe(true);
        expect(queue.queuedBytes).toBe(0);
      }),
    );
  });

  it('counts the backlog behind the line the reader takes next, so one long line alone is no backlog', () => {
    const queue = new LineQueue();
    queue.push(`${'x'.repeat(1000)}\n`);
    expect(queue.waitingBytes()).toBe(0);
    queue.push('ab\n');
    expect(queue.waitingBytes()).toBe(3);
    queue.take(400); // the reader is inside the long line: still only what follows it waits
    expect(queue.waitingBytes()).toBe(3);
    queue.take(601);
    expect(queue.waitingBytes()).toBe(0);
    expect(queue.take(10)).toBe('ab\n');
  });

  it('keeps whole lines together while they fit in a piece', () => {
    const queue = new LineQueue();
    for (const line of ['a\n', 'bb\n', 'ccc\n']) queue.push(line);
    expect(queue.take(5)).toBe('a\nbb\n');
    expect(queue.take(5)).toBe('ccc\n');
    expect(queue.take(5)).toBe('');
  });

  it('stays small when many lines pass through', () => {
    const queue = new LineQueue();
    for (let i = 0; i < 5000; i++) {
      queue.push('a\n');
      queue.push('b\n');
      queue.take(2);
    }
    // 10,000 lines a, b, a, b ... pushed, the first 5,000 taken.
    expect(queue.takeAll()).toBe('a\nb\n'.repeat(2500));
  });
});
