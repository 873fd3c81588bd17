import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';

function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(args, (l) => out.push(l), (l) => err.push(l));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the tagstream command', () => {
  it('prints the package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(run(['--version'])).toEqual({ code: 0, out: pkg.version, err: '' });
  });

  it('prints usage for --help and for no arguments', () => {
    expect(run(['--help']).out).toMatch(/^usage: tagstream/);
    expect(run([]).code).toBe(0);
  });

  it('refuses an unknown command with exit code 2 and says why', () => {
    const result = run(['agent']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('unknown command "agent"');
  });
});
