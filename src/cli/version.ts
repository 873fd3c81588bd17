/**
 * The package's version, read from its package.json: the one place the command takes it from
 * (`tagstream --version`, the agent's `start` line, `tagstream status`).
 */
import { readFileSync } from 'node:fs';

/**
 * The `version` of tagstream's package.json (`unknown` when it has none).
 *
 * @example
 * ```ts
 * console.log(`tagstream ${packageVersion()}`);
 * ```
 */
export function packageVersion(): string {
  // src/cli/version.ts and dist/cli/version.js both sit two levels under the package root.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}
