/**
 * The IO beside `detect.ts`: which of the paths it asks about exist.
 */
import { access } from 'node:fs/promises';

/**
 * The subset of `paths` that exist (and can be seen by this process).
 *
 * @example
 * ```ts
 * const existing = await probePaths(pathsToProbe(config));
 * const detections = detectCollectors({ config, env: process.env, existing });
 * ```
 */
export async function probePaths(paths: readonly string[]): Promise<ReadonlySet<string>> {
  const found = await Promise.all(
    paths.map((path) =>
      access(path).then(
        () => path,
        () => undefined,
      ),
    ),
  );
  return new Set(found.filter((p): p is string => p !== undefined));
}
