/**
 * The errors of the `tagstream` command. Each carries the exit code it ends the command with.
 */

/**
 * The base class of the command's errors: a stable `tag` to branch on and the process exit code.
 *
 * @example
 * ```ts
 * try { await run(); } catch (error) { if (error instanceof CliError) process.exitCode = error.exitCode; }
 * ```
 */
export abstract class CliError extends Error {
  abstract readonly tag: string;
  /** The exit code the command ends with: 2 for usage errors, 1 otherwise. */
  abstract readonly exitCode: 1 | 2;
}

/**
 * A command line, environment variable or config file the command cannot use (exit code 2).
 * `source` says where the bad value came from.
 *
 * @example
 * ```ts
 * new CliUsageError('--prune-interval', 'flag', 'expected a positive number of milliseconds, got "soon"');
 * ```
 */
export class CliUsageError extends CliError {
  readonly tag = 'CliUsage';
  override readonly name = 'CliUsageError';
  readonly exitCode = 2 as const;
  constructor(
    /** The option (`--socket`), variable (`TAGSTREAM_SOCKET`), config key (`socket`) or command at fault. */
    readonly option: string,
    /** Where it was given (`config-file`: the config file itself, named by `option`, is at fault). */
    readonly source: 'flag' | 'env' | 'config' | 'config-file' | 'command',
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${describeSource(option, source)}: ${reason}`, options);
  }
}

/**
 * A failure while the command runs: the agent could not start, or a query could not reach the agent
 * (exit code 1). `operation` names what failed.
 *
 * @example
 * ```ts
 * throw new CliRuntimeError('watch', 'the agent went away (unix:/run/tagstream.sock)');
 * ```
 */
export class CliRuntimeError extends CliError {
  readonly tag = 'CliRuntime';
  override readonly name = 'CliRuntimeError';
  readonly exitCode = 1 as const;
  constructor(
    /** What failed: `agent`, `tag`, `list`, `watch`, `config`. */
    readonly operation: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${operation}: ${reason}`, options);
  }
}

function describeSource(option: string, source: CliUsageError['source']): string {
  switch (source) {
    case 'flag':
      return option;
    case 'env':
      return `environment variable ${option}`;
    case 'config':
      return `config file key "${option}"`;
    case 'config-file':
      return `config file ${option}`;
    case 'command':
      return option;
  }
}
