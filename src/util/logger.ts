/** Structured fields attached to a log line. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The logger every tagstream component takes. Compatible with pino, winston and console-like
 * loggers through a thin wrapper.
 */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

/** Log levels, from the most verbose. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3, silent: 4 };

/**
 * A logger that writes to the console at `level` and above (default 'warn').
 *
 * @example
 * ```ts
 * const logger = consoleLogger('info');
 * logger.info('started', { collectors: 2 });
 * ```
 */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const min = RANK[level];
  const write =
    (at: Exclude<LogLevel, 'silent'>, sink: (...args: unknown[]) => void) =>
    (message: string, fields?: LogFields): void => {
      if (RANK[at] < min) return;
      if (fields === undefined) sink(`[tagstream] ${message}`);
      else sink(`[tagstream] ${message}`, fields);
    };
  return {
    debug: write('debug', console.debug),
    info: write('info', console.info),
    warn: write('warn', console.warn),
    error: write('error', console.error),
  };
}

/** A logger that drops everything (for tests and benchmarks). */
export const silentLogger: Logger = Object.freeze({
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
});
