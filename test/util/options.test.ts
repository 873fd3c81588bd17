import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { numberOption } from '../../src/util/options.js';

class MyOptionError extends Error {
  constructor(readonly option: string, problem: string) {
    super(`bad option ${option}: ${problem}`);
  }
}

describe('numberOption', () => {
  it('gives the fallback for a missing option and the value for a good one', () => {
    expect(numberOption('retryDelay', undefined, 500)).toBe(500);
    expect(numberOption('retryDelay', 250, 500)).toBe(250);
    expect(numberOption('grace', 0, 5000, { min: 'non-negative' })).toBe(0);
  });

  it('names the option, the rule and the value', () => {
    expect(() => numberOption('maxTxnOps', 0, 128, { integer: true })).toThrow(new RangeError('maxTxnOps must be a positive integer, got 0'));
    expect(() => numberOption('leaseTtl', -1, 1, { unit: 'ms' })).toThrow('leaseTtl must be a positive number of ms, got -1');
    expect(() => numberOption('grace', Number.NaN, 1, { min: 'non-negative' })).toThrow('grace must be a non-negative number, got NaN');
    expect(() => numberOption('n', 1.5, 1, { integer: true, error: (o, p) => new MyOptionError(o, p) })).toThrow(MyOptionError);
  });

  it('accepts exactly the finite values within the rule', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double(), fc.integer()), fc.boolean(), fc.boolean(), (value, zeroOk, integer) => {
        const ok = Number.isFinite(value) && (zeroOk ? value >= 0 : value > 0) && (!integer || Number.isInteger(value));
        const check = () => numberOption('x', value, 1, { min: zeroOk ? 'non-negative' : 'positive', integer });
        if (ok) expect(check()).toBe(value);
        else expect(check).toThrow(RangeError);
      }),
    );
  });
});
