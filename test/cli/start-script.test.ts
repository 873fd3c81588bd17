/**
 * From a clone: `npm run build` makes the bin executable (`./dist/cli/main.js` runs as the docs and
 * `npm link` use it), and `npm start` builds only when something changed, saying which it does
 * (scripts/build-if-stale.mjs, run here on a project of its own and on this one).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'build-if-stale.mjs');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; scripts: Record<string, string>; bin: Record<string, string> };

function run(file: string, args: readonly string[], cwd: string, timeout = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { cwd, timeout, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? cwd } }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1, stdout, stderr });
    });
  });
}

describe('npm start: build only when something changed', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  beforeAll(async () => {
    tmp = await tempDir();
    mkdirSync(join(tmp.dir, 'src', 'cli'), { recursive: true });
    mkdirSync(join(tmp.dir, 'scripts'));
    copyFileSync(SCRIPT, join(tmp.dir, 'scripts', 'build-if-stale.mjs'));
    writeFileSync(join(tmp.dir, 'src', 'cli', 'main.ts'), 'export {};\n');
    // A build that counts its runs, and marks its end as the real one does.
    const build = `node -e "const f=require('fs');f.mkdirSync('dist',{recursive:true});f.appendFileSync('builds','x')" && touch dist/.build-stamp`;
    writeFileSync(join(tmp.dir, 'package.json'), JSON.stringify({ name: 'fake', version: '1.0.0', scripts: { build } }));
  });
  afterAll(async () => {
    await tmp.remove();
  });

  const builds = (): number => {
    try {
      return readFileSync(join(tmp.dir, 'builds'), 'utf8').length;
    } catch {
      return 0;
    }
  };

  it('builds the first time, then not until a source changes, and says which', async () => {
    const first = await run('node', ['scripts/build-if-stale.mjs'], tmp.dir);
    expect(first).toMatchObject({ code: 0, stderr: expect.stringContaining('tagstream: building dist/ (no build yet)') });
    expect(builds()).toBe(1);

    const again = await run('node', ['scripts/build-if-stale.mjs'], tmp.dir);
    expect(again).toMatchObject({ code: 0, stderr: 'tagstream: dist/ is up to date (nothing changed since the last build)\n' });
    expect(builds()).toBe(1);

    // A source edited after the build.
    const later = new Date(Date.now() + 5000);
    utimesSync(join(tmp.dir, 'src', 'cli', 'main.ts'), later, later);
    const changed = await run('node', ['scripts/build-if-stale.mjs'], tmp.dir);
    expect(changed).toMatchObject({ code: 0, stderr: expect.stringContaining('tagstream: building dist/ (src/ changed since the last build)') });
    expect(builds()).toBe(2);
    // Python's caches and other files under src/ are not sources of the build.
    const stamp = statSync(join(tmp.dir, 'dist', '.build-stamp')).mtime;
    const after = new Date(stamp.getTime() + 60_000);
    mkdirSync(join(tmp.dir, 'src', 'cli', '__pycache__'));
    writeFileSync(join(tmp.dir, 'src', 'cli', 'notes.md'), 'x');
    utimesSync(join(tmp.dir, 'src', 'cli', 'notes.md'), after, after);
    utimesSync(join(tmp.dir, 'src', 'cli', '__pycache__'), after, after);
    // A millisecond before the stamp: a Date set back through utimes can land a few ns above the
    // stamp it was read from (float seconds), which would read as an edit after the build.
    const before = new Date(stamp.getTime() - 1);
    utimesSync(join(tmp.dir, 'src', 'cli'), before, before);
    utimesSync(join(tmp.dir, 'src', 'cli', 'main.ts'), before, before);
    expect((await run('node', ['scripts/build-if-stale.mjs'], tmp.dir)).stderr).toContain('up to date');
    expect(builds()).toBe(2);
  });

  it('package.json: start runs it before the agent; build makes the bin executable and marks its end', () => {
    expect(PKG.scripts.start).toBe('node scripts/build-if-stale.mjs && node dist/cli/main.js agent');
    expect(PKG.bin.tagstream).toBe('./dist/cli/main.js');
    expect(PKG.scripts.build).toBe('tsc -p tsconfig.build.json && chmod 755 dist/cli/main.js && touch dist/.build-stamp');
    expect(PKG.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(PKG.version).not.toBe('0.0.0');
  });
});

describe('npm run build on this clone', () => {
  it('leaves an executable bin that runs as `tagstream`, and a build that npm start does not redo', async () => {
    const build = await run('npm', ['run', '--silent', 'build'], ROOT, 240_000);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    const main = join(ROOT, 'dist', 'cli', 'main.js');
    expect(statSync(main).mode & 0o111).toBe(0o111);
    expect(readFileSync(main, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(await run(main, ['--version'], ROOT)).toEqual({ code: 0, stdout: `${PKG.version}\n`, stderr: '' });
    expect(await run(main, [], ROOT)).toMatchObject({ code: 2, stdout: '', stderr: expect.stringMatching(/^usage: tagstream <command>/) });
    expect((await run('node', [SCRIPT], ROOT)).stderr).toBe('tagstream: dist/ is up to date (nothing changed since the last build)\n');
  }, 300_000);
});
