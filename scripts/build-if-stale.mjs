#!/usr/bin/env node
/**
 * `npm start`'s first step: builds dist/ (`npm run build`) only when a TypeScript file under src/,
 * package.json or a tsconfig changed since the last successful build (whose end `npm run build`
 * marks with dist/.build-stamp), and says on stderr which it does. Exits with the build's code.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const root = process.cwd();
const stamp = join(root, 'dist', '.build-stamp');

/** The newest modification time of a TypeScript file or a directory (a file removed) under `path`. */
function newest(path) {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let time = stats.mtimeMs;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory() ? entry.name === '__pycache__' : !entry.name.endsWith('.ts')) continue;
    time = Math.max(time, newest(join(path, entry.name)));
  }
  return time;
}

const inputs = ['src', 'package.json', 'tsconfig.json', 'tsconfig.build.json'].map((p) => join(root, p)).filter((p) => existsSync(p));
const changed = Math.max(...inputs.map(newest));
const built = existsSync(stamp) ? statSync(stamp).mtimeMs : undefined;
if (built !== undefined && built >= changed) {
  process.stderr.write('tagstream: dist/ is up to date (nothing changed since the last build)\n');
  process.exit(0);
}
process.stderr.write(built === undefined ? 'tagstream: building dist/ (no build yet)…\n' : 'tagstream: building dist/ (src/ changed since the last build)…\n');
const build = spawnSync('npm', ['run', '--silent', 'build'], { stdio: 'inherit' });
process.exit(build.status ?? 1);
