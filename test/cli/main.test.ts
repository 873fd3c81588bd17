import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { fakeIo } from './fake-io.js';
import { tempDir } from './helpers.js';

async function run(args: string[], env: Record<string, string> = {}) {
  const io = fakeIo(env);
  const code = await main(args, io);
  return { code, out: io.stdout(), err: io.stderr() };
}

describe('the tagstream command', () => {
  it('prints the package version', async () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await run(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
  });

  it('prints usage for --help, for no arguments, and each command\'s options', async () => {
    expect((await run(['--help'])).out).toMatch(/^usage: tagstream <command>/);
    expect((await run([])).code).toBe(0);
    const agent = await run(['agent', '--help']);
    expect(agent).toMatchObject({ code: 0, err: '' });
    for (const flag of ['--socket', '--token-file', '--docker-host', '--node-name', '--label-as-tag', '--prune-interval', '--json', '--config']) expect(agent.out).toContain(flag);
    expect((await run(['help', 'watch'])).out).toMatch(/^usage: tagstream watch/);
  });

  it('refuses an unknown command with exit code 2 and says why', async () => {
    const result = await run(['launch']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('unknown command "launch"');
    expect(result.err).toContain("run 'tagstream help' for usage");
  });

  it('refuses bad usage with exit code 2 and names the flag, variable or config key', async () => {
    expect(await run(['tag'])).toMatchObject({ code: 2, err: expect.stringContaining('expected an entity') });
    expect(await run(['agent', '--prune-interval', 'soon'])).toMatchObject({ code: 2, err: expect.stringContaining('--prune-interval') });
    expect(await run(['agent'], { TAGSTREAM_PRUNE_INTERVAL: '-1' })).toMatchObject({ code: 2, err: expect.stringContaining('environment variable TAGSTREAM_PRUNE_INTERVAL') });
    expect(await run(['list', '--nope'])).toMatchObject({ code: 2, err: expect.stringContaining("Unknown option '--nope'") });
    const { dir, remove } = await tempDir();
    try {
      await writeFile(join(dir, 'agent.json'), '{"pruneInterval": "soon"}');
      expect(await run(['agent', '--config', join(dir, 'agent.json')])).toMatchObject({ code: 2, err: expect.stringContaining('config file key "pruneInterval"') });
      expect(await run(['agent'], { TAGSTREAM_CONFIG: join(dir, 'missing.json') })).toMatchObject({ code: 2, err: expect.stringContaining('cannot be read (ENOENT)') });
    } finally {
      await remove();
    }
  });

  it('refuses a --kvstore that is not etcd://host:port with exit code 2, before starting anything', async () => {
    const result = await run(['agent', '--kvstore', 'http://127.0.0.1:2379']);
    expect(result.code).toBe(2);
    expect(result.err).toContain('tagstream: --kvstore: expected etcd://host:port[,host:port...], got "http://127.0.0.1:2379"');
    expect(await run(['agent', '--kvstore-name', 'a'])).toMatchObject({ code: 2, err: expect.stringContaining('--kvstore-name: has no effect without --kvstore') });
    const help = await run(['agent', '--help']);
    for (const flag of ['--kvstore ', '--kvstore-prefix', '--kvstore-name', '--kvstore-lease-ttl', '--kvstore-delete-grace', '--kvstore-join-timeout']) expect(help.out).toContain(flag);
  });
});
