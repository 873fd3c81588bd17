import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const src = resolve(dirname(fileURLToPath(import.meta.url)), '../../src');

/** Every module a file loads at run time (type-only imports excluded), following relative imports. */
function runtimeImports(entry: string): { files: Set<string>; packages: Set<string> } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string): void => {
    if (files.has(file)) return;
    files.add(file);
    const text = readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)) {
      const [, typeOnly, specifier] = match;
      if (typeOnly !== undefined || specifier === undefined) continue;
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  };
  visit(entry);
  return { files, packages };
}

describe('kvstore entry points', () => {
  it('tagstream/kvstore never loads etcd3; tagstream/kvstore/etcd does', () => {
    const core = runtimeImports(join(src, 'kvstore/index.ts'));
    expect([...core.packages].sort()).toEqual(['node:os', 'rxjs']);
    expect([...core.files].some((f) => f.endsWith('etcd-backend.ts'))).toBe(false);
    expect(runtimeImports(join(src, 'kvstore/etcd.ts')).packages.has('etcd3')).toBe(true);
  });
});
