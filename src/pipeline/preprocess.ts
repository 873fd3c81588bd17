import { mergeMap, EMPTY, of } from 'rxjs';
import type { MonoTypeOperatorFunction } from 'rxjs';
import type { Entry } from './entry.js';
import { isEntry } from './entry.js';
import { PreprocessError } from './errors.js';
import type { PipelineTelemetry } from './telemetry.js';
import type { Logger } from '../util/logger.js';
import { consoleLogger } from '../util/logger.js';

/**
 * A preprocessing step: returns the entry (the same, or a modified copy — never mutate the one
 * given, other processors share it) or `null` to drop it. A step that throws, or returns anything
 * else, drops the entry with a counted, logged {@link PreprocessError}.
 *
 * @example
 * ```ts
 * const onlyPods: Preprocessor = (e) => (e.kind === 'pod' ? e : null);
 * ```
 */
export type Preprocessor = (entry: Entry) => Entry | null;

/**
 * Options of {@link preprocessWith}.
 *
 * @example
 * ```ts
 * preprocessWith({ logger: consoleLogger('info'), telemetry }, stripManagedFields);
 * ```
 */
export interface PreprocessOptions {
  /** Where failures are logged (default: the console at `warn`). */
  readonly logger?: Logger;
  /** Counts failures (`preprocess-error`) and deliberate drops (`preprocess-filtered`). */
  readonly telemetry?: PipelineTelemetry;
}

const stepName = (fn: Preprocessor, index: number): string => (fn.name === '' ? `#${index}` : fn.name);

/**
 * {@link preprocess} with a logger and telemetry.
 *
 * @example
 * ```ts
 * entries$.pipe(preprocessWith({ logger, telemetry }, stripManagedFields));
 * ```
 */
export function preprocessWith(options: PreprocessOptions, ...fns: Preprocessor[]): MonoTypeOperatorFunction<Entry> {
  const logger = options.logger ?? consoleLogger('warn');
  const { telemetry } = options;
  return mergeMap((input: Entry) => {
    let entry = input;
    for (const [index, fn] of fns.entries()) {
      let out: unknown;
      try {
        out = fn(entry);
      } catch (cause) {
        const error = new PreprocessError(stepName(fn, index), entry.uid, cause);
        telemetry?.dropped('preprocess-error');
        logger.error(error.message, { preprocessor: error.preprocessor, uid: entry.uid, kind: entry.kind, error });
        return EMPTY;
      }
      if (out === null) {
        telemetry?.dropped('preprocess-filtered');
        return EMPTY;
      }
      if (!isEntry(out)) {
        const error = new PreprocessError(stepName(fn, index), entry.uid, new TypeError('returned neither an entry nor null'));
        telemetry?.dropped('preprocess-error');
        logger.error(error.message, { preprocessor: error.preprocessor, uid: entry.uid, kind: entry.kind, error });
        return EMPTY;
      }
      entry = out;
    }
    return of(entry);
  });
}

/**
 * Runs functions that modify or drop entries, in order; one that throws drops that entry with a
 * counted, logged error, and the stream goes on. Errors go to the console (see
 * {@link preprocessWith} to pass a logger and telemetry).
 *
 * @example
 * ```ts
 * entries$.pipe(preprocess(stripManagedFields, (e) => (e.kind === 'pod' ? e : null)));
 * ```
 */
export function preprocess(...fns: Preprocessor[]): MonoTypeOperatorFunction<Entry> {
  return preprocessWith({}, ...fns);
}

/**
 * A preprocessor that removes `metadata.managedFields` (often the bulk of an object on the wire).
 *
 * @example
 * ```ts
 * entries$.pipe(preprocess(stripManagedFields));
 * ```
 */
export function stripManagedFields(entry: Entry): Entry {
  const metadata = entry.object.metadata;
  if (metadata?.managedFields === undefined) return entry;
  const { managedFields: _dropped, ...rest } = metadata;
  return { ...entry, object: { ...entry.object, metadata: rest } };
}
