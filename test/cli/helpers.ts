/**
 * The `tagstream` command as child processes: `node --import tsx src/cli/main.ts ...`, with their
 * output gathered line by line, and always killed at the end.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src', 'cli', 'main.ts');

/** A running `tagstream` child. */
export interface CliChild {
  readonly child: ChildProcess;
  /** Every complete stdout line so far. */
  readonly lines: string[];
  /** Everything on stderr so far. */
  stderr(): string;
  /** Waits (at most `ms`) for a stdout line satisfying `predicate`; returns it. */
  waitForLine(predicate: (line: string) => boolean, ms?: number): Promise<string>;
  /** Resolves with the exit code (or the signal's name) once the child exits (at most `ms`). */
  exited(ms?: number): Promise<number | string>;
  /** Sends SIGKILL if still running. */
  kill(): void;
}

const children = new Set<CliChild>();

/** Kills every child still running (for `afterAll`). */
export function killAll(): void {
  for (const c of children) c.kill();
  children.clear();
}

/** Starts `tagstream args...` with exactly `env` (plus PATH). */
export function spawnCli(args: readonly string[], env: Readonly<Record<string, string>>): CliChild {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    for (const wake of waiters) wake();
  });
  child.stderr.on('data', (chunk: string) => {
    err += chunk;
  });
  const exit = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const wake of waiters) wake();
      resolve(code ?? signal ?? 'unknown');
    });
  });
  const cli: CliChild = {
    child,
    lines,
    stderr: () => err,
    waitForLine(predicate, ms = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = lines.find(predicate);
          if (found !== undefined) {
            done();
            resolve(found);
          } else if (child.exitCode !== null || child.signalCode !== null) {
            done();
            reject(new Error(`the command exited (${String(child.exitCode ?? child.signalCode)}) before the line came\nstdout:\n${lines.join('\n')}\nstderr:\n${err}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no such line within ${ms} ms\nstdout:\n${lines.join('\n')}\nstderr:\n${err}`));
        }, ms);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    exited(ms = 20_000) {
      return Promise.race([
        exit,
        new Promise<never>((_resolve, reject) =>
          setTimeout(() => {
            reject(new Error(`the command did not exit within ${ms} ms\nstderr:\n${err}`));
          }, ms).unref(),
        ),
      ]);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
  children.add(cli);
  return cli;
}

/** Runs `tagstream args...` to the end; its exit code, stdout and stderr. */
export async function runCli(args: readonly string[], env: Readonly<Record<string, string>>, ms = 20_000): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const cli = spawnCli(args, env);
  const code = await cli.exited(ms);
  children.delete(cli);
  return { code, stdout: cli.lines.join('\n'), stderr: cli.stderr() };
}

/** A fresh temporary directory, and a function that removes it. */
export async function tempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'tagstream-cli-'));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The JSON object on a line, or undefined when it is not one. */
export function jsonOf(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Retries `attempt` every 200 ms until it returns a value (at most `ms`). */
export async function eventually<T>(attempt: () => Promise<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not happen within ${ms} ms${last instanceof Error ? `: ${last.message}` : ''}`);
}
