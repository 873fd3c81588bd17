/**
 * What the collector does with one bundle entry before it asks anyone: skip it, refuse it (which
 * rule it breaks), or register its stream and store what it carries. Pure: the entry's logs are
 * encoded, nothing is asked of a backend.
 */
import { encodeLogEntry } from './codec.js';
import type { InvalidEntryReason } from './errors.js';
import type { BundleEntry, LogStreamDescriptor } from './types.js';
import { descriptorError, logEntryError, streamPath } from './validate.js';

/** The plan for one bundle entry. */
export type EntryPlan =
  /** A non-terminal entry without logs: nothing to do. */
  | { readonly kind: 'skip' }
  /**
   * The entry breaks a rule: refused (permanent). `describe` builds the message only when it is
   * wanted (a hostile bundle holds hundreds of thousands of such entries); `path` where it is known.
   */
  | { readonly kind: 'refuse'; readonly reason: InvalidEntryReason; readonly describe: () => string; readonly path?: string }
  /** Register the stream `path` with `descriptor`, then store `data` from index `first`. */
  | { readonly kind: 'register'; readonly descriptor: LogStreamDescriptor; readonly path: string; readonly first: number; readonly data: readonly Uint8Array[] };

/**
 * Plans a bundle entry by the rules, in order: a non-terminal entry without logs is skipped; the
 * bundle's secret must be valid (`badSecret`, checked once per message, says why not); the
 * descriptor must be there, its prefix the bundle's (filled in when empty) and valid; each log
 * entry must match the stream type, and they must be contiguous by stream index.
 *
 * @example
 * ```ts
 * const plan = planEntry('builds/42', secretError(bundle.secret), bundle.entry(0));
 * if (plan.kind === 'register') await coordinator.registerStream(request(plan), plan.descriptor);
 * ```
 */
export function planEntry(bundlePrefix: string, badSecret: string | undefined, entry: BundleEntry): EntryPlan {
  if (entry.logs.length === 0 && !entry.terminal) return { kind: 'skip' };
  if (badSecret !== undefined) return refuse('secret', () => `invalid prefix secret: ${badSecret}`);
  if (entry.desc === undefined) return refuse('descriptor', () => 'invalid descriptor: missing');
  if (entry.desc.prefix !== '' && entry.desc.prefix !== bundlePrefix) {
    const entryPrefix = entry.desc.prefix;
    return refuse('prefix-mismatch', () => `mismatched bundle and entry prefixes: ${quote(bundlePrefix)} != ${quote(entryPrefix)}`);
  }
  const descriptor = entry.desc.prefix === '' ? { ...entry.desc, prefix: bundlePrefix } : entry.desc;
  const badDesc = descriptorError(descriptor);
  if (badDesc !== undefined) return refuse('descriptor', () => `invalid descriptor: ${badDesc.length > 300 ? `${badDesc.slice(0, 300)}…` : badDesc}`);
  const path = streamPath(descriptor.prefix, descriptor.name);

  const first = entry.logs[0]?.streamIndex ?? 0;
  const data: Uint8Array[] = [];
  for (const [i, log] of entry.logs.entries()) {
    const badLog = logEntryError(log, descriptor.streamType);
    if (badLog !== undefined) return refuse('log-entry', () => `invalid log entry ${log.streamIndex}: ${badLog}`, path);
    if (log.streamIndex !== first + i) {
      return refuse('non-contiguous', () => `non-contiguous log entry block: expected index ${first + i}, got ${log.streamIndex}`, path);
    }
    data.push(encodeLogEntry(log));
  }
  return { kind: 'register', descriptor, path, first, data };
}

function refuse(reason: InvalidEntryReason, describe: () => string, path?: string): EntryPlan {
  return path === undefined ? { kind: 'refuse', reason, describe } : { kind: 'refuse', reason, describe, path };
}

/** A value for an error message: quoted, and clipped (a bundle prefix may be 4 KiB). */
function quote(value: string, max = 64): string {
  return value.length <= max ? JSON.stringify(value) : `${JSON.stringify(value.slice(0, max))}… (${value.length} chars)`;
}
