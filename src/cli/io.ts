/**
 * What the commands need from the process: output, environment, signals, a clock. `main.ts` gives
 * the real ones; tests give their own.
 */
import { type Observable, fromEvent, map, merge, take } from 'rxjs';

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
  /**
   * SIGINT, SIGTERM and SIGHUP, by name, each time one arrives (subscribing installs the handlers);
   * `SIGPIPE` once when standard output is closed under the command (`| head`).
   */
  readonly signals$: Observable<string>;
  /** Whether standard output is a terminal (the agent then redraws a table). */
  readonly isTTY: boolean;
  /** The terminal's width, in columns. */
  readonly columns: () => number;
  /** Milliseconds since the epoch. */
  readonly now: () => number;
}

/**
 * The real process: `process.stdout`, `process.stderr`, `process.env`, SIGINT, SIGTERM and SIGHUP.
 * A closed standard output or error (EPIPE: the reader went, as `| head` does) is not an error: what
 * is left to write is dropped, and `signals$` says `SIGPIPE` so that a command that runs on (the
 * agent, watch) stops as on a signal. Call {@link flushOutput} before `process.exit`.
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2), processIo());
 * ```
 */
export function processIo(): CliIo {
  const broken = { stdout: false, stderr: false };
  // Installed at once, whatever the command: an 'error' without a listener would crash the process.
  process.stdout.on('error', () => {
    broken.stdout = true;
  });
  process.stderr.on('error', () => {
    broken.stderr = true;
  });
  const brokenPipe$ = fromEvent(process.stdout, 'error').pipe(
    take(1),
    map(() => 'SIGPIPE'),
  );
  return {
    out: (text) => {
      if (!broken.stdout) process.stdout.write(text);
    },
    err: (text) => {
      if (!broken.stderr) process.stderr.write(text);
    },
    env: process.env,
    signals$: merge(
      fromEvent(process, 'SIGINT').pipe(map(() => 'SIGINT')),
      fromEvent(process, 'SIGTERM').pipe(map(() => 'SIGTERM')),
      fromEvent(process, 'SIGHUP').pipe(map(() => 'SIGHUP')),
      brokenPipe$,
    ),
    isTTY: process.stdout.isTTY,
    columns: () => process.stdout.columns,
    now: () => Date.now(),
  };
}

/**
 * Resolves once everything written to standard output and error has been handed to the system
 * (or the stream is closed): `process.exit` before that cuts the output of a pipe short.
 *
 * @example
 * ```ts
 * const code = await main(args, processIo());
 * await flushOutput();
 * process.exit(code);
 * ```
 */
export async function flushOutput(): Promise<void> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
}

function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise<void>((resolve) => {
    // An empty write's callback runs once every write before it is done, or with the stream's error.
    stream.write('', () => {
      resolve();
    });
  });
}
