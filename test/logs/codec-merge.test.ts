import { describe, expect, it } from 'vitest';
import { decodeBundle, decodeDescriptor, decodeLogEntry } from '../../src/logs/index.js';

/*
 * A singular embedded message that appears twice on the wire is merged, not replaced:
 * "For embedded message fields, the parser merges multiple instances of the same field, as if
 * with the Message::MergeFrom method" — singular scalars of the later instance overwrite,
 * repeated fields append, map entries are overwritten by key, sub-messages (oneof members too)
 * merge recursively; a different oneof member replaces the previous one.
 *   https://protobuf.dev/programming-guides/encoding/#last-one-wins
 *   MergeFrom: https://docs.cloud.google.com/php/docs/reference/protobuf/latest/Google.Protobuf.Internal.Message
 * Go's decoder (google.golang.org/protobuf, which LogDog uses) follows it.
 *
 * The bytes are written by hand, field by field, with LogDog's logpb field numbers: each test
 * spells out its wire bytes instead of going through the codec's encoder.
 */

/** A field key: (field number << 3) | wire type. */
const key = (field: number, wireType: 0 | 2): number => (field << 3) | wireType;
/** A varint field (values < 128, one byte). */
const varint = (field: number, value: number): number[] => [key(field, 0), value];
/** A length-delimited field (payloads < 128 bytes). */
const len = (field: number, payload: readonly number[]): number[] => [key(field, 2), payload.length, ...payload];
const text = (value: string): number[] => [...Buffer.from(value, 'utf8')];
const bytes = (...parts: (readonly number[])[]): Uint8Array => Uint8Array.from(parts.flat());

describe('decoding merges a repeated singular embedded message', () => {
  it('LogStreamDescriptor.timestamp (5) twice: seconds from the first, nanos from the second', () => {
    // timestamp { seconds: 10 } then timestamp { nanos: 5 }
    const wire = bytes(len(5, varint(1, 10)), len(5, varint(2, 5)));
    expect(decodeDescriptor(wire).timestamp).toEqual({ seconds: 10, nanos: 5 });
  });

  it('the later instance overwrites the scalars it carries', () => {
    // timestamp { seconds: 10, nanos: 1 } then timestamp { nanos: 7 }
    const wire = bytes(len(5, [...varint(1, 10), ...varint(2, 1)]), len(5, varint(2, 7)));
    expect(decodeDescriptor(wire).timestamp).toEqual({ seconds: 10, nanos: 7 });
  });

  it('BundleEntry.desc (1) twice: scalars overwritten, map entries merged by key, timestamp merged', () => {
    const first = [
      ...len(1, text('pre')), // prefix
      ...len(2, text('a')), // name
      ...len(6, [...len(1, text('k1')), ...len(2, text('v1'))]), // tags { k1: v1 }
      ...len(6, [...len(1, text('k2')), ...len(2, text('old'))]), // tags { k2: old }
      ...len(5, varint(1, 3)), // timestamp { seconds: 3 }
    ];
    const second = [
      ...len(2, text('b')), // name
      ...len(6, [...len(1, text('k2')), ...len(2, text('new'))]), // tags { k2: new }
      ...len(5, varint(2, 9)), // timestamp { nanos: 9 }
    ];
    // ButlerLogBundle { entries (3): BundleEntry { desc (1), desc (1) } }
    const wire = bytes(len(3, [...len(1, first), ...len(1, second)]));
    const [entry] = decodeBundle(wire).entries;
    expect(entry?.desc).toEqual({
      prefix: 'pre',
      name: 'b',
      streamType: 0,
      contentType: '',
      tags: { k1: 'v1', k2: 'new' },
      binaryFileExt: '',
      timestamp: { seconds: 3, nanos: 9 },
    });
  });

  it('ButlerLogBundle.timestamp (2) and LogEntry.time_offset (1) twice', () => {
    const wire = bytes(len(2, varint(1, 100)), len(2, varint(2, 42)));
    expect(decodeBundle(wire).timestamp).toEqual({ seconds: 100, nanos: 42 });
    const entry = bytes(len(1, varint(1, 4)), varint(4, 8), len(1, varint(2, 2)));
    expect(decodeLogEntry(entry)).toMatchObject({ timeOffset: { seconds: 4, nanos: 2 }, sequence: 8 });
  });

  it('the oneof member text (10) twice: its repeated lines are appended', () => {
    const line = (value: string): number[] => len(1, [...len(1, text(value)), ...len(2, text('\n'))]);
    const wire = bytes(len(10, line('one')), len(10, [...line('two'), ...line('three')]));
    const content = decodeLogEntry(wire).content;
    expect(content?.kind).toBe('text');
    if (content?.kind !== 'text') return;
    expect(content.lines.map((one) => Buffer.from(one.value).toString('utf8'))).toEqual(['one', 'two', 'three']);
  });

  it('the oneof member datagram (12) twice: data kept, partial (2) merged', () => {
    // datagram { data: [1, 2], partial { index: 2 } } then datagram { partial { size: 5, last: true } }
    const wire = bytes(
      len(12, [...len(1, [1, 2]), ...len(2, varint(1, 2))]),
      len(12, len(2, [...varint(2, 5), ...varint(3, 1)])),
    );
    const content = decodeLogEntry(wire).content;
    expect(content?.kind).toBe('datagram');
    if (content?.kind !== 'datagram') return;
    expect([...content.data]).toEqual([1, 2]);
    expect(content.partial).toEqual({ index: 2, size: 5, last: true });
  });

  it('a different oneof member replaces the previous one: text then binary gives the binary alone', () => {
    const wire = bytes(len(10, len(1, len(1, text('gone')))), len(11, len(2, [7, 8])));
    const content = decodeLogEntry(wire).content;
    expect(content?.kind).toBe('binary');
    if (content?.kind !== 'binary') return;
    expect([...content.data]).toEqual([7, 8]);
  });

  it('binary then text then binary: the last binary does not bring back the first one\'s data', () => {
    const wire = bytes(len(11, len(2, [1])), len(10, len(1, len(1, text('x')))), len(11, []));
    const content = decodeLogEntry(wire).content;
    expect(content).toEqual({ kind: 'binary', data: new Uint8Array(0) });
  });
});
