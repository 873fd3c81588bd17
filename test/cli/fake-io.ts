/** A {@link CliIo} for in-process tests: output gathered, signals sent by the test. */
import { Subject } from 'rxjs';
import type { CliIo } from '../../src/cli/io.js';

export interface FakeIo extends CliIo {
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly signal: (name: string) => void;
}

export function fakeIo(env: Readonly<Record<string, string | undefined>> = {}, options: { isTTY?: boolean; now?: () => number } = {}): FakeIo {
  let out = '';
  let err = '';
  const signals = new Subject<string>();
  return {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env,
    signals$: signals.asObservable(),
    isTTY: options.isTTY ?? false,
    columns: () => 120,
    now: options.now ?? (() => Date.now()),
    stdout: () => out,
    stderr: () => err,
    signal: (name) => {
      signals.next(name);
    },
  };
}
