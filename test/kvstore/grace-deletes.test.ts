import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { type PendingChange, graceDeletes } from '../../src/kvstore/index.js';

const up = (name: string, value: string): PendingChange<string> => ({ type: 'update', name, key: value, value });
const del = (name: string, value: string, immediate = false): PendingChange<string> =>
  immediate ? { type: 'delete', name, key: value, value, immediate } : { type: 'delete', name, key: value, value };

function scheduler(): TestScheduler {
  return new TestScheduler((actual, expected) => {
    expect(actual).toEqual(expected);
  });
}

describe('graceDeletes', () => {
  it('delivers a delete after the grace period', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const source = cold('u 9ms d', { u: up('a', '1'), d: del('a', '1') });
      expectObservable(source.pipe(graceDeletes<string>({ grace: 5, scheduler: ts }))).toBe('u 14ms d', { u: up('a', '1'), d: del('a', '1') });
    });
  });

  it('drops a delete whose key comes back with the same value within the grace period', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const source = cold('u 9ms d 2ms u', { u: up('a', '1'), d: del('a', '1') });
      expectObservable(source.pipe(graceDeletes<string>({ grace: 5, scheduler: ts }))).toBe('u', { u: up('a', '1') });
    });
  });

  it('a key back with another value is an update, and no delete', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const source = cold('u 9ms d 2ms v', { u: up('a', '1'), d: del('a', '1'), v: up('a', '2') });
      expectObservable(source.pipe(graceDeletes<string>({ grace: 5, scheduler: ts }))).toBe('u 12ms v', { u: up('a', '1'), v: up('a', '2') });
    });
  });

  it('immediate deletes and a zero grace go through at once; keys do not hold each other up', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const source = cold('a b 8ms x y', { a: up('a', '1'), b: up('b', '1'), x: del('a', '1', true), y: del('b', '1') });
      expectObservable(source.pipe(graceDeletes<string>({ grace: 5, scheduler: ts }))).toBe('a b 8ms x 5ms y', {
        a: up('a', '1'),
        b: up('b', '1'),
        x: del('a', '1', true),
        y: del('b', '1'),
      });
      expectObservable(cold('a d', { a: up('a', '1'), d: del('a', '1') }).pipe(graceDeletes<string>({ grace: 0, scheduler: ts }))).toBe('a d', {
        a: up('a', '1'),
        d: del('a', '1'),
      });
    });
  });

  it('a key deleted and delivered, then re-added with the old value, is announced again', () => {
    const ts = scheduler();
    ts.run(({ cold, expectObservable }) => {
      const source = cold('u d 9ms u', { u: up('a', '1'), d: del('a', '1') });
      expectObservable(source.pipe(graceDeletes<string>({ grace: 3, scheduler: ts }))).toBe('u 3ms d 6ms u', { u: up('a', '1'), d: del('a', '1') });
    });
  });
});
