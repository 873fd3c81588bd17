/**
 * The messages of LogDog's wire format (the LUCI log service's `logpb` package), as plain
 * TypeScript values. Field numbers live in `codec.ts`; the shapes here follow proto3 semantics:
 * a scalar that is absent on the wire is its zero value, a message that is absent is `undefined`.
 *
 * 64-bit integers (`uint64` indexes, `int64` seconds) are `number`s: the decoder refuses a value
 * above `Number.MAX_SAFE_INTEGER` rather than round it.
 */

/** The kind of content a log stream carries. */
export const StreamType = Object.freeze({
  Text: 0,
  Binary: 1,
  Datagram: 2,
} as const);

/**
 * A stream type: one of {@link StreamType}'s values, or another number when a producer sent one
 * (the collector refuses it).
 */
export type StreamType = number;

/** `google.protobuf.Timestamp`: seconds and nanoseconds since the Unix epoch. */
export interface Timestamp {
  readonly seconds: number;
  readonly nanos: number;
}

/** `google.protobuf.Duration`: seconds and nanoseconds. */
export interface Duration {
  readonly seconds: number;
  readonly nanos: number;
}

/**
 * `logpb.LogStreamDescriptor`: what a stream is. `prefix` + `/+/` + `name` is its path.
 *
 * @example
 * ```ts
 * const desc: LogStreamDescriptor = {
 *   prefix: 'builds/42', name: 'stdout', streamType: StreamType.Text,
 *   contentType: 'text/plain', timestamp: { seconds: 1_700_000_000, nanos: 0 },
 *   tags: { container_id: '3f4a9c' }, binaryFileExt: '',
 * };
 * ```
 */
export interface LogStreamDescriptor {
  /** Field 1. */
  readonly prefix: string;
  /** Field 2. */
  readonly name: string;
  /** Field 3. */
  readonly streamType: StreamType;
  /** Field 4: an HTTP Content-Type. */
  readonly contentType: string;
  /** Field 5: the stream's base time; entries carry offsets from it. */
  readonly timestamp?: Timestamp;
  /** Field 6 (`map<string, string>`). */
  readonly tags: Readonly<Record<string, string>>;
  /** Field 7. */
  readonly binaryFileExt: string;
}

/** `logpb.Text.Line`: a line's bytes without its delimiter; an empty delimiter continues it. */
export interface TextLine {
  /** Field 1. */
  readonly value: Uint8Array;
  /** Field 2. */
  readonly delimiter: string;
}

/** `logpb.Datagram.Partial`: where a fragment sits in its full datagram. */
export interface DatagramPartial {
  /** Field 1 (`uint32`). */
  readonly index: number;
  /** Field 2 (`uint64`). */
  readonly size: number;
  /** Field 3. */
  readonly last: boolean;
}

/** The `content` oneof of a LogEntry: `text` (field 10), `binary` (11) or `datagram` (12). */
export type LogContent =
  | { readonly kind: 'text'; readonly lines: readonly TextLine[] }
  | { readonly kind: 'binary'; readonly data: Uint8Array }
  | { readonly kind: 'datagram'; readonly data: Uint8Array; readonly partial?: DatagramPartial };

/** `logpb.LogEntry`: one entry of a stream. */
export interface LogEntry {
  /** Field 1: offset from the descriptor's timestamp. */
  readonly timeOffset?: Duration;
  /** Field 2. */
  readonly prefixIndex: number;
  /** Field 3: the entry's index in its stream; entries of one bundle entry are contiguous. */
  readonly streamIndex: number;
  /** Field 4. */
  readonly sequence: number;
  /** Fields 10, 11, 12. */
  readonly content?: LogContent;
}

/** `logpb.ButlerLogBundle.Entry`: one stream's part of a bundle. */
export interface BundleEntry {
  /** Field 1. */
  readonly desc?: LogStreamDescriptor;
  /** Field 3: the producer knows the stream's last index. */
  readonly terminal: boolean;
  /** Field 4: the stream's last index, when `terminal`. */
  readonly terminalIndex: number;
  /** Field 5: contiguous entries of the stream. */
  readonly logs: readonly LogEntry[];
}

/** `logpb.ButlerLogBundle`: what a producer sends in one message. */
export interface ButlerLogBundle {
  /** Field 2. */
  readonly timestamp?: Timestamp;
  /** Field 3. */
  readonly entries: readonly BundleEntry[];
  /** Field 4. */
  readonly project: string;
  /** Field 5: every entry's descriptor prefix must equal it (or be empty). */
  readonly prefix: string;
  /** Field 6: the prefix secret, 36 bytes. */
  readonly secret: Uint8Array;
}

/** `ButlerMetadata.ContentType`. */
export const ButlerContentType = Object.freeze({ Invalid: 0, ButlerLogBundle: 1 } as const);

/** `ButlerMetadata.Compression`. */
export const Compression = Object.freeze({ None: 0, Zlib: 1 } as const);

/** `logpb.ButlerMetadata`: the first frame of a message. */
export interface ButlerMetadata {
  /** Field 1: a {@link ButlerContentType}. */
  readonly type: number;
  /** Field 2: a {@link Compression}. */
  readonly compression: number;
  /** Field 3: the protocol version, {@link PROTOCOL_VERSION}. */
  readonly protoVersion: string;
}

/** The protocol version this collector speaks (`logpb.Version`). */
export const PROTOCOL_VERSION = '1';

/** The most a message, or its bundle once decompressed, may hold: 10 MiB. */
export const MAX_MESSAGE_SIZE = 10 * 1024 * 1024;

/** The length of a prefix secret, in bytes. */
export const PREFIX_SECRET_LENGTH = 36;
