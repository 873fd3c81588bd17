import fc from 'fast-check';
import { lastValueFrom, of, Subject, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  BundleEntriesError,
  CollectorClosedError,
  CoordinatorError,
  InvalidBundleError,
  InvalidEntryError,
  type LogCollector,
  type Storage,
  StorageError,
  createLogCollector,
  encodeMessage,
  frame,
  encodeMetadata,
  memoryStorage,
  PREFIX_SECRET_LENGTH,
} from '../../src/logs/index.js';
import { silentLogger } from '../../src/util/logger.js';
import {
  BundleBuilder,
  backendError,
  failingStorage,
  range,
  storedIndexes,
  testCoordinator,
  testSecret,
  type TestCoordinator,
} from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

/** The terminal index the coordinator holds for a stream (-1: not terminal), or undefined. */
function terminalIndexOf(tcc: TestCoordinator, path: string): number | undefined {
  return tcc.stream('test-project', path)?.state.terminalIndex;
}

for (const caching of [false, true]) {
  describe(`the collector (reference cases, caching ${caching ? 'on' : 'off'})`, () => {
    const setup = (storageOverride?: (s: Storage) => Storage) => {
      const tcc = testCoordinator();
      const base = memoryStorage();
      const st = storageOverride === undefined ? base : storageOverride(base);
      const coll: LogCollector = createLogCollector({
        coordinator: tcc,
        storage: st,
        streamStateCacheExpire: caching ? 600_000 : 0,
        logger: silentLogger,
      });
      return { tcc, st: base, coll, bb: new BundleBuilder() };
    };

    it('processes several full streams of a bundle and stores them in order', async () => {
      const { tcc, st, coll, bb } = setup();
      bb.addFullStream('foo/+/bar', 128);
      bb.addFullStream('foo/+/baz', 256);
      await coll.process(bb.bundle());
      expect(terminalIndexOf(tcc, 'foo/+/bar')).toBe(127);
      expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual(range(0, 127));
      expect(terminalIndexOf(tcc, 'foo/+/baz')).toBe(255);
      expect(await storedIndexes(st, 'test-project', 'foo/+/baz')).toEqual(range(0, 255));
      expect(coll.stats().logsStored).toBe(384);
    });

    it('rejects with a transient error when registering fails transiently', async () => {
      const { tcc, coll, bb } = setup();
      tcc.registerCallback = () => {
        throw backendError(true);
      };
      bb.addFullStream('foo/+/bar', 128);
      const error = await rejection(coll.process(bb.bundle()));
      expect(error).toBeInstanceOf(CoordinatorError);
      expect(error).toMatchObject({ transient: true, operation: 'register' });
    });

    it('rejects with a permanent error when registering fails permanently', async () => {
      const { tcc, coll, bb } = setup();
      tcc.registerCallback = () => {
        throw backendError(false);
      };
      bb.addFullStream('foo/+/bar', 128);
      const error = await rejection(coll.process(bb.bundle()));
      expect(error).toBeInstanceOf(CoordinatorError);
      expect(error).toMatchObject({ transient: false });
    });

    it('terminates a stream registered non-terminal when a terminal entry comes', async () => {
      const { tcc, coll, bb } = setup();
      let terminateCalled = false;
      tcc.terminateCallback = () => {
        terminateCalled = true;
      };
      bb.addStreamEntries('foo/+/bar', -1, 0, 1);
      await coll.process(bb.bundle());
      bb.addStreamEntries('foo/+/bar', 3, 2, 3);
      await coll.process(bb.bundle());
      expect(terminateCalled).toBe(true);
      expect(terminalIndexOf(tcc, 'foo/+/bar')).toBe(3);
    });

    for (const transient of [true, false]) {
      it(`rejects with a ${transient ? 'transient' : 'permanent'} error when terminating fails so`, async () => {
        const { tcc, coll, bb } = setup();
        tcc.terminateCallback = () => {
          throw backendError(transient);
        };
        bb.addStreamEntries('foo/+/bar', -1, 0, 1, 2, 3, 4);
        await coll.process(bb.bundle());
        bb.addStreamEntries('foo/+/bar', 5, 5);
        const error = await rejection(coll.process(bb.bundle()));
        expect(error).toBeInstanceOf(CoordinatorError);
        expect(error).toMatchObject({ transient, operation: 'terminate' });
      });
    }

    it('rejects with a transient error when storage fails transiently, and a redelivery stores all', async () => {
      let count = 0;
      const { st, coll, bb } = setup((s) => failingStorage(s, () => (++count === 1 ? backendError(true) : undefined)));
      bb.addFullStream('foo/+/bar', 128);
      const message = bb.bundle();
      const error = await rejection(coll.process(message));
      expect(error).toBeInstanceOf(StorageError);
      expect(error).toMatchObject({ transient: true });
      await coll.process(message);
      expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual(range(0, 127));
    });

    it('rejects with a permanent error when storage fails permanently', async () => {
      const { coll, bb } = setup((s) => failingStorage(s, () => backendError(false)));
      bb.addFullStream('foo/+/bar', 4);
      expect(await rejection(coll.process(bb.bundle()))).toMatchObject({ tag: 'Storage', transient: false });
    });

    it('stores the good entries of a bundle with a bad one, and rejects permanently', async () => {
      const { tcc, st, coll, bb } = setup();
      const good = bb.genBundleEntry('foo/+/trash', 1337, 4, 5, 6, 7, 8);
      bb.addBundleEntry(good);
      bb.addStreamEntries('foo/+/trash', 0, 1, 3); // invalid: non-contiguous
      bb.addFullStream('foo/+/bar', 32);
      const error = await rejection(coll.process(bb.bundle()));
      expect(error).toBeInstanceOf(InvalidEntryError);
      expect(error).toMatchObject({ transient: false, reason: 'non-contiguous' });
      expect(terminalIndexOf(tcc, 'foo/+/bar')).toBe(31);
      expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual(range(0, 31));
      expect(terminalIndexOf(tcc, 'foo/+/trash')).toBe(1337);
      expect(await storedIndexes(st, 'test-project', 'foo/+/trash')).toEqual([4, 5, 6, 7, 8]);
    });

    it('refuses a bundle without a (valid) secret', async () => {
      const { coll, bb } = setup();
      bb.base.secret = new Uint8Array(0);
      bb.addFullStream('foo/+/bar', 4);
      const error = await rejection(coll.process(bb.bundle()));
      expect(error).toBeInstanceOf(InvalidEntryError);
      expect(error.message).toMatch(/invalid prefix secret/);
      expect(error).toMatchObject({ transient: false, reason: 'secret' });
    });

    it('drops only the stream whose secret is not the registered one', async () => {
      const { tcc, st, coll, bb } = setup();
      bb.addStreamEntries('foo/+/bar', -1, 0, 1, 2);
      await coll.process(bb.bundle());
      bb.base.secret = new Uint8Array(PREFIX_SECRET_LENGTH).fill(0xaa);
      const wrong = bb.genBundleEntry('foo/+/bar', 4, 3, 4);
      bb.addBundleEntry({ ...wrong, terminalIndex: 1337 });
      bb.addFullStream('foo/+/baz', 3);
      await coll.process(bb.bundle());
      expect(terminalIndexOf(tcc, 'foo/+/bar')).toBe(-1);
      expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual(range(0, 2));
      expect(terminalIndexOf(tcc, 'foo/+/baz')).toBe(2);
      expect(await storedIndexes(st, 'test-project', 'foo/+/baz')).toEqual(range(0, 2));
      expect(coll.stats().wrongSecret).toBe(1);
    });

    for (const [name, project] of [
      ['empty', ''],
      ['invalid', '!!!invalid name!!!'],
    ] as const) {
      it(`refuses a bundle with an ${name} project, permanently`, async () => {
        const { coll, bb } = setup();
        bb.base.project = project;
        bb.addFullStream('foo/+/baz', 3);
        const error = await rejection(coll.process(bb.bundle()));
        expect(error).toBeInstanceOf(InvalidBundleError);
        expect(error).toMatchObject({ field: 'project', transient: false });
      });
    }

    for (const [name, prefix] of [
      ['empty', ''],
      ['invalid', '!!!invalid prefix!!!'],
    ] as const) {
      it(`refuses a bundle with an ${name} prefix, permanently, even without entries`, async () => {
        const { coll, bb } = setup();
        bb.base.prefix = prefix;
        const error = await rejection(coll.process(bb.bundle()));
        expect(error).toBeInstanceOf(InvalidBundleError);
        expect(error).toMatchObject({ field: 'prefix', transient: false });
      });
    }

    it("refuses an entry whose descriptor prefix is not the bundle's", async () => {
      const { coll, bb } = setup();
      bb.addStreamEntries('baz/+/bar', 3, 0, 1, 2, 3, 4);
      const error = await rejection(coll.process(bb.bundle()));
      expect(error.message).toMatch(/mismatched bundle and entry prefixes/);
      expect(error).toMatchObject({ transient: false, reason: 'prefix-mismatch' });
    });

    it("fills in an empty descriptor prefix with the bundle's", async () => {
      const { tcc, st, coll, bb } = setup();
      const entry = bb.genBundleEntry('x/+/bar', 1, 0, 1);
      bb.addBundleEntry({ ...entry, desc: { ...entry.desc!, prefix: '' } });
      await coll.process(bb.bundle());
      expect(tcc.stream('test-project', 'foo/+/bar')?.descriptor.prefix).toBe('foo');
      expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual([0, 1]);
    });

    it('drops a message with a corrupt header, without an error', async () => {
      const { tcc, coll } = setup();
      await coll.process(Uint8Array.of(0x00));
      expect(tcc.streams()).toEqual([]);
      expect(coll.stats().dropped['content-type']).toBe(1);
    });

    it('drops a message with an unknown protocol version, without an error', async () => {
      const { tcc, coll, bb } = setup();
      bb.addFullStream('foo/+/bar', 3);
      await coll.process(encodeMessage(bb.bundleValue(), { protoVersion: '!!!invalid!!!' }));
      expect(tcc.streams()).toEqual([]);
      expect(coll.stats().dropped['unknown-version']).toBe(1);
    });

    for (const flag of ['archived', 'purged'] as const) {
      it(`stores nothing for an ${flag} stream`, async () => {
        const { tcc, st, coll, bb } = setup();
        tcc.put({
          project: 'test-project',
          path: 'foo/+/bar',
          protoVersion: '1',
          secret: testSecret,
          terminalIndex: -1,
          archived: flag === 'archived',
          purged: flag === 'purged',
        });
        bb.addStreamEntries('foo/+/bar', 3, 0, 1, 2, 3, 4);
        await coll.process(bb.bundle());
        expect(terminalIndexOf(tcc, 'foo/+/bar')).toBe(-1);
        expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual([]);
        expect(coll.stats().archived).toBe(1);
      });
    }

    it('takes an empty bundle without an error', async () => {
      const { tcc, coll, bb } = setup();
      await coll.process(bb.bundle());
      expect(tcc.registerCalls).toBe(0);
    });

    it('refuses a binary entry in a text stream before registering anything', async () => {
      const { tcc, coll, bb } = setup();
      const entry = bb.genBundleEntry('foo/+/bar', 4, 0, 1, 2, 3, 4);
      entry.logs.push({
        prefixIndex: 0,
        streamIndex: 2,
        sequence: 2,
        content: { kind: 'binary', data: Uint8Array.of(0xd0, 0x6f, 0x00, 0xd5) },
      });
      bb.addBundleEntry(entry);
      const error = await rejection(coll.process(bb.bundle()));
      expect(error.message).toMatch(/invalid log entry/);
      expect(error).toMatchObject({ reason: 'log-entry', transient: false });
      expect(tcc.stream('test-project', 'foo/+/bar')).toBeUndefined();
    });

    it('skips a non-terminal entry without logs', async () => {
      const { tcc, coll, bb } = setup();
      bb.addStreamEntries('foo/+/bar', -1);
      await coll.process(bb.bundle());
      expect(tcc.registerCalls).toBe(0);
      expect(coll.stats().skippedEntries).toBe(1);
    });

    it('terminates a stream from a terminal entry without logs', async () => {
      const { tcc, coll, bb } = setup();
      bb.addStreamEntries('foo/+/bar', -1, 0, 1);
      await coll.process(bb.bundle());
      bb.addBundleEntry({ ...bb.genBundleEntry('foo/+/bar', -1), terminal: true, terminalIndex: 1 });
      await coll.process(bb.bundle());
      expect(terminalIndexOf(tcc, 'foo/+/bar')).toBe(1);
    });

    it('never duplicates an entry when a message is redelivered', async () => {
      const { st, coll, bb } = setup();
      bb.addFullStream('foo/+/bar', 10);
      const message = bb.bundle();
      await coll.process(message);
      await coll.process(message);
      expect(await storedIndexes(st, 'test-project', 'foo/+/bar')).toEqual(range(0, 9));
      expect(coll.stats().logsStored).toBe(10);
    });

    it('combines several failing entries into one error, transient when any is', async () => {
      let calls = 0;
      const { coll, bb } = setup((s) => failingStorage(s, () => (++calls === 1 ? backendError(true) : undefined)));
      bb.addFullStream('foo/+/ok', 2);
      bb.addStreamEntries('foo/+/bad', 0, 0, 2);
      const error = await rejection(coll.process(bb.bundle()));
      // one entry failed in storage (transient), the other is invalid (permanent)
      expect(error).toBeInstanceOf(BundleEntriesError);
      expect(error).toMatchObject({ transient: true });
      expect(error instanceof BundleEntriesError && error.errors.length).toBe(2);
    });
  });
}

describe('the collector: random input', () => {
  it('random bytes never crash process and never store anything', async () => {
    const storage = memoryStorage();
    const tcc = testCoordinator();
    const coll = createLogCollector({ coordinator: tcc, storage, logger: silentLogger });
    const metadata = encodeMetadata({ type: 1, compression: 0, protoVersion: '1' });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          // random bytes inside valid frames, to reach the bundle decoder and the rules
          fc.uint8Array({ maxLength: 512 }).map((b) => frame([metadata, b])),
          fc.uint8Array({ maxLength: 64 }).map((b) => frame([b, b])),
        ),
        async (bytes) => {
          try {
            await coll.process(bytes);
          } catch (error) {
            // Only typed, permanent refusals: nothing crashes, nothing is transient.
            expect(error).toMatchObject({ transient: false });
            expect([InvalidBundleError, InvalidEntryError, BundleEntriesError].some((c) => error instanceof c)).toBe(
              true,
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
    const anyStored = await Promise.all(
      tcc.streams().map(async (s) => (await storage.get({ project: s.state.project, path: s.state.path })).length),
    );
    expect(anyStored.every((n) => n === 0)).toBe(true);
    expect(coll.stats().logsStored).toBe(0);
  });
});

describe('collect and close', () => {
  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('keeps at most maxMessageWorkers messages in flight and emits one outcome each', async () => {
    const gate = deferred();
    let active = 0;
    let peak = 0;
    const base = memoryStorage();
    const storage: Storage = {
      ...base,
      async put(request) {
        active++;
        peak = Math.max(peak, active);
        await gate.promise;
        active--;
        return base.put(request);
      },
    };
    const coll = createLogCollector({
      coordinator: testCoordinator(),
      storage,
      maxMessageWorkers: 3,
      logger: silentLogger,
    });
    const bb = new BundleBuilder();
    const messages = Array.from({ length: 10 }, (_, i) => {
      bb.addFullStream(`foo/+/s${i}`, 2);
      return { data: bb.bundle(), id: i };
    });
    const outcomes = lastValueFrom(of(...messages).pipe(coll.collect, toArray()));
    await new Promise((r) => setTimeout(r, 20));
    expect(active).toBe(3);
    gate.resolve();
    const done = await outcomes;
    expect(peak).toBe(3);
    expect(done.map((o) => o.message.id).sort((a, b) => a - b)).toEqual(range(0, 9));
    expect(done.every((o) => !o.redeliver && o.error === undefined)).toBe(true);
  });

  it('tells the transport to redeliver after a transient failure, not after a permanent one', async () => {
    const tcc = testCoordinator();
    tcc.registerCallback = (state) => {
      if (state.path === 'foo/+/flaky') throw backendError(true);
    };
    const coll = createLogCollector({ coordinator: tcc, storage: memoryStorage(), logger: silentLogger });
    const bb = new BundleBuilder();
    bb.addFullStream('foo/+/flaky', 2);
    const flaky = bb.bundle();
    bb.base.project = 'BAD';
    bb.addFullStream('foo/+/x', 2);
    const bad = bb.bundle();
    const out = await lastValueFrom(of(flaky, bad, Uint8Array.of(0)).pipe(coll.collect, toArray()));
    const byMessage = new Map(out.map((o) => [o.message, o]));
    expect(byMessage.get(flaky)).toMatchObject({ redeliver: true });
    expect(byMessage.get(bad)).toMatchObject({ redeliver: false });
    expect(byMessage.get(bad)?.error).toBeInstanceOf(InvalidBundleError);
    expect(byMessage.get(out[2]!.message)).toBeDefined();
  });

  it('close() waits for messages in flight, then refuses new ones as transient', async () => {
    const gate = deferred();
    const base = memoryStorage();
    const storage: Storage = {
      ...base,
      async put(request) {
        await gate.promise;
        return base.put(request);
      },
    };
    const coll = createLogCollector({ coordinator: testCoordinator(), storage, logger: silentLogger });
    const bb = new BundleBuilder();
    bb.addFullStream('foo/+/bar', 5);
    const inFlight = coll.process(bb.bundle());
    let closed = false;
    const closing = coll.close().then(() => {
      closed = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(false);
    expect(coll.stats().inFlight).toBe(1);
    gate.resolve();
    await closing;
    await inFlight;
    expect(await storedIndexes(base, 'test-project', 'foo/+/bar')).toEqual(range(0, 4));
    const refused = await rejection(coll.process(bb.bundle()));
    expect(refused).toBeInstanceOf(CollectorClosedError);
    expect(refused).toMatchObject({ transient: true });
    await coll.close();
  });

  it('collect stops taking messages at close() and completes when those in flight are done', async () => {
    const gate = deferred();
    const base = memoryStorage();
    const storage: Storage = {
      ...base,
      async put(request) {
        await gate.promise;
        return base.put(request);
      },
    };
    const coll = createLogCollector({
      coordinator: testCoordinator(),
      storage,
      maxMessageWorkers: 2,
      logger: silentLogger,
    });
    const source = new Subject<Uint8Array>();
    const bb = new BundleBuilder();
    const outcomes = lastValueFrom(source.pipe(coll.collect, toArray()));
    for (let i = 0; i < 3; i++) {
      bb.addFullStream(`foo/+/s${i}`, 2);
      source.next(bb.bundle());
    }
    const closing = coll.close();
    bb.addFullStream('foo/+/late', 2);
    source.next(bb.bundle()); // after close: not taken
    gate.resolve();
    await closing;
    const done = await outcomes;
    // two were in flight and finish; the third was waiting for a slot and is handed back
    expect(done).toHaveLength(3);
    expect(done.filter((o) => o.error === undefined)).toHaveLength(2);
    expect(done.filter((o) => o.error instanceof CollectorClosedError && o.redeliver)).toHaveLength(1);
    expect(source.observed).toBe(false);
  });
});
