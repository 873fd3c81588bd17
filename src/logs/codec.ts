import { BinaryReader, BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type {
  BundleEntry,
  ButlerLogBundle,
  ButlerMetadata,
  DatagramPartial,
  Duration,
  LogContent,
  LogEntry,
  LogStreamDescriptor,
  TextLine,
  Timestamp,
} from './types.js';

/*
 * A hand-written proto3 codec for LogDog's `logpb` messages on @bufbuild/protobuf's wire
 * primitives, with LogDog's field numbers. Encoding leaves zero values out, as proto3 does;
 * decoding fills them in, skips unknown fields (and fields whose wire type is not the declared
 * one, as Go's decoder does), refuses invalid UTF-8 in strings, and refuses 64-bit integers that
 * a `number` cannot hold exactly. Decoded `bytes` fields are views into the input buffer.
 *
 * A singular embedded message that appears more than once on the wire is merged, not replaced
 * (protobuf's rule, which Go's decoder follows): each reader below takes the value decoded so far
 * as its starting point, so a later instance overwrites the scalars it carries, appends to the
 * repeated fields, merges the map entries and, recursively, the embedded messages. A oneof member
 * seen again merges the same way; a different member of the oneof replaces it.
 */

const { Varint, LengthDelimited } = WireType;

// ---------------------------------------------------------------------------------------------
// Encoding

function writeString(w: BinaryWriter, field: number, value: string): void {
  if (value.length > 0) w.tag(field, LengthDelimited).string(value);
}

function writeBytes(w: BinaryWriter, field: number, value: Uint8Array): void {
  if (value.length > 0) w.tag(field, LengthDelimited).bytes(value);
}

function writeUint64(w: BinaryWriter, field: number, value: number): void {
  if (value !== 0) w.tag(field, Varint).uint64(value);
}

function writeSecondsNanos(w: BinaryWriter, field: number, value: Timestamp | Duration | undefined): void {
  if (value === undefined) return;
  w.tag(field, LengthDelimited).fork();
  if (value.seconds !== 0) w.tag(1, Varint).int64(value.seconds);
  if (value.nanos !== 0) w.tag(2, Varint).int32(value.nanos);
  w.join();
}

function writeDescriptor(w: BinaryWriter, d: LogStreamDescriptor): void {
  writeString(w, 1, d.prefix);
  writeString(w, 2, d.name);
  if (d.streamType !== 0) w.tag(3, Varint).int32(d.streamType);
  writeString(w, 4, d.contentType);
  writeSecondsNanos(w, 5, d.timestamp);
  for (const [key, value] of Object.entries(d.tags)) {
    w.tag(6, LengthDelimited).fork();
    writeString(w, 1, key);
    writeString(w, 2, value);
    w.join();
  }
  writeString(w, 7, d.binaryFileExt);
}

function writeContent(w: BinaryWriter, c: LogContent): void {
  switch (c.kind) {
    case 'text':
      w.tag(10, LengthDelimited).fork();
      for (const line of c.lines) {
        w.tag(1, LengthDelimited).fork();
        writeBytes(w, 1, line.value);
        writeString(w, 2, line.delimiter);
        w.join();
      }
      w.join();
      return;
    case 'binary':
      w.tag(11, LengthDelimited).fork();
      writeBytes(w, 2, c.data);
      w.join();
      return;
    case 'datagram':
      w.tag(12, LengthDelimited).fork();
      writeBytes(w, 1, c.data);
      if (c.partial !== undefined) {
        w.tag(2, LengthDelimited).fork();
        if (c.partial.index !== 0) w.tag(1, Varint).uint32(c.partial.index);
        writeUint64(w, 2, c.partial.size);
        if (c.partial.last) w.tag(3, Varint).bool(true);
        w.join();
      }
      w.join();
      return;
  }
}

function writeLogEntry(w: BinaryWriter, e: LogEntry): void {
  writeSecondsNanos(w, 1, e.timeOffset);
  writeUint64(w, 2, e.prefixIndex);
  writeUint64(w, 3, e.streamIndex);
  writeUint64(w, 4, e.sequence);
  if (e.content !== undefined) writeContent(w, e.content);
}

function writeBundleEntry(w: BinaryWriter, e: BundleEntry): void {
  if (e.desc !== undefined) {
    w.tag(1, LengthDelimited).fork();
    writeDescriptor(w, e.desc);
    w.join();
  }
  if (e.terminal) w.tag(3, Varint).bool(true);
  writeUint64(w, 4, e.terminalIndex);
  for (const log of e.logs) {
    w.tag(5, LengthDelimited).fork();
    writeLogEntry(w, log);
    w.join();
  }
}

/**
 * Encodes a `ButlerLogBundle` to protobuf bytes (the bundle frame's content, before any
 * compression).
 *
 * @example
 * ```ts
 * const bytes = encodeBundle({ project: 'p', prefix: 'a', secret, entries: [] });
 * decodeBundle(bytes).project; // 'p'
 * ```
 */
export function encodeBundle(b: ButlerLogBundle): Uint8Array {
  const w = new BinaryWriter();
  writeSecondsNanos(w, 2, b.timestamp);
  for (const entry of b.entries) {
    w.tag(3, LengthDelimited).fork();
    writeBundleEntry(w, entry);
    w.join();
  }
  writeString(w, 4, b.project);
  writeString(w, 5, b.prefix);
  writeBytes(w, 6, b.secret);
  return w.finish();
}

/** Encodes a `LogEntry` (what the collector stores for each entry). */
export function encodeLogEntry(e: LogEntry): Uint8Array {
  const w = new BinaryWriter();
  writeLogEntry(w, e);
  return w.finish();
}

/** Encodes a `LogStreamDescriptor`. */
export function encodeDescriptor(d: LogStreamDescriptor): Uint8Array {
  const w = new BinaryWriter();
  writeDescriptor(w, d);
  return w.finish();
}

/** Encodes a `ButlerMetadata` (the first frame of a message). */
export function encodeMetadata(m: ButlerMetadata): Uint8Array {
  const w = new BinaryWriter();
  if (m.type !== 0) w.tag(1, Varint).int32(m.type);
  if (m.compression !== 0) w.tag(2, Varint).int32(m.compression);
  writeString(w, 3, m.protoVersion);
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// Decoding

function safeInteger(value: bigint | string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`integer ${String(value)} is beyond Number.MAX_SAFE_INTEGER`);
  return n;
}

/** Reads the length of a nested message and returns where it ends. */
function nestedEnd(r: BinaryReader, limit: number): number {
  const length = r.uint32();
  const end = r.pos + length;
  if (end > limit) throw new Error('nested message runs past its parent');
  return end;
}

function checkEnd(r: BinaryReader, end: number): void {
  if (r.pos !== end) throw new Error('message ends inside a field');
}

function readSecondsNanos(r: BinaryReader, end: number, base?: Timestamp): Timestamp {
  let seconds = base?.seconds ?? 0;
  let nanos = base?.nanos ?? 0;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === Varint) seconds = safeInteger(r.int64());
    else if (no === 2 && wt === Varint) nanos = r.int32();
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  return { seconds, nanos };
}

function readDescriptor(r: BinaryReader, end: number, base?: LogStreamDescriptor): LogStreamDescriptor {
  let prefix = base?.prefix ?? '';
  let name = base?.name ?? '';
  let streamType = base?.streamType ?? 0;
  let contentType = base?.contentType ?? '';
  let timestamp: Timestamp | undefined = base?.timestamp;
  const tags: [string, string][] = Object.entries(base?.tags ?? {});
  let binaryFileExt = base?.binaryFileExt ?? '';
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 3 && wt === Varint) streamType = r.int32();
    else if (wt !== LengthDelimited) r.skip(wt, no);
    else if (no === 1) prefix = r.string(true);
    else if (no === 2) name = r.string(true);
    else if (no === 4) contentType = r.string(true);
    else if (no === 5) timestamp = readSecondsNanos(r, nestedEnd(r, end), timestamp);
    else if (no === 6) {
      const entryEnd = nestedEnd(r, end);
      let key = '';
      let value = '';
      while (r.pos < entryEnd) {
        const [k, kwt] = r.tag();
        if (k === 1 && kwt === LengthDelimited) key = r.string(true);
        else if (k === 2 && kwt === LengthDelimited) value = r.string(true);
        else r.skip(kwt, k);
      }
      checkEnd(r, entryEnd);
      tags.push([key, value]);
    } else if (no === 7) binaryFileExt = r.string(true);
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  const desc = { prefix, name, streamType, contentType, tags: Object.fromEntries(tags), binaryFileExt };
  return timestamp === undefined ? desc : { ...desc, timestamp };
}

function readText(r: BinaryReader, end: number, base?: LogContent): LogContent {
  const lines: TextLine[] = base?.kind === 'text' ? [...base.lines] : [];
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === LengthDelimited) {
      const lineEnd = nestedEnd(r, end);
      let value: Uint8Array = new Uint8Array(0);
      let delimiter = '';
      while (r.pos < lineEnd) {
        const [l, lwt] = r.tag();
        if (l === 1 && lwt === LengthDelimited) value = r.bytes();
        else if (l === 2 && lwt === LengthDelimited) delimiter = r.string(true);
        else r.skip(lwt, l);
      }
      checkEnd(r, lineEnd);
      lines.push({ value, delimiter });
    } else r.skip(wt, no);
  }
  checkEnd(r, end);
  return { kind: 'text', lines };
}

function readBinary(r: BinaryReader, end: number, base?: LogContent): LogContent {
  let data: Uint8Array = base?.kind === 'binary' ? base.data : new Uint8Array(0);
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 2 && wt === LengthDelimited) data = r.bytes();
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  return { kind: 'binary', data };
}

function readPartial(r: BinaryReader, end: number, base?: DatagramPartial): DatagramPartial {
  let index = base?.index ?? 0;
  let size = base?.size ?? 0;
  let last = base?.last ?? false;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === Varint) index = r.uint32();
    else if (no === 2 && wt === Varint) size = safeInteger(r.uint64());
    else if (no === 3 && wt === Varint) last = r.bool();
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  return { index, size, last };
}

function readDatagram(r: BinaryReader, end: number, base?: LogContent): LogContent {
  let data: Uint8Array = base?.kind === 'datagram' ? base.data : new Uint8Array(0);
  let partial: DatagramPartial | undefined = base?.kind === 'datagram' ? base.partial : undefined;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === LengthDelimited) data = r.bytes();
    else if (no === 2 && wt === LengthDelimited) partial = readPartial(r, nestedEnd(r, end), partial);
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  return partial === undefined ? { kind: 'datagram', data } : { kind: 'datagram', data, partial };
}

function readLogEntry(r: BinaryReader, end: number): LogEntry {
  let timeOffset: Duration | undefined;
  let prefixIndex = 0;
  let streamIndex = 0;
  let sequence = 0;
  let content: LogContent | undefined;
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (wt === Varint && no === 2) prefixIndex = safeInteger(r.uint64());
    else if (wt === Varint && no === 3) streamIndex = safeInteger(r.uint64());
    else if (wt === Varint && no === 4) sequence = safeInteger(r.uint64());
    else if (wt !== LengthDelimited) r.skip(wt, no);
    else if (no === 1) timeOffset = readSecondsNanos(r, nestedEnd(r, end), timeOffset);
    // A oneof: the last member on the wire wins; the same member seen again is merged (each
    // reader starts from `content` only when it is of its own kind).
    else if (no === 10) content = readText(r, nestedEnd(r, end), content);
    else if (no === 11) content = readBinary(r, nestedEnd(r, end), content);
    else if (no === 12) content = readDatagram(r, nestedEnd(r, end), content);
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  const entry: LogEntry = { prefixIndex, streamIndex, sequence };
  return {
    ...(timeOffset === undefined ? {} : { timeOffset }),
    ...entry,
    ...(content === undefined ? {} : { content }),
  };
}

function readBundleEntry(r: BinaryReader, end: number): BundleEntry {
  let desc: LogStreamDescriptor | undefined;
  let terminal = false;
  let terminalIndex = 0;
  const logs: LogEntry[] = [];
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === LengthDelimited) desc = readDescriptor(r, nestedEnd(r, end), desc);
    else if (no === 3 && wt === Varint) terminal = r.bool();
    else if (no === 4 && wt === Varint) terminalIndex = safeInteger(r.uint64());
    else if (no === 5 && wt === LengthDelimited) logs.push(readLogEntry(r, nestedEnd(r, end)));
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  const entry: BundleEntry = { terminal, terminalIndex, logs };
  return desc === undefined ? entry : { desc, ...entry };
}

/**
 * Decodes a `ButlerLogBundle` from protobuf bytes; throws an `Error` on malformed input.
 *
 * @example
 * ```ts
 * decodeBundle(encodeBundle(bundle)); // deep-equals bundle
 * ```
 */
export function decodeBundle(bytes: Uint8Array): ButlerLogBundle {
  const r = new BinaryReader(bytes);
  const end = bytes.length;
  let timestamp: Timestamp | undefined;
  const entries: BundleEntry[] = [];
  let project = '';
  let prefix = '';
  let secret: Uint8Array = new Uint8Array(0);
  while (r.pos < end) {
    const [no, wt] = r.tag();
    if (wt !== LengthDelimited) r.skip(wt, no);
    else if (no === 2) timestamp = readSecondsNanos(r, nestedEnd(r, end), timestamp);
    else if (no === 3) entries.push(readBundleEntry(r, nestedEnd(r, end)));
    else if (no === 4) project = r.string(true);
    else if (no === 5) prefix = r.string(true);
    else if (no === 6) secret = r.bytes();
    else r.skip(wt, no);
  }
  checkEnd(r, end);
  const bundle: ButlerLogBundle = { entries, project, prefix, secret };
  return timestamp === undefined ? bundle : { timestamp, ...bundle };
}

/**
 * A bundle whose entries stay encoded until asked for: what a collector holds of a large message
 * (the bytes and two numbers per entry), not one object per entry.
 */
export interface IndexedBundle {
  readonly timestamp?: Timestamp;
  readonly project: string;
  readonly prefix: string;
  /** A view into the bundle's bytes. */
  readonly secret: Uint8Array;
  /** How many entries the bundle holds. */
  readonly entryCount: number;
  /** Decodes entry `i` (0 <= i < entryCount); each call decodes it afresh. */
  entry(i: number): BundleEntry;
}

/**
 * A scan keeps the entries it decoded while the bundle holds at most this many entries and
 * {@link KEEP_DECODED_LOGS} log entries (the usual bundle: decoded once); past either, it keeps
 * only where each entry lies and decodes an entry again when asked for it.
 */
const KEEP_DECODED_ENTRIES = 4096;
/** See {@link KEEP_DECODED_ENTRIES}. */
const KEEP_DECODED_LOGS = 65_536;

/**
 * Scans a `ButlerLogBundle` a few fields at a time, checking every entry as {@link decodeBundle}
 * would; it keeps the decoded entries of a usual bundle, and only where each entry lies for a large
 * one (see {@link KEEP_DECODED_ENTRIES}): `step(fields)` reads at most `fields` top-level fields and
 * answers the {@link IndexedBundle} once the whole bundle is read (undefined before).
 * Throws an `Error` on malformed input, as `decodeBundle` does, whatever entry it is in — so a
 * bundle is either wholly readable or refused before any of it is worked on.
 *
 * @example
 * ```ts
 * const scan = bundleScanner(bytes);
 * let bundle: IndexedBundle | undefined;
 * while ((bundle = scan.step(1000)) === undefined) await yieldToTimers();
 * bundle.entry(0); // decoded on demand
 * ```
 */
export function bundleScanner(bytes: Uint8Array): { step(fields: number): IndexedBundle | undefined } {
  const r = new BinaryReader(bytes);
  let kept: BundleEntry[] | undefined = [];
  let keptLogs = 0;
  const end = bytes.length;
  let timestamp: Timestamp | undefined;
  const starts: number[] = [];
  const ends: number[] = [];
  let project = '';
  let prefix = '';
  let secret: Uint8Array = new Uint8Array(0);
  let done: IndexedBundle | undefined;
  const entry = (i: number): BundleEntry => {
    const decoded = kept?.[i];
    if (decoded !== undefined) return decoded;
    const start = starts[i];
    const stop = ends[i];
    if (start === undefined || stop === undefined) throw new RangeError(`no bundle entry ${i}`);
    return readBundleEntry(new BinaryReader(bytes.subarray(start, stop)), stop - start);
  };
  return {
    step(fields) {
      if (done !== undefined) return done;
      for (let n = 0; n < fields && r.pos < end; n++) {
        const [no, wt] = r.tag();
        if (wt !== LengthDelimited) r.skip(wt, no);
        else if (no === 2) timestamp = readSecondsNanos(r, nestedEnd(r, end), timestamp);
        else if (no === 3) {
          const entryEnd = nestedEnd(r, end);
          const start = r.pos;
          // Checked now; kept for a usual bundle, decoded again when asked for in a large one.
          const decoded = readBundleEntry(r, entryEnd);
          if (kept !== undefined) {
            keptLogs += decoded.logs.length;
            if (kept.length < KEEP_DECODED_ENTRIES && keptLogs <= KEEP_DECODED_LOGS) kept.push(decoded);
            else kept = undefined;
          }
          starts.push(start);
          ends.push(entryEnd);
        } else if (no === 4) project = r.string(true);
        else if (no === 5) prefix = r.string(true);
        else if (no === 6) secret = r.bytes();
        else r.skip(wt, no);
      }
      if (r.pos < end) return undefined;
      checkEnd(r, end);
      const base = { project, prefix, secret, entryCount: starts.length, entry };
      done = timestamp === undefined ? base : { timestamp, ...base };
      return done;
    },
  };
}

/** Decodes a `LogEntry` (as storage holds it); throws an `Error` on malformed input. */
export function decodeLogEntry(bytes: Uint8Array): LogEntry {
  return readLogEntry(new BinaryReader(bytes), bytes.length);
}

/** Decodes a `LogStreamDescriptor`; throws an `Error` on malformed input. */
export function decodeDescriptor(bytes: Uint8Array): LogStreamDescriptor {
  return readDescriptor(new BinaryReader(bytes), bytes.length);
}

/** Decodes a `ButlerMetadata`; throws an `Error` on malformed input. */
export function decodeMetadata(bytes: Uint8Array): ButlerMetadata {
  const r = new BinaryReader(bytes);
  let type = 0;
  let compression = 0;
  let protoVersion = '';
  while (r.pos < bytes.length) {
    const [no, wt] = r.tag();
    if (no === 1 && wt === Varint) type = r.int32();
    else if (no === 2 && wt === Varint) compression = r.int32();
    else if (no === 3 && wt === LengthDelimited) protoVersion = r.string(true);
    else r.skip(wt, no);
  }
  checkEnd(r, bytes.length);
  return { type, compression, protoVersion };
}
