import { createWriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import type { Batch } from './batch.js';
import type { Entry } from './entry.js';
import type { ProcessorObserver } from './router.js';

/**
 * Options of {@link ndjsonProcessor}.
 *
 * @example
 * ```ts
 * ndjsonProcessor('/tmp/out.ndjson', { flags: 'w', format: (e) => ({ uid: e.uid, change: e.change }) });
 * ```
 */
export interface NdjsonOptions {
  /** What each line holds (default: the whole entry). */
  readonly format?: (entry: Entry) => unknown;
  /** For a file path: `a` appends (default), `w` truncates. */
  readonly flags?: 'a' | 'w';
}

/**
 * A processor that writes NDJSON; `closed` settles once the output is flushed and closed.
 *
 * @example
 * ```ts
 * const out = ndjsonProcessor('/tmp/out.ndjson');
 * router.register('file', out, { overflow: 'block' });
 * await router.close();
 * await out.closed;
 * ```
 */
export interface NdjsonProcessor extends ProcessorObserver {
  next: (batch: Batch) => Promise<void>;
  complete: () => Promise<void>;
  error: (err: unknown) => Promise<void>;
  /** Settles when a file opened by the processor is closed (or at once for a caller's stream after `end`). */
  readonly closed: Promise<void>;
}

/**
 * A processor that writes every entry of every batch as one JSON line, to a file (opened on the
 * first batch, closed when the router closes) or to a caller's stream (left open). It respects the
 * stream's backpressure: a batch is done when the stream took it, so a slow disk shows as a busy
 * processor (register it with `overflow: 'block'` to lose nothing).
 *
 * @example
 * ```ts
 * router.register('archive', ndjsonProcessor('/var/log/k8s-objects.ndjson'), { overflow: 'block' });
 * router.register('stdout', ndjsonProcessor(process.stdout, { format: (e) => ({ uid: e.uid, change: e.change }) }));
 * ```
 */
export function ndjsonProcessor(target: string | Writable, options: NdjsonOptions = {}): NdjsonProcessor {
  const format = options.format ?? ((entry: Entry) => entry);
  const owned = typeof target === 'string';
  let stream: Writable | undefined = owned ? undefined : target;
  let resolveClosed: () => void = () => undefined;
  let rejectClosed: (err: unknown) => void = () => undefined;
  const closed = new Promise<void>((resolve, reject) => {
    resolveClosed = resolve;
    rejectClosed = reject;
  });
  closed.catch(() => undefined); // observed by whoever awaits it; never an unhandled rejection
  const open = (): Writable => {
    stream ??= createWriteStream(target as string, { flags: options.flags ?? 'a' });
    return stream;
  };
  const write = (out: Writable, text: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const onError = (err: unknown): void => {
        reject(err instanceof Error ? err : new Error(String(err)));
      };
      out.once('error', onError);
      const ready = out.write(text, (err) => {
        if (err) onError(err);
      });
      const done = (): void => {
        out.off('error', onError);
        resolve();
      };
      if (ready) done();
      else out.once('drain', done);
    });
  const end = (): Promise<void> => {
    if (!owned || stream === undefined) {
      resolveClosed();
      return closed;
    }
    const out = stream;
    out.once('error', rejectClosed);
    out.end(() => {
      resolveClosed();
    });
    return closed;
  };
  return {
    next: (batch) => {
      let text = '';
      for (const entry of batch) text += `${JSON.stringify(format(entry))}\n`;
      return write(open(), text);
    },
    complete: end,
    error: end,
    closed,
  };
}
