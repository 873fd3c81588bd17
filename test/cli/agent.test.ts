/**
 * `tagstream agent` without any collector: it says so plainly and keeps serving; the terminal table;
 * clean stops on SIGINT / SIGTERM; exit codes.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/cli/agent-config.js';
import { ENTER_ALTERNATE_SCREEN, LEAVE_ALTERNATE_SCREEN, runAgent } from '../../src/cli/agent.js';
import { CliUsageError } from '../../src/cli/errors.js';
import { NOTHING_DETECTED } from '../../src/cli/status.js';
import { fakeIo } from './fake-io.js';
import { jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

let tmp: { dir: string; remove: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  killAll();
  await tmp.remove();
});

/** Every collector off: the same on any host. */
const NOTHING = ['--disable', 'docker,kubernetes,ecs'];

describe('tagstream agent (child process)', () => {
  it('with nothing detected, says so plainly, keeps serving, and exits 0 on SIGINT', async () => {
    const socket = join(tmp.dir, 'empty.sock');
    const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: tmp.dir });
    const start = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.event === 'start'));
    expect(start).toMatchObject({ level: 'warn', message: NOTHING_DETECTED, address: `unix:${socket}`, tokenFile: `${socket}.token` });
    // The token file is generated beside the socket, and the server answers.
    const listed = await runCli(['list', '--socket', socket], { HOME: tmp.dir });
    expect(listed).toMatchObject({ code: 0, stdout: '0 entities' });
    agent.child.kill('SIGINT');
    expect(await agent.exited()).toBe(0);
    expect(jsonOf(agent.lines.at(-1) ?? '')).toMatchObject({ event: 'stop', signal: 'SIGINT' });
    expect(existsSync(socket)).toBe(false);
    expect(existsSync(`${socket}.token`)).toBe(false); // generated, so removed
  });

  it('exits 1 with the reason when its socket is held by another agent', async () => {
    const socket = join(tmp.dir, 'busy.sock');
    const first = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: tmp.dir });
    await first.waitForLine((l) => jsonOf(l)?.event === 'start');
    const second = await runCli(['agent', '--json', '--socket', socket, ...NOTHING], { HOME: tmp.dir });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`tagstream: agent: cannot serve on ${socket}`);
    expect(second.stderr).toContain('is another server running?');
    first.child.kill('SIGTERM');
    expect(await first.exited()).toBe(0);
  });

  it('exits 1 with the reason when the kvstore cannot be joined, without serving', async () => {
    const socket = join(tmp.dir, 'kv.sock');
    // Port 1 on loopback: nothing listens there.
    const result = await runCli(['agent', '--json', '--socket', socket, ...NOTHING, '--kvstore', 'etcd://127.0.0.1:1', '--kvstore-join-timeout', '700'], { HOME: tmp.dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('tagstream: agent: cannot join the kvstore etcd://127.0.0.1:1 (prefix tagstream/tags/v1): could not join the shared store "tagstream/tags/v1": the backend did not list it within 700 ms');
    expect(jsonOf(result.stdout.split('\n')[0] ?? '')).toMatchObject({ event: 'log', message: 'joining the kvstore etcd://127.0.0.1:1 (prefix tagstream/tags/v1, at most 700 ms)' });
    expect(result.stdout).not.toContain('"event":"start"');
    expect(existsSync(socket)).toBe(false);
  });

  it('starts its JSON lines with the start line: what was logged before comes right after it', async () => {
    const socket = join(tmp.dir, 'first.sock');
    // An --env-as-tag pattern is warned about while the agent starts, before it serves.
    const agent = spawnCli(['agent', '--json', '--socket', socket, ...NOTHING, '--env-as-tag', '*=env_%%env%%'], { HOME: tmp.dir });
    await agent.waitForLine((l) => jsonOf(l)?.event === 'log');
    expect(jsonOf(agent.lines[0] ?? '')).toMatchObject({ event: 'start', version: expect.stringMatching(/^\d+\.\d+\.\d+/) });
    expect(jsonOf(agent.lines[1] ?? '')).toMatchObject({ event: 'log', level: 'warn', message: expect.stringContaining('--env-as-tag maps environment variables by pattern') });
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  });

  it('exits 2 on a usage error, before starting anything', async () => {
    const result = await runCli(['agent', '--prune-interval', 'soon'], { HOME: tmp.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--prune-interval: expected a positive whole number of milliseconds, got "soon"');
  });
});

describe('runAgent on a terminal', () => {
  it('draws the table (cleared and redrawn) and stops on a signal', async () => {
    const config = parseAgentConfig({ socket: join(tmp.dir, 'tty.sock'), disable: ['docker', 'kubernetes', 'ecs'] }, { HOME: tmp.dir }, undefined);
    if (config instanceof CliUsageError) throw config;
    const io = fakeIo({ HOME: tmp.dir }, { isTTY: true });
    const done = runAgent(config, io, '9.9.9');
    const deadline = Date.now() + 5000;
    while (!io.stdout().includes('COLLECTOR') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    io.signal('SIGINT');
    expect(await done).toBe(0);
    const out = io.stdout();
    // The alternate screen, entered before the first table and left before the last line: the
    // scrollback is not flooded by the redraws, and the terminal is as it was afterwards.
    expect(ENTER_ALTERNATE_SCREEN).toBe('\x1b[?1049h\x1b[?25l');
    expect(LEAVE_ALTERNATE_SCREEN).toBe('\x1b[?25h\x1b[?1049l');
    expect(out.startsWith(`${ENTER_ALTERNATE_SCREEN}\x1b[H\x1b[2J`)).toBe(true);
    expect(out.split(ENTER_ALTERNATE_SCREEN)).toHaveLength(2);
    expect(out.endsWith(`${LEAVE_ALTERNATE_SCREEN}stopped (SIGINT).\n`)).toBe(true);
    expect(out.slice(out.indexOf(LEAVE_ALTERNATE_SCREEN))).not.toContain('\x1b[2J');
    expect(out).toContain(`serving on unix:${join(tmp.dir, 'tty.sock')}`);
    expect(out).toMatch(/docker\s+disabled\s+-\s+disabled by configuration/);
    expect(out.replace(/\s+/g, ' ')).toContain(NOTHING_DETECTED);
    expect(out).not.toContain('"event"'); // no JSON lines on a terminal
  });
});
