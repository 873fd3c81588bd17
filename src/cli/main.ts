#!/usr/bin/env node
/**
 * The `tagstream` command: `agent` runs the collectors and serves their tags; `status`, `tag`,
 * `list` and `watch` ask a running agent. See docs/agent.md.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type CliCommand, type CommandName, COMMAND_NAMES, configFileOf, parseCommandLine } from './command-line.js';
import { CliError, CliUsageError } from './errors.js';
import { type CliIo, flushOutput, processIo } from './io.js';
import { usage } from './usage.js';
import { packageVersion } from './version.js';

/** Reads the config file the command line names; a usage error when it cannot be read. */
function readConfig(path: string | undefined): string | CliUsageError | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    const code = typeof cause === 'object' && cause !== null && 'code' in cause && typeof cause.code === 'string' ? cause.code : String(cause);
    return new CliUsageError(path, 'config-file', `cannot be read (${code})`, { cause });
  }
}

async function run(command: CliCommand, io: CliIo): Promise<number> {
  switch (command.command) {
    case 'help':
      io.out(`${usage(command.topic)}\n`);
      return 0;
    case 'version':
      io.out(`${packageVersion()}\n`);
      return 0;
    case 'agent': {
      const { runAgent } = await import('./agent.js');
      return runAgent(command.config, io, packageVersion());
    }
    case 'status':
    case 'tag':
    case 'list':
    case 'watch': {
      const { runQuery } = await import('./query.js');
      return runQuery(command, io);
    }
  }
}

/**
 * Runs `tagstream` with `args` (without the node and script paths); resolves with the exit code:
 * 0 done, 1 failed, 2 usage error (bare `tagstream` too: the usage goes to `io.err`), 3 `tag` found
 * no tags. Errors are written to `io.err`, never thrown.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['list', '--json'], processIo());
 * ```
 */
export async function main(args: readonly string[], io: CliIo): Promise<number> {
  if (args.length === 0) {
    io.err(`${usage(undefined)}\n`);
    return 2;
  }
  const configText = readConfig(configFileOf(args, io.env));
  const command = configText instanceof CliUsageError ? configText : parseCommandLine(args, io.env, configText);
  const name = commandOf(args);
  if (command instanceof CliUsageError) {
    io.err(usageMessage(command, name));
    return command.exitCode;
  }
  try {
    return await run(command, io);
  } catch (error) {
    if (error instanceof CliUsageError) {
      io.err(usageMessage(error, name));
      return error.exitCode;
    }
    if (error instanceof CliError) {
      io.err(`tagstream: ${error.message}\n`);
      return error.exitCode;
    }
    io.err(`tagstream: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}

/** The command `args` run (`help agent` is about `agent`), if they name one. */
function commandOf(args: readonly string[]): CommandName | undefined {
  const named = args[0] === 'help' ? args[1] : args[0];
  return COMMAND_NAMES.find((c) => c === named);
}

/**
 * A usage error as written: `tagstream <command>: <what>: <why>`, then the help hint. The message
 * names the command once: `tagstream tag: ...` is not prefixed again.
 */
function usageMessage(error: CliUsageError, command: CommandName | undefined): string {
  const prefix = command === undefined ? 'tagstream' : `tagstream ${command}`;
  const text = error.message.startsWith('tagstream') ? error.message : `${prefix}: ${error.message}`;
  return `${text}\nrun 'tagstream help${command === undefined ? '' : ` ${command}`}' for usage\n`;
}

// Run only when executed (through the bin link too), not when imported.
const invoked = process.argv[1];
if (invoked !== undefined && realpathSync(invoked) === fileURLToPath(import.meta.url)) {
  const io = processIo();
  void main(process.argv.slice(2), io).then(async (code) => {
    process.exitCode = code;
    // Exiting before stdout drains would cut a piped answer short (| cat got 64 KiB of 300).
    await flushOutput();
    // The agent's and watch's handles (sockets, timers) are closed; exit now rather than wait on stragglers.
    process.exit(code);
  });
}
