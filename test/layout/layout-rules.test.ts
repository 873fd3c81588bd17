/**
 * The layout rules (.dependency-cruiser.mjs, docs/architecture.md) catch what they promise to:
 * each rule is run on a small tree that breaks it, beside a tree that keeps every rule.
 * (`npm run lint:layout` runs the same rules on src/.)
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const trees: string[] = [];

/** Writes `files` (path → source) into a fresh project that sees the repository's node_modules. */
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tagstream-layout-'));
  trees.push(dir);
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', strict: true } }));
  for (const [path, source] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), source);
  }
  return dir;
}

interface Violation {
  readonly rule: { readonly name: string };
  readonly from: string;
  readonly to: string;
}

/** The rules each import in `dir/src` breaks, as "rule: from -> to". */
async function violations(dir: string): Promise<string[]> {
  const cli = join(repo, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs');
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, [cli, 'src', '--config', join(repo, '.dependency-cruiser.mjs'), '--output-type', 'json'], { cwd: dir, maxBuffer: 64 * 1024 * 1024 }));
  } catch (error: unknown) {
    // Exit status 1+ when rules are broken; the JSON is still on stdout.
    stdout = (error as { stdout?: string }).stdout ?? '';
    if (stdout === '') throw error;
  }
  const result = JSON.parse(stdout) as { summary: { violations: Violation[] } };
  return result.summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
}

afterAll(() => {
  for (const dir of trees) rmSync(dir, { recursive: true, force: true });
});

describe('layout rules', () => {
  it('a tree that keeps the rules passes', async () => {
    const dir = tree({
      'src/index.ts': "export { tag } from './tagger/tag.js';\n",
      'src/tagger/tag.ts': "import { small } from '../util/small.js';\nexport const tag = small;\n",
      'src/util/small.ts': 'export const small = 1;\n',
      'src/collectors/docker/client.ts': "import Docker from 'dockerode';\nimport { tag } from '../../tagger/tag.js';\nexport const client = (): unknown => [new Docker(), tag];\n",
      'src/cli/agent.ts': "import { client } from '../collectors/docker/client.js';\nexport const agent = client;\n",
    });
    expect(await violations(dir)).toEqual([]);
  }, 60_000);

  it('catches a cycle, the core importing a part, util importing a part, a part importing the CLI, and an adapter used outside its part', async () => {
    const dir = tree({
      'src/index.ts': "export { a } from './tagger/a.js';\n",
      'src/tagger/a.ts': "import { b } from './b.js';\nexport const a = (): number => b();\n",
      'src/tagger/b.ts': "import { a } from './a.js';\nexport const b = (): number => a();\n",
      'src/tagger/remote.ts': "import { client } from '../ipc/client.js';\nexport const remote = client;\n",
      'src/ipc/client.ts': 'export const client = 1;\n',
      'src/util/helper.ts': "import { client } from '../ipc/client.js';\nexport const helper = client;\n",
      'src/logs/collector.ts': "import { main } from '../cli/main.js';\nexport const collector = main;\n",
      'src/cli/main.ts': 'export const main = 1;\n',
      'src/cli/agent.ts': "import Docker from 'dockerode';\nimport Redis from 'ioredis';\nexport const agent = (): unknown => [new Docker(), Redis];\n",
    });
    const found = await violations(dir);
    expect([...new Set(found.map((v) => v.split(':')[0]))].sort()).toEqual(
      ['adapter-dockerode-stays-home', 'adapter-ioredis-stays-home', 'core-is-the-core', 'no-cycle', 'parts-do-not-import-the-front', 'util-is-a-leaf'].sort(),
    );
    expect(found).toContain('core-is-the-core: src/tagger/remote.ts -> src/ipc/client.ts');
  }, 60_000);

  it('catches the root entry point reaching an adapter, however indirectly', async () => {
    const dir = tree({
      'src/index.ts': "export { tags } from './tagger/tags.js';\n",
      'src/tagger/tags.ts': "export const tags = async (): Promise<unknown> => import('../kvstore/etcd.js');\n",
      'src/kvstore/etcd.ts': "import { Etcd3 } from 'etcd3';\nexport const etcd = (): Etcd3 => new Etcd3();\n",
    });
    const found = await violations(dir);
    expect(found.some((v) => v.startsWith('root-entry-loads-no-adapter: src/index.ts'))).toBe(true);
  }, 60_000);
});
