import fc from 'fast-check';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  type BundleEntry,
  type ButlerLogBundle,
  type LogContent,
  type LogEntry,
  type LogStreamDescriptor,
  MAX_MESSAGE_SIZE,
  MessageDecodeError,
  decodeBundle,
  decodeDescriptor,
  decodeLogEntry,
  decodeMessage,
  decodeMetadata,
  encodeBundle,
  encodeDescriptor,
  encodeLogEntry,
  encodeMessage,
  encodeMetadata,
  frame,
} from '../../src/logs/index.js';
import { bundleScanner, type IndexedBundle } from '../../src/logs/codec.js';
import { BundleBuilder } from './helpers.js';

const str = fc.string({ unit: 'binary', maxLength: 12 });
const u64 = fc.maxSafeNat();
const secondsNanos = fc.record({ seconds: fc.maxSafeInteger(), nanos: fc.integer() });
const bytes = fc.uint8Array({ maxLength: 24 });

const content: fc.Arbitrary<LogContent> = fc.oneof(
  fc.record({
    kind: fc.constant('text' as const),
    lines: fc.array(fc.record({ value: bytes, delimiter: str }), { maxLength: 3 }),
  }),
  fc.record({ kind: fc.constant('binary' as const), data: bytes }),
  fc.record(
    {
      kind: fc.constant('datagram' as const),
      data: bytes,
      partial: fc.record({ index: fc.nat({ max: 0xffffffff }), size: u64, last: fc.boolean() }),
    },
    { requiredKeys: ['kind', 'data'] },
  ),
);

const logEntry: fc.Arbitrary<LogEntry> = fc.record(
  { timeOffset: secondsNanos, prefixIndex: u64, streamIndex: u64, sequence: u64, content },
  { requiredKeys: ['prefixIndex', 'streamIndex', 'sequence'] },
);

const descriptor: fc.Arbitrary<LogStreamDescriptor> = fc.record(
  {
    prefix: str,
    name: str,
    streamType: fc.integer(),
    contentType: str,
    timestamp: secondsNanos,
    tags: fc.dictionary(str, str, { maxKeys: 3 }),
    binaryFileExt: str,
  },
  { requiredKeys: ['prefix', 'name', 'streamType', 'contentType', 'tags', 'binaryFileExt'] },
);

const bundleEntry: fc.Arbitrary<BundleEntry> = fc.record(
  { desc: descriptor, terminal: fc.boolean(), terminalIndex: u64, logs: fc.array(logEntry, { maxLength: 4 }) },
  { requiredKeys: ['terminal', 'terminalIndex', 'logs'] },
);

const bundleArb: fc.Arbitrary<ButlerLogBundle> = fc.record(
  {
    timestamp: secondsNanos,
    entries: fc.array(bundleEntry, { maxLength: 4 }),
    project: str,
    prefix: str,
    secret: bytes,
  },
  { requiredKeys: ['entries', 'project', 'prefix', 'secret'] },
);

describe('codec', () => {
  it('decode(encode(bundle)) is the bundle', () => {
    fc.assert(
      fc.property(bundleArb, (bundle) => {
        expect(decodeBundle(encodeBundle(bundle))).toEqual(bundle);
      }),
      { numRuns: 300 },
    );
  });

  it('a whole message round-trips, compressed or not', () => {
    fc.assert(
      fc.property(bundleArb, fc.constantFrom(true, false, 'auto' as const), (bundle, compress) => {
        const { metadata, bundle: decoded } = decodeMessage(encodeMessage(bundle, { compress }));
        expect(decoded).toEqual(bundle);
        expect(metadata.protoVersion).toBe('1');
      }),
      { numRuns: 200 },
    );
  });

  it('log entries, descriptors and metadata round-trip on their own', () => {
    fc.assert(
      fc.property(logEntry, descriptor, (entry, desc) => {
        expect(decodeLogEntry(encodeLogEntry(entry))).toEqual(entry);
        expect(decodeDescriptor(encodeDescriptor(desc))).toEqual(desc);
      }),
    );
    const md = { type: 1, compression: 1, protoVersion: '1' };
    expect(decodeMetadata(encodeMetadata(md))).toEqual(md);
  });

  it('uses LogDog field numbers', () => {
    // LogEntry{stream_index: 5 (field 3), binary (field 11) {data (field 2): [0xAA]}}
    const entry = decodeLogEntry(Uint8Array.of(0x18, 0x05, 0x5a, 0x03, 0x12, 0x01, 0xaa));
    expect(entry.streamIndex).toBe(5);
    expect(entry.content).toEqual({ kind: 'binary', data: Uint8Array.of(0xaa) });
    // ButlerLogBundle{project (4): "p", prefix (5): "a", secret (6): [1]}
    expect(encodeBundle({ project: 'p', prefix: 'a', secret: Uint8Array.of(1), entries: [] })).toEqual(
      Uint8Array.of(0x22, 0x01, 0x70, 0x2a, 0x01, 0x61, 0x32, 0x01, 0x01),
    );
    // ButlerMetadata{type (1): 1, compression (2): 1, proto_version (3): "1"}
    expect(encodeMetadata({ type: 1, compression: 1, protoVersion: '1' })).toEqual(
      Uint8Array.of(0x08, 0x01, 0x10, 0x01, 0x1a, 0x01, 0x31),
    );
  });

  it('skips unknown and deprecated fields', () => {
    // deprecated_source (1) = "x", then project (4) = "p"; a varint field 99 in between.
    const bytes = Uint8Array.of(0x0a, 0x01, 0x78, 0x98, 0x06, 0x07, 0x22, 0x01, 0x70);
    expect(decodeBundle(bytes).project).toBe('p');
  });

  it('refuses malformed protobuf', () => {
    expect(() => decodeBundle(Uint8Array.of(0x22, 0x05, 0x70))).toThrow();
    expect(() => decodeBundle(Uint8Array.of(0x22, 0x02, 0xff, 0xfe))).toThrow(); // invalid UTF-8
    // stream_index of 2^64 - 1 does not fit a number
    const big = Uint8Array.of(0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01);
    expect(() => decodeLogEntry(big)).toThrow(/MAX_SAFE_INTEGER/);
  });
});

describe('messages', () => {
  const reason = (bytes: Uint8Array): string => {
    try {
      decodeMessage(bytes);
    } catch (error) {
      if (error instanceof MessageDecodeError) return error.reason;
      throw error;
    }
    return 'decoded';
  };
  const metadata = (m: { type?: number; compression?: number; protoVersion?: string }) =>
    encodeMetadata({ type: 1, compression: 0, protoVersion: '1', ...m });

  it('is two RecordIO frames: metadata, then the bundle', () => {
    const bundle = new BundleBuilder().bundleValue();
    const message = encodeMessage(bundle, { compress: false });
    expect(message).toEqual(frame([metadata({}), encodeBundle(bundle)]));
  });

  it('compresses from 860 bytes on by default', () => {
    const b = new BundleBuilder();
    b.addFullStream('foo/+/bar', 2);
    expect(decodeMessage(encodeMessage(b.bundleValue())).metadata.compression).toBe(0);
    b.addFullStream('foo/+/bar', 200);
    expect(decodeMessage(encodeMessage(b.bundleValue())).metadata.compression).toBe(1);
  });

  it('says why a message cannot be decoded', () => {
    expect(reason(Uint8Array.of(0x00))).toBe('content-type');
    expect(reason(new Uint8Array(0))).toBe('frame');
    expect(reason(Uint8Array.of(0x05, 0x01))).toBe('frame');
    expect(reason(frame([Uint8Array.of(0xff)]))).toBe('metadata');
    expect(reason(frame([metadata({})]))).toBe('frame');
    expect(reason(frame([metadata({ compression: 7 }), new Uint8Array(0)]))).toBe('compression');
    expect(reason(frame([metadata({ compression: 1 }), Uint8Array.of(1, 2, 3)]))).toBe('compression');
    expect(reason(frame([metadata({ protoVersion: '!!!invalid!!!' }), new Uint8Array(0)]))).toBe('unknown-version');
    expect(reason(frame([metadata({}), Uint8Array.of(0x22, 0x09)]))).toBe('bundle');
    expect(reason(Uint8Array.of(...frame([metadata({}), new Uint8Array(0)]), 0))).toBe('frame');
    expect(reason(frame([metadata({}), new Uint8Array(0)]))).toBe('decoded');
  });

  it('caps frames and decompressed bundles at 10 MiB', () => {
    // A frame header that announces 10 MiB + 1 is refused before anything is read.
    const tooLong = Uint8Array.of(0x81, 0x80, 0x80, 0x05);
    expect(reason(tooLong)).toBe('too-large');
    // A small zlib frame that inflates past the cap (a zip bomb) is refused.
    const bomb = deflateSync(new Uint8Array(MAX_MESSAGE_SIZE + 1));
    expect(bomb.length).toBeLessThan(20_000);
    expect(reason(frame([metadata({ compression: 1 }), bomb]))).toBe('too-large');
    // And a producer cannot write one.
    const huge = { project: 'p', prefix: 'a', secret: new Uint8Array(MAX_MESSAGE_SIZE + 1), entries: [] };
    expect(() => encodeMessage(huge)).toThrow(RangeError);
  });
});

describe('bundleScanner', () => {
  const scan = (bytes: Uint8Array, step: number): IndexedBundle => {
    const scanner = bundleScanner(bytes);
    for (let steps = 0; ; steps++) {
      const done = scanner.step(step);
      if (done !== undefined) return done;
      if (steps > bytes.length + 1) throw new Error('the scan does not end');
    }
  };
  const entriesOf = (b: IndexedBundle): BundleEntry[] => Array.from({ length: b.entryCount }, (_, i) => b.entry(i));

  it('answers what decodeBundle does, whatever the step (property)', () => {
    fc.assert(
      fc.property(bundleArb, fc.integer({ min: 1, max: 5 }), (bundle, step) => {
        const bytes = encodeBundle(bundle);
        const decoded = decodeBundle(bytes);
        const indexed = scan(bytes, step);
        expect({ ...indexed, entry: undefined, entryCount: undefined }).toEqual({
          ...decoded,
          entries: undefined,
          entry: undefined,
          entryCount: undefined,
        });
        expect(indexed.entryCount).toBe(decoded.entries.length);
        expect(entriesOf(indexed)).toEqual(decoded.entries);
      }),
    );
  });

  it('decodes the entries of a bundle too large to keep decoded, on demand', () => {
    const bb = new BundleBuilder();
    for (let i = 0; i < 5000; i++) bb.addStreamEntries(`foo/+/s${i}`, -1, i);
    const bytes = encodeBundle(bb.bundleValue());
    const indexed = scan(bytes, 64);
    expect(indexed.entryCount).toBe(5000);
    expect(entriesOf(indexed)).toEqual(decodeBundle(bytes).entries);
    expect(() => indexed.entry(5000)).toThrow(RangeError);
  });

  it('refuses exactly what decodeBundle refuses (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        let refused = false;
        try {
          decodeBundle(bytes);
        } catch {
          refused = true;
        }
        if (refused) expect(() => scan(bytes, 3)).toThrow();
        else expect(entriesOf(scan(bytes, 3))).toEqual(decodeBundle(bytes).entries);
      }),
      { numRuns: 500 },
    );
  });
});
