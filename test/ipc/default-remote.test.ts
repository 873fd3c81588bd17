import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CreateTaggerOptions, type DefaultTaggerApi, TaggerNotInitializedError, containerId } from '../../src/index.js';
import type { TaggerClientOptions } from '../../src/ipc/index.js';
import * as remote from '../../src/ipc/remote-default-tagger.js';
import * as local from '../../src/tagger/default/local.js';
import { type Fixture, put, startFixture, tempDir } from './helpers.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const A = containerId('a');

/** The `./default` export with the remote condition, as package.json should hold it. */
const DEFAULT_EXPORT = {
  types: { 'tagstream-remote': './dist/ipc/remote-default-tagger.d.ts', default: './dist/tagger/default/local.d.ts' },
  'tagstream-remote': './dist/ipc/remote-default-tagger.js',
  default: './dist/tagger/default/local.js',
};

interface PackageJson {
  exports: Record<string, unknown>;
}

function run(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

const realPackage = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
const realDefault = realPackage.exports['./default'];
const realHasCondition = typeof realDefault === 'object' && realDefault !== null && 'tagstream-remote' in realDefault;

let f: Fixture;
let pkg: { dir: string; remove: () => Promise<void> };

/**
 * A copy of the package in a temp dir: package.json (with the remote condition in `./default` when
 * the real one lacks it), the default taggers compiled into dist/, node_modules linked, and the child
 * script — so that `import 'tagstream/default'` resolves through the package's own exports.
 */
beforeAll(async () => {
  f = await startFixture();
  put(f, A, ['env:prod'], ['pod_name:web-1'], ['container_name:web']);
  pkg = await tempDir();
  const exports = realHasCondition ? realPackage.exports : { ...realPackage.exports, './default': DEFAULT_EXPORT };
  await writeFile(join(pkg.dir, 'package.json'), JSON.stringify({ ...realPackage, exports }, null, 2));
  await symlink(join(ROOT, 'node_modules'), join(pkg.dir, 'node_modules'));
  await mkdir(join(pkg.dir, 'fixtures'));
  await copyFile(join(ROOT, 'test/ipc/fixtures/default-child.ts'), join(pkg.dir, 'fixtures/default-child.ts'));
  const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
  await run(
    process.execPath,
    [tsc, '--outDir', join(pkg.dir, 'dist'), '--rootDir', join(ROOT, 'src'), '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2023',
      '--skipLibCheck', '--types', 'node', '--strict', join(ROOT, 'src/tagger/default/local.ts'), join(ROOT, 'src/ipc/remote-default-tagger.ts')],
    ROOT,
  );
}, 120_000);

afterAll(async () => {
  await f.close();
  await pkg.remove();
});

function child(conditions: string[]): Promise<{ implementation: string; tags: string[] }> {
  const script = join(pkg.dir, 'fixtures/default-child.ts');
  return run(process.execPath, ['--import', 'tsx', ...conditions, script, f.socketPath, f.tokenFile, A], pkg.dir).then((out) => JSON.parse(out) as { implementation: string; tags: string[] });
}

describe('tagstream/default, chosen at build time', () => {
  it('is the local tagger without the condition', async () => {
    expect(await child([])).toEqual({ implementation: 'local', tags: [] });
  });

  it('is the client of the server with --conditions=tagstream-remote', async () => {
    expect(await child(['--conditions=tagstream-remote'])).toEqual({ implementation: 'remote', tags: ['env:prod', 'pod_name:web-1', 'container_name:web'] });
  });

  it.skipIf(!realHasCondition)("package.json's ./default export lists tagstream-remote before default, types first", () => {
    const keys = Object.keys(realDefault as object);
    expect(keys[0]).toBe('types');
    expect(keys.indexOf('tagstream-remote')).toBeLessThan(keys.indexOf('default'));
    expect(realDefault).toEqual(DEFAULT_EXPORT);
  });
});

describe('the remote default tagger (in process)', () => {
  it('implements the default tagger API, as the local one does', () => {
    const api: DefaultTaggerApi<TaggerClientOptions> = remote;
    const localApi: DefaultTaggerApi<CreateTaggerOptions> = local;
    expect(Object.keys(api).sort()).toEqual(Object.keys(localApi).sort());
  });

  it('says to call init before it, answers after it, and may be initialized again after shutdown', async () => {
    await expect(remote.tag(A)).rejects.toBeInstanceOf(TaggerNotInitializedError);
    expect(() => remote.defaultTagger()).toThrow(TaggerNotInitializedError);
    remote.init({ socketPath: f.socketPath, tokenFile: f.tokenFile });
    expect(() => remote.init({ socketPath: f.socketPath, tokenFile: f.tokenFile })).toThrow(/already initialized/);
    expect(await remote.tag(A, 'orchestrator')).toEqual(['env:prod', 'pod_name:web-1']);
    remote.shutdown();
    remote.shutdown();
    await expect(remote.tag(A)).rejects.toBeInstanceOf(TaggerNotInitializedError);
    remote.init({ socketPath: f.socketPath, tokenFile: f.tokenFile });
    expect(await remote.tag(A)).toEqual(['env:prod']);
    remote.shutdown();
  });
});
