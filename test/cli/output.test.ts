/**
 * Issue 11, item 4: output arrives whole. The query commands as child processes (their stdout a
 * real pipe) against a real server holding a few hundred KiB of tags.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { containerId } from '../../src/index.js';
import { type Fixture, put, startFixture } from '../ipc/helpers.js';
import { eventually, killAll, runCli, spawnCli } from './helpers.js';

const ENTITIES = 2000;
const BIG = containerId('big');
const BIG_TAGS = 5000;
const FORGED = containerId('forged');

let f: Fixture;
let env: Record<string, string>;
beforeAll(async () => {
  f = await startFixture();
  for (let i = 0; i < ENTITIES; i += 1) put(f, containerId(`c${String(i).padStart(5, '0')}`), [`env:prod`, `service:${'s'.repeat(60)}${i}`], [`pod_name:web-${i}`], [`container_name:c${i}`]);
  put(
    f,
    BIG,
    Array.from({ length: BIG_TAGS }, (_, i) => `label_${i}:${'v'.repeat(50)}`),
  );
  put(f, FORGED, ['a\nenv:prod', 'title:\x1b[31mred\x1b[0m', 'c1:\u009b2J', 'del:\x7f', 'ok:plain']);
  await eventually(() => Promise.resolve(f.tagger.list().length === ENTITIES + 2 ? true : undefined), 'the fixture filled');
  env = { HOME: f.dir, TAGSTREAM_SOCKET: f.socketPath, TAGSTREAM_TOKEN_FILE: f.tokenFile };
}, 30_000);
afterAll(async () => {
  killAll();
  await f.close();
});

describe('output through a pipe', () => {
  it('list --json delivers the whole answer (over 300 KiB)', async () => {
    const result = await runCli(['list', '--json'], env);
    expect(result.code).toBe(0);
    expect(result.stdout.length).toBeGreaterThan(300 * 1024);
    const answer = JSON.parse(result.stdout) as { entities: unknown[] };
    expect(answer.entities).toHaveLength(ENTITIES + 2);
  });

  it('list (text) delivers every entity and the count', async () => {
    const result = await runCli(['list'], env);
    expect(result.code).toBe(0);
    expect(result.stdout.endsWith(`${ENTITIES + 2} entities`)).toBe(true);
  });

  it('tag delivers every tag', async () => {
    const result = await runCli(['tag', BIG], env);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toHaveLength(BIG_TAGS);
  });

  it('a broken pipe ends list quietly with exit 0', async () => {
    const cli = spawnCli(['list', '--json'], env);
    cli.child.stdout?.destroy();
    expect(await cli.exited()).toBe(0);
    expect(cli.stderr()).toBe('');
  });

  it('a broken pipe ends watch quietly with exit 0', async () => {
    const cli = spawnCli(['watch'], env);
    cli.child.stdout?.destroy();
    expect(await cli.exited()).toBe(0);
    expect(cli.stderr()).toBe('');
  });
});

describe('a broken pipe under the agent', () => {
  it('stops it as SIGTERM does: socket and token removed, exit 0, no message', async () => {
    const socket = join(f.dir, 'piped-agent.sock');
    const agent = spawnCli(['agent', '--json', '--socket', socket, '--disable', 'docker,kubernetes,ecs', '--status-interval', '100'], { HOME: f.dir });
    await agent.waitForLine((l) => l.includes('"event":"start"'));
    expect(existsSync(socket)).toBe(true);
    agent.child.stdout?.destroy();
    expect(await agent.exited()).toBe(0);
    expect(agent.stderr()).toBe('');
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(`${socket}.token`)).toBe(false);
  });
});

describe('control characters in tags', () => {
  it('are escaped in text output: no forged line, no terminal escape', async () => {
    const result = await runCli(['tag', FORGED], env);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')).toEqual(['a\\nenv:prod', 'title:\\x1b[31mred\\x1b[0m', 'c1:\\u009b2J', 'del:\\x7f', 'ok:plain']);
    const listed = await runCli(['list', '--prefix', FORGED], env);
    expect(listed.stdout).toContain('a\\nenv:prod, title:\\x1b[31mred\\x1b[0m');
    expect(Array.from(listed.stdout, (c) => c.charCodeAt(0)).filter((c) => c !== 0x0a && (c < 0x20 || (c >= 0x7f && c <= 0x9f)))).toEqual([]);
  });

  it('stay exact with --json', async () => {
    const result = await runCli(['tag', FORGED, '--json'], env);
    expect(result.code).toBe(0);
    expect((JSON.parse(result.stdout) as { tags: string[] }).tags).toEqual(['a\nenv:prod', 'title:\x1b[31mred\x1b[0m', 'c1:\u009b2J', 'del:\x7f', 'ok:plain']);
  });
});
