import { PREFIX_SECRET_LENGTH, StreamType, type LogEntry, type LogStreamDescriptor } from './types.js';

/*
 * LogDog's naming and content rules, as pure functions that return the reason a value is invalid,
 * or undefined when it is valid.
 */

/** The most bytes a stream name (prefix or name) may hold. */
export const MAX_STREAM_NAME_LENGTH = 4096;
/** The most bytes a descriptor tag key may hold. */
export const MAX_TAG_KEY_LENGTH = 64;
/** The most bytes a descriptor tag value may hold. */
export const MAX_TAG_VALUE_LENGTH = 4096;

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9:_.-]*$/;
const PROJECT = /^[a-z][a-z0-9_-]*$/;

function byteLength(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Why `name` is not a valid stream name: '/'-separated segments of `[A-Za-z0-9:_.-]`, each
 * starting with an alphanumeric, 1 to 4096 bytes. Undefined when it is valid.
 *
 * @example
 * ```ts
 * streamNameError('builds/42/stdout'); // undefined
 * streamNameError('builds//x'); // 'segment 2 ...'
 * ```
 */
export function streamNameError(name: string): string | undefined {
  if (name.length === 0) return 'must contain at least one character';
  const size = byteLength(name);
  if (size > MAX_STREAM_NAME_LENGTH) return `is ${size} bytes, over ${MAX_STREAM_NAME_LENGTH}`;
  for (const [i, segment] of name.split('/').entries()) {
    if (!SEGMENT.test(segment)) {
      return `segment ${i + 1} (${JSON.stringify(segment)}) must start with an alphanumeric and hold only [A-Za-z0-9:_.-]`;
    }
  }
  return undefined;
}

/**
 * Why `project` is not a valid project name (LUCI's rule: lowercase letters, digits, '-' and '_',
 * starting with a letter). Undefined when it is valid.
 */
export function projectNameError(project: string): string | undefined {
  if (project.length === 0) return 'must not be empty';
  return PROJECT.test(project) ? undefined : 'must be [a-z][a-z0-9_-]*';
}

/** Why `secret` is not a prefix secret (exactly 36 bytes). */
export function secretError(secret: Uint8Array): string | undefined {
  return secret.length === PREFIX_SECRET_LENGTH
    ? undefined
    : `prefix secret is ${secret.length} bytes, expected ${PREFIX_SECRET_LENGTH}`;
}

/**
 * The path of a stream: `prefix/+/name`.
 *
 * @example
 * ```ts
 * streamPath('builds/42', 'stdout'); // 'builds/42/+/stdout'
 * ```
 */
export function streamPath(prefix: string, name: string): string {
  return `${prefix}/+/${name}`;
}

/**
 * Why a descriptor is invalid: its prefix and name must be stream names, its type known, its
 * content type set, its timestamp present, its tag keys stream names of at most 64 bytes and its
 * tag values at most 4096 bytes.
 */
export function descriptorError(d: LogStreamDescriptor): string | undefined {
  const prefix = streamNameError(d.prefix);
  if (prefix !== undefined) return `invalid prefix: ${prefix}`;
  const name = streamNameError(d.name);
  if (name !== undefined) return `invalid name: ${name}`;
  if (d.streamType !== StreamType.Text && d.streamType !== StreamType.Binary && d.streamType !== StreamType.Datagram) {
    return `invalid stream type ${d.streamType}`;
  }
  if (d.contentType.length === 0) return 'missing content type';
  if (d.timestamp === undefined) return 'missing timestamp';
  for (const [key, value] of Object.entries(d.tags)) {
    const error = tagError(key, value);
    if (error !== undefined) return `invalid tag ${JSON.stringify(key)}: ${error}`;
  }
  return undefined;
}

/** Why a descriptor tag is invalid (key a stream name of at most 64 bytes, value at most 4096). */
export function tagError(key: string, value: string): string | undefined {
  const keyError = streamNameError(key);
  if (keyError !== undefined) return `invalid key: ${keyError}`;
  if (byteLength(key) > MAX_TAG_KEY_LENGTH) return `key exceeds ${MAX_TAG_KEY_LENGTH} bytes`;
  if (byteLength(value) > MAX_TAG_VALUE_LENGTH) return `value exceeds ${MAX_TAG_VALUE_LENGTH} bytes`;
  return undefined;
}

/**
 * Why a log entry does not fit its stream: a text stream's entries carry at least one line, a
 * binary stream's some data, a datagram stream's a datagram.
 */
export function logEntryError(entry: LogEntry, streamType: StreamType): string | undefined {
  const c = entry.content;
  switch (streamType) {
    case StreamType.Text:
      return c?.kind === 'text' && c.lines.length > 0 ? undefined : 'a text stream entry needs text lines';
    case StreamType.Binary:
      return c?.kind === 'binary' && c.data.length > 0 ? undefined : 'a binary stream entry needs binary data';
    case StreamType.Datagram:
      return c?.kind === 'datagram' ? undefined : 'a datagram stream entry needs a datagram';
    default:
      return `unknown stream type ${streamType}`;
  }
}
