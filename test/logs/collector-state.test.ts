/**
 * The log collector's state machine (src/logs/collector-state.ts), its entry rules
 * (src/logs/entry-plan.ts) and its options (src/logs/collector-options.ts): no backend, no IO.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveCollectorSettings } from '../../src/logs/collector-options.js';
import {
  type CollectorEvent,
  countDrop,
  dropSummary,
  type EntryDrop,
  initialCollectorState,
  type MessageDrops,
  NO_DROPS,
  reduceCollectorState,
  streamVerdict,
} from '../../src/logs/collector-state.js';
import { planEntry } from '../../src/logs/entry-plan.js';
import { type DecodeFailure, MAX_SAMPLE_ERRORS, memoryCoordinator, memoryStorage, secretError } from '../../src/logs/index.js';
import { BundleBuilder, testSecret } from './helpers.js';

const reasons: readonly DecodeFailure[] = ['frame', 'metadata', 'content-type', 'compression', 'too-large', 'unknown-version', 'bundle'];

const eventArb: fc.Arbitrary<CollectorEvent> = fc.oneof(
  fc.constant<CollectorEvent>({ type: 'closed' }),
  fc.constant<CollectorEvent>({ type: 'message-started' }),
  fc.record({ type: fc.constant('message-dropped' as const), reason: fc.constantFrom(...reasons) }),
  fc.record({ type: fc.constant('bundle-read' as const), entries: fc.nat(1000) }),
  fc.constant<CollectorEvent>({ type: 'entry-skipped' }),
  fc.constant<CollectorEvent>({ type: 'entry-refused' }),
  fc.record({ type: fc.constant('entry-dropped' as const), why: fc.constantFrom<EntryDrop>('wrong-secret', 'archived') }),
  fc.record({ type: fc.constant('logs-stored' as const), count: fc.nat(1000) }),
  fc.record({ type: fc.constant('message-failed' as const), transient: fc.boolean() }),
  fc.constant<CollectorEvent>({ type: 'message-settled' }),
);

describe('reduceCollectorState', () => {
  it('counts what a simple model counts, never changes the state it is given, and closing is for good', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 200 }), (events) => {
        let state = initialCollectorState();
        let inFlight = 0;
        let closed = false;
        const model = { messages: 0, bundleEntries: 0, skippedEntries: 0, invalidEntries: 0, wrongSecret: 0, archived: 0, logsStored: 0, transientErrors: 0, permanentErrors: 0 };
        const dropped: Record<string, number> = Object.fromEntries(reasons.map((r) => [r, 0]));
        for (const event of events) {
          const before = JSON.stringify(state);
          const next = reduceCollectorState(state, event);
          expect(JSON.stringify(state)).toBe(before);
          state = next;
          switch (event.type) {
            case 'closed':
              closed = true;
              break;
            case 'message-started':
              model.messages++;
              inFlight++;
              break;
            case 'message-settled':
              inFlight = Math.max(0, inFlight - 1);
              break;
            case 'message-dropped':
              dropped[event.reason] = (dropped[event.reason] ?? 0) + 1;
              break;
            case 'bundle-read':
              model.bundleEntries += event.entries;
              break;
            case 'entry-skipped':
              model.skippedEntries++;
              break;
            case 'entry-refused':
              model.invalidEntries++;
              break;
            case 'entry-dropped':
              if (event.why === 'wrong-secret') model.wrongSecret++;
              else model.archived++;
              break;
            case 'logs-stored':
              model.logsStored += event.count;
              break;
            case 'message-failed':
              if (event.transient) model.transientErrors++;
              else model.permanentErrors++;
              break;
          }
          expect(state.closed).toBe(closed);
          expect(state.stats).toEqual({ ...model, dropped, inFlight });
        }
      }),
    );
  });
});

describe('streamVerdict', () => {
  const other = new Uint8Array(testSecret.length).fill(0x66);
  const stream = { secret: testSecret, archived: false, purged: false, terminalIndex: -1 };
  const entry = { terminal: false, terminalIndex: 0 };

  it('drops an entry whose stream holds another secret, before anything else', () => {
    expect(streamVerdict({ ...stream, secret: other, archived: true }, testSecret, entry)).toEqual({ kind: 'wrong-secret' });
    expect(streamVerdict(stream, testSecret.subarray(1), entry)).toEqual({ kind: 'wrong-secret' });
  });

  it('drops an entry of an archived or purged stream', () => {
    expect(streamVerdict({ ...stream, archived: true, purged: true }, testSecret, entry)).toEqual({ kind: 'archived', status: 'archived' });
    expect(streamVerdict({ ...stream, purged: true }, testSecret, entry)).toEqual({ kind: 'archived', status: 'purged' });
  });

  it('stores, and says when a terminal entry disagrees with the terminal index the coordinator holds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1, max: 5 }), fc.boolean(), fc.nat(5), (held, terminal, index) => {
        const verdict = streamVerdict({ ...stream, terminalIndex: held }, testSecret.slice(), { terminal, terminalIndex: index });
        expect(verdict).toEqual({ kind: 'store', terminalMismatch: terminal && held >= 0 && held !== index });
      }),
    );
  });
});

describe('countDrop and dropSummary', () => {
  it('logs the first MAX_SAMPLE_ERRORS drops of each kind, and sums up past them', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom<EntryDrop>('wrong-secret', 'archived'), { maxLength: 40 }), (whys) => {
        let drops: MessageDrops = NO_DROPS;
        let logged = 0;
        for (const why of whys) {
          const counted = countDrop(drops, why);
          drops = counted.drops;
          if (counted.log) logged++;
        }
        const wrong = whys.filter((w) => w === 'wrong-secret').length;
        const archived = whys.length - wrong;
        expect(drops).toEqual({ 'wrong-secret': wrong, archived });
        expect(logged).toBe(Math.min(wrong, MAX_SAMPLE_ERRORS) + Math.min(archived, MAX_SAMPLE_ERRORS));
        expect(dropSummary(drops)).toEqual(wrong > MAX_SAMPLE_ERRORS || archived > MAX_SAMPLE_ERRORS ? { wrongSecret: wrong, archived } : undefined);
      }),
    );
    expect(NO_DROPS).toEqual({ 'wrong-secret': 0, archived: 0 });
  });
});

describe('planEntry', () => {
  const builder = new BundleBuilder();
  const good = () => builder.genBundleEntry('foo/+/bar', 2, 0, 1, 2);

  it('registers a valid entry, with its path, first index and encoded logs', () => {
    const plan = planEntry('foo', undefined, good());
    expect(plan).toMatchObject({ kind: 'register', path: 'foo/+/bar', first: 0, descriptor: { prefix: 'foo', name: 'bar' } });
    expect(plan.kind === 'register' ? plan.data : []).toHaveLength(3);
  });

  it('fills in an empty descriptor prefix with the bundle prefix', () => {
    const entry = good();
    const plan = planEntry('foo', undefined, { ...entry, desc: { ...entry.desc!, prefix: '' } });
    expect(plan).toMatchObject({ kind: 'register', path: 'foo/+/bar', descriptor: { prefix: 'foo' } });
  });

  it('skips a non-terminal entry without logs, even with a bad secret', () => {
    expect(planEntry('foo', 'too short', builder.genBundleEntry('foo/+/bar', -1))).toEqual({ kind: 'skip' });
  });

  it('refuses by the rules, in order: secret, descriptor, prefix, log entries, contiguity', () => {
    const reason = (plan: ReturnType<typeof planEntry>): string => (plan.kind === 'refuse' ? plan.reason : plan.kind);
    expect(reason(planEntry('foo', secretError(new Uint8Array(3)), good()))).toBe('secret');
    const { desc: _desc, ...noDesc } = good();
    expect(reason(planEntry('foo', undefined, noDesc))).toBe('descriptor');
    const mismatch = planEntry('other', undefined, good());
    expect(reason(mismatch)).toBe('prefix-mismatch');
    expect(mismatch.kind === 'refuse' ? mismatch.describe() : '').toBe('mismatched bundle and entry prefixes: "other" != "foo"');
    expect(reason(planEntry('foo', undefined, { ...good(), desc: { ...good().desc!, name: '' } }))).toBe('descriptor');
    const gap = builder.genBundleEntry('foo/+/bar', 3, 0, 1, 3);
    const refused = planEntry('foo', undefined, gap);
    expect(refused).toMatchObject({ kind: 'refuse', reason: 'non-contiguous', path: 'foo/+/bar' });
    expect(refused.kind === 'refuse' ? refused.describe() : '').toBe('non-contiguous log entry block: expected index 2, got 3');
    const binary = { ...good(), logs: [{ ...builder.logEntry(0), content: { kind: 'binary' as const, data: Uint8Array.of(1) } }] };
    expect(reason(planEntry('foo', undefined, binary))).toBe('log-entry');
  });

  it('clips a long prefix in its message', () => {
    const long = `p${'x'.repeat(4000)}`;
    const plan = planEntry(long, undefined, good());
    expect(plan.kind === 'refuse' ? plan.describe().length : 0).toBeLessThan(200);
  });
});

describe('resolveCollectorSettings', () => {
  const base = { coordinator: memoryCoordinator(), storage: memoryStorage() };

  it('fills in the defaults', () => {
    expect(resolveCollectorSettings(base)).toMatchObject({ workers: 4, streamStateCacheExpire: 600_000, streamStateCacheSize: undefined });
    expect(resolveCollectorSettings({ ...base, streamStateCacheExpire: 0 }).streamStateCacheExpire).toBe(0);
  });

  it('refuses what is not a positive integer of workers or cache size, or a negative expiry, naming the option', () => {
    for (const value of [0, -1, 1.5, Number.NaN]) {
      expect(() => resolveCollectorSettings({ ...base, maxMessageWorkers: value })).toThrow(new RangeError(`maxMessageWorkers must be a positive integer, got ${String(value)}`));
      expect(() => resolveCollectorSettings({ ...base, streamStateCacheSize: value })).toThrow(RangeError);
    }
    expect(() => resolveCollectorSettings({ ...base, streamStateCacheExpire: -1 })).toThrow('streamStateCacheExpire must be a non-negative number of milliseconds, got -1');
  });
});
