import { deflateSync, inflateSync } from 'node:zlib';
import { decodeBundle, decodeMetadata, encodeBundle, encodeMetadata } from './codec.js';
import { MessageDecodeError } from './errors.js';
import {
  ButlerContentType,
  Compression,
  MAX_MESSAGE_SIZE,
  PROTOCOL_VERSION,
  type ButlerLogBundle,
  type ButlerMetadata,
} from './types.js';

/** The size from which `encodeMessage` compresses a bundle by default (LogDog's writer's). */
export const DEFAULT_COMPRESS_THRESHOLD = 860;

/** Options of {@link encodeMessage}. */
export interface EncodeMessageOptions {
  /** `true`: always zlib; `false`: never; `'auto'` (default): from `compressThreshold` bytes on. */
  readonly compress?: boolean | 'auto';
  /** Default {@link DEFAULT_COMPRESS_THRESHOLD}. */
  readonly compressThreshold?: number;
  /** Default {@link PROTOCOL_VERSION}; another value makes a message collectors drop. */
  readonly protoVersion?: string;
}

/** Options of {@link decodeMessage}. */
export interface DecodeMessageOptions {
  /** The most a frame or the decompressed bundle may hold. Default {@link MAX_MESSAGE_SIZE}. */
  readonly maxSize?: number;
}

/** A decoded message: its metadata frame and its bundle. */
export interface DecodedMessage {
  readonly metadata: ButlerMetadata;
  readonly bundle: ButlerLogBundle;
}

function uvarint(value: number): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/**
 * Frames `chunks` as RecordIO: each one a uvarint length, then its bytes.
 *
 * @example
 * ```ts
 * frame([Uint8Array.of(7)]); // Uint8Array [1, 7]
 * ```
 */
export function frame(chunks: readonly Uint8Array[]): Uint8Array {
  const parts = chunks.flatMap((c) => [uvarint(c.length), c]);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Reads one RecordIO frame at `offset`; returns its bytes and where the next frame starts. */
function readFrame(bytes: Uint8Array, offset: number, maxSize: number): { data: Uint8Array; next: number } {
  let size = 0;
  let scale = 1;
  let at = offset;
  for (;;) {
    if (at >= bytes.length) throw new MessageDecodeError('frame', 'truncated frame header');
    const b = bytes[at++] ?? 0;
    size += (b & 0x7f) * scale;
    if (size > maxSize) throw new MessageDecodeError('too-large', `frame exceeds ${maxSize} bytes`);
    if ((b & 0x80) === 0) break;
    scale *= 0x80;
  }
  if (at + size > bytes.length) throw new MessageDecodeError('frame', 'truncated frame');
  return { data: bytes.subarray(at, at + size), next: at + size };
}

/**
 * Encodes a bundle as a LogDog message: a RecordIO frame with the `ButlerMetadata`, then one with
 * the bundle, zlib-compressed when the metadata says so. Throws a `RangeError` when the bundle
 * exceeds {@link MAX_MESSAGE_SIZE}: a producer splits it into several bundles.
 *
 * @example
 * ```ts
 * const message = encodeMessage({ project: 'chromium', prefix: 'builds/1', secret, entries });
 * collector.process(message);
 * ```
 */
export function encodeMessage(bundle: ButlerLogBundle, options: EncodeMessageOptions = {}): Uint8Array {
  const data = encodeBundle(bundle);
  if (data.length > MAX_MESSAGE_SIZE) {
    throw new RangeError(`bundle is ${data.length} bytes, over the ${MAX_MESSAGE_SIZE}-byte cap: split it`);
  }
  const compress = options.compress ?? 'auto';
  const zlib =
    compress === true ||
    (compress === 'auto' && data.length >= (options.compressThreshold ?? DEFAULT_COMPRESS_THRESHOLD));
  const metadata: ButlerMetadata = {
    type: ButlerContentType.ButlerLogBundle,
    compression: zlib ? Compression.Zlib : Compression.None,
    protoVersion: options.protoVersion ?? PROTOCOL_VERSION,
  };
  return frame([encodeMetadata(metadata), zlib ? new Uint8Array(deflateSync(data)) : data]);
}

/**
 * Decodes a LogDog message. Throws a {@link MessageDecodeError} whose `reason` says what is wrong:
 * a bad frame, bad metadata, a content type other than a bundle, an unknown compression, a frame
 * or decompressed bundle over `maxSize`, an unknown protocol version, or a malformed bundle.
 *
 * @example
 * ```ts
 * const { metadata, bundle } = decodeMessage(message);
 * ```
 */
export function decodeMessage(bytes: Uint8Array, options: DecodeMessageOptions = {}): DecodedMessage {
  const { metadata, data } = unpackMessage(bytes, options);
  try {
    return { metadata, bundle: decodeBundle(data) };
  } catch (cause) {
    throw new MessageDecodeError('bundle', `malformed bundle: ${String(cause)}`, { cause });
  }
}

/**
 * The first half of {@link decodeMessage}: checks the frames and the metadata and inflates the
 * bundle, leaving its bytes undecoded (for `bundleScanner`). Throws a {@link MessageDecodeError}
 * for everything but a malformed bundle.
 *
 * @example
 * ```ts
 * const { metadata, data } = unpackMessage(message);
 * ```
 */
export function unpackMessage(
  bytes: Uint8Array,
  options: DecodeMessageOptions = {},
): { readonly metadata: ButlerMetadata; readonly data: Uint8Array } {
  const maxSize = options.maxSize ?? MAX_MESSAGE_SIZE;
  const first = readFrame(bytes, 0, maxSize);
  let metadata: ButlerMetadata;
  try {
    metadata = decodeMetadata(first.data);
  } catch (cause) {
    throw new MessageDecodeError('metadata', `malformed metadata frame: ${String(cause)}`, { cause });
  }
  if (metadata.type !== ButlerContentType.ButlerLogBundle) {
    throw new MessageDecodeError('content-type', `unknown content type ${metadata.type}`);
  }
  const second = readFrame(bytes, first.next, maxSize);
  if (second.next !== bytes.length) throw new MessageDecodeError('frame', 'trailing bytes after the bundle frame');
  let data: Uint8Array;
  switch (metadata.compression) {
    case Compression.None:
      data = second.data;
      break;
    case Compression.Zlib:
      try {
        const inflated = inflateSync(second.data, { maxOutputLength: maxSize });
        // A plain Uint8Array view, so decoded bytes fields are not Buffers.
        data = new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength);
      } catch (cause) {
        const tooLarge = cause instanceof RangeError;
        throw new MessageDecodeError(
          tooLarge ? 'too-large' : 'compression',
          tooLarge ? `decompressed bundle exceeds ${maxSize} bytes` : `bad zlib data: ${String(cause)}`,
          { cause },
        );
      }
      break;
    default:
      throw new MessageDecodeError('compression', `unknown compression ${metadata.compression}`);
  }
  if (metadata.protoVersion !== PROTOCOL_VERSION) {
    throw new MessageDecodeError(
      'unknown-version',
      `unknown protocol version ${JSON.stringify(metadata.protoVersion)} (this collector speaks ${PROTOCOL_VERSION})`,
    );
  }
  return { metadata, data };
}
