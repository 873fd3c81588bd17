import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { usage } from '../../src/cli/usage.js';
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

  it('prints usage for --help, and each command\'s options; bare tagstream prints it on stderr and exits 2', async () => {
    expect((await run(['--help'])).out).toMatch(/^usage: tagstream <command>/);
    expect(await run([])).toEqual({ code: 2, out: '', err: `${usage(undefined)}\n` });
    expect(usage(undefined)).toMatch(/^usage: tagstream <command>/);
    expect(await run(['status', '--help'])).toMatchObject({ code: 0, out: expect.stringMatching(/^usage: tagstream status/), err: '' });
    expect((await run(['list', '--help'])).out).toContain('--sources');
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

  it('refuses bad usage with exit code 2, naming the command, the flag, variable or config key, and the help hint', async () => {
    expect(await run(['tag'])).toEqual({ code: 2, out: '', err: "tagstream tag: expected an entity, e.g. container_id://3f4a\nrun 'tagstream help tag' for usage\n" });
    expect(await run(['agent', '--prune-interval', 'soon'])).toEqual({
      code: 2,
      out: '',
      err: 'tagstream agent: --prune-interval: expected a positive whole number of milliseconds, got "soon"\nrun \'tagstream help agent\' for usage\n',
    });
    expect(await run(['list', '--prefix', ''])).toEqual({ code: 2, out: '', err: "tagstream list: --prefix: must not be empty\nrun 'tagstream help list' for usage\n" });
    expect(await run(['agent', '--prune-interval', 'soon'])).toMatchObject({ code: 2, err: expect.stringContaining('--prune-interval') });
    expect(await run(['agent'], { TAGSTREAM_PRUNE_INTERVAL: '-1' })).toMatchObject({ code: 2, err: expect.stringContaining('environment variable TAGSTREAM_PRUNE_INTERVAL') });
    // One line of our own, not the argument parser's text, then the hint.
    expect(await run(['list', '--nope'])).toEqual({ code: 2, out: '', err: "tagstream list: unknown option --nope\nrun 'tagstream help list' for usage\n" });
    expect(await run(['tag', '-x', 'container_id://a'])).toMatchObject({ code: 2, err: "tagstream tag: unknown option -x\nrun 'tagstream help tag' for usage\n" });
    expect(await run(['status', '--socket'])).toMatchObject({ code: 2, err: "tagstream status: --socket needs a value\nrun 'tagstream help status' for usage\n" });
    expect(await run(['watch', '--json=yes'])).toMatchObject({ code: 2, err: "tagstream watch: --json takes no value\nrun 'tagstream help watch' for usage\n" });
    const { dir, remove } = await tempDir();
    try {
      await writeFile(join(dir, 'agent.json'), '{"pruneInterval": "soon"}');
      expect(await run(['agent', '--config', join(dir, 'agent.json')])).toMatchObject({ code: 2, err: expect.stringContaining('config file key "pruneInterval"') });
      expect(await run(['agent'], { TAGSTREAM_CONFIG: join(dir, 'missing.json') })).toMatchObject({ code: 2, err: expect.stringContaining('cannot be read (ENOENT)') });
      // A broken file: its name, the line and the column.
      await writeFile(join(dir, 'broken.json'), '{\n  "socket": "/run/t.sock",\n  "pruneInterval": 10,\n}\n');
      const broken = await run(['agent', '--config', join(dir, 'broken.json')]);
      expect(broken.code).toBe(2);
      expect(broken.err).toMatch(new RegExp(`^tagstream agent: config file ${join(dir, 'broken.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}, line 4, column 1: not JSON \\(.+\\)\nrun 'tagstream help agent' for usage\n$`));
    } finally {
      await remove();
    }
  });

  it('refuses a --kvstore that is not etcd://host:port with exit code 2, before starting anything', async () => {
    const result = await run(['agent', '--kvstore', 'http://127.0.0.1:2379']);
    expect(result.code).toBe(2);
    expect(result.err).toBe('tagstream agent: --kvstore: expected etcd://host:port[,host:port...], got "http://127.0.0.1:2379"\nrun \'tagstream help agent\' for usage\n');
    expect(await run(['agent', '--kvstore-name', 'a'])).toMatchObject({ code: 2, err: expect.stringContaining('--kvstore-name: has no effect without --kvstore') });
    const help = await run(['agent', '--help']);
    for (const flag of ['--kvstore ', '--kvstore-prefix', '--kvstore-name', '--kvstore-lease-ttl', '--kvstore-delete-grace', '--kvstore-join-timeout']) expect(help.out).toContain(flag);
  });

  it('aligns the columns of every help text: meanings start in one column, and so do the variables', () => {
    for (const topic of [undefined, 'agent', 'status', 'tag', 'list', 'watch'] as const) {
      const options = usage(topic)
        .split('\n')
        .filter((line) => /^ {2}-/.test(line));
      expect(options.length, String(topic)).toBeGreaterThan(1);
      const meaning = new Set(options.map((line) => /^ {2}\S.*?\S {2,}(?=\S)/.exec(line)?.[0].length));
      expect([...meaning], String(topic)).toHaveLength(1);
      const variables = new Set(options.flatMap((line) => {
        const at = line.search(/ (TAGSTREAM_[A-Z_]+|DOCKER_HOST|KUBECONFIG|NODE_NAME|ECS_CONTAINER_METADATA_URI_V4)( |$)/);
        return at < 0 ? [] : [at + 1];
      }));
      expect(variables.size, String(topic)).toBeLessThanOrEqual(1);
      // Within 110 columns, as a terminal shows them.
      for (const line of usage(topic).split('\n')) expect(line.length, line).toBeLessThanOrEqual(110);
    }
  });
});
