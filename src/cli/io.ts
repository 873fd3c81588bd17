/**
 * What the commands need from the process: output, environment, signals, a clock. `main.ts` gives
 * the real ones; tests give their own.
 */
import { type Observable, fromEvent, map, merge } from 'rxjs';

/**
 * The process as the commands see it.
 *
 * @example
 * ```ts
 * const io: CliIo = processIo();
 * await runCommand(command, io);
 * ```
 */
export interface CliIo {
  /** Writes to standard output, as is (the text carries its newlines). */
  readonly out: (text: string) => void;
  /** Writes to standard error, as is. */
  readonly err: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** SIGINT and SIGTERM, by name, each time one arrives (subscribing installs the handlers). */
  readonly signals$: Observable<string>;
  /** Whether standard output is a terminal (the agent then redraws a table). */
  readonly isTTY: boolean;
  /** The terminal's width, in columns. */
  readonly columns: () => number;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/**
 * The real process: `process.stdout`, `process.stderr`, `process.env`, SIGINT and SIGTERM.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2), processIo());
 * ```
 */
export function processIo(): CliIo {
  return {
    out: (text) => {
      process.stdout.write(text);
    },
    err: (text) => {
      process.stderr.write(text);
    },
    env: process.env,
    signals$: merge(
      fromEvent(process, 'SIGINT').pipe(map(() => 'SIGINT')),
      fromEvent(process, 'SIGTERM').pipe(map(() => 'SIGTERM')),
    ),
    isTTY: process.stdout.isTTY,
    columns: () => process.stdout.columns,
    now: () => Date.now(),
  };
}
