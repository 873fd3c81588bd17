#!/usr/bin/env node
/**
 * The `tagstream` command. This release knows `--version` and `--help`; the agent and the query
 * commands (`agent`, `tag`, `list`, `watch`) come with the IPC server.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const USAGE = `usage: tagstream [--version | --help]

The tagstream command. In this release it only reports its version; the agent
(tagstream agent) and the query commands (tag, list, watch) arrive with the IPC
server. See https://www.npmjs.com/package/tagstream.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** Runs the command with `args`; returns the exit code. */
export function main(args: readonly string[], out: (line: string) => void, err: (line: string) => void): number {
  const [first] = args;
  if (first === '--version' || first === '-v') {
    out(version());
    return 0;
  }
  if (first === undefined || first === '--help' || first === '-h') {
    out(USAGE);
    return 0;
  }
  err(`tagstream: unknown command ${JSON.stringify(first)}\n${USAGE}`);
  return 2;
}

// Run only when executed (through the bin link too), not when imported.
const invoked = process.argv[1];
if (invoked !== undefined && realpathSync(invoked) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2), console.log, console.error);
}
