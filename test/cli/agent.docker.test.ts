/**
 * End to end, against the private Docker engine of test/services: `tagstream agent` as a child
 * process, a real container, and the query commands (`tag`, `list`, `watch`) and Python's
 * `get_tags` as child processes too. Needs dockerd, busybox-static and root; skipped with a printed
 * reason elsewhere, failed under CI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDockerEngine, skipDockerSuite, startDockerEngine } from '../services/docker.js';
import type { DockerEngine } from '../services/docker.js';
import { type CliChild, eventually, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const PYTHON_DIR = fileURLToPath(new URL('../../src/ipc/python/', import.meta.url));

function pyGetTags(env: Record<string, string>, entity: string, cardinality: string): Promise<unknown> {
  const script = `import json, sys, tagger\nprint(json.dumps(tagger.get_tags(sys.argv[1], sys.argv[2])))`;
  return new Promise((resolve, reject) => {
    execFile('python3', ['-c', script, entity, cardinality], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: PYTHON_DIR, ...env }, timeout: 10_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`python3 failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout));
    });
  });
}

const skip = skipDockerSuite();

describe.skipIf(skip)('tagstream agent against a real Docker engine', () => {
  let engine: DockerEngine;
  let tmp: { dir: string; remove: () => Promise<void> };
  let socket: string;
  let tokenFile: string;
  let env: Record<string, string>;
  let agent: CliChild;

  beforeAll(async () => {
    requireDockerEngine();
    engine = await startDockerEngine();
    tmp = await tempDir();
    socket = join(tmp.dir, 'agent.sock');
    tokenFile = join(tmp.dir, 'token');
    // HOME without a kubeconfig and no ECS variable: only Docker is found.
    env = { HOME: tmp.dir };
  }, 120_000);

  afterAll(async () => {
    killAll();
    await engine.destroy();
    await tmp.remove();
  }, 60_000);

  it('serves a container\'s tags to `tag`, `list`, `watch` and Python, and stops cleanly on SIGTERM', async () => {
    agent = spawnCli(
      ['agent', '--json', '--socket', socket, '--token-file', tokenFile, '--docker-host', `unix://${engine.socketPath}`, '--prune-interval', '200', '--status-interval', '300', '--label-as-tag', 'com.example.team=team'],
      env,
    );
    const start = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.event === 'start'));
    expect(start).toMatchObject({ event: 'start', address: `unix:${socket}`, tokenFile });
    expect(start?.collectors).toEqual([
      { name: 'docker', state: 'connecting', reason: `socket ${engine.socketPath}` },
      expect.objectContaining({ name: 'kubernetes', state: 'not found' }),
      { name: 'ecs', state: 'not found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set' },
    ]);
    await agent.waitForLine((l) => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'docker' && line.state === 'connected';
    });
    const query = ['--socket', socket, '--token-file', tokenFile];

    const watch = spawnCli(['watch', '--json', '-c', 'high', ...query], env);
    await watch.waitForLine((l) => jsonOf(l)?.type === 'synced');

    const id = await engine.run({ name: 'payments-api', labels: { 'com.example.team': 'payments' } });
    const entity = `container_id://${id}`;

    // `tagstream tag` (JSON and readable).
    const tags = await eventually(async () => {
      const result = await runCli(['tag', entity, '-c', 'high', '--json', ...query], env);
      expect(result.code).toBe(0);
      const answer = jsonOf(result.stdout);
      const list = answer?.tags as string[] | undefined;
      return list?.includes('team:payments') === true ? list : undefined;
    }, 'the tags of the container');
    expect(tags).toEqual(expect.arrayContaining(['team:payments', 'container_name:payments-api', 'image_name:tiny', 'short_image:tiny']));
    const readable = await runCli(['tag', entity, ...query], env);
    expect(readable.code).toBe(0);
    expect(readable.stdout.split('\n')).toContain('team:payments');
    expect(readable.stdout.split('\n')).not.toContain('container_name:payments-api'); // high cardinality: not at low

    // Python's get_tags, through the same socket and token file.
    expect(await pyGetTags({ TAGSTREAM_SOCKET: socket, TAGSTREAM_TOKEN_FILE: tokenFile }, entity, 'high')).toEqual(expect.arrayContaining(['team:payments', 'container_name:payments-api']));

    // `tagstream list`.
    const listed = await runCli(['list', '--prefix', 'container_id://', ...query], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(`${entity}  (docker)`);
    expect(listed.stdout).toMatch(/low\s+.*team:payments/);

    // The stream showed it `added`, then `deleted` once the container is removed (a stopped one
    // keeps its tags for the Docker collector's grace, 5 minutes).
    const added = jsonOf(await watch.waitForLine((l) => jsonOf(l)?.type === 'added' && jsonOf(l)?.entity === entity));
    expect(added?.tags).toEqual(expect.arrayContaining(['team:payments']));
    // The agent's periodic status line counts it under its source.
    const status = jsonOf(await agent.waitForLine((l) => (jsonOf(l)?.entitiesBySource as Record<string, number> | undefined)?.docker === 1));
    expect(status).toMatchObject({ event: 'status', entities: 1, collectors: expect.arrayContaining([{ name: 'docker', state: 'connected', entities: 1 }]) });
    await engine.docker.getContainer(id).remove({ force: true });
    await watch.waitForLine((l) => jsonOf(l)?.type === 'deleted' && jsonOf(l)?.entity === entity);
    const after = await runCli(['list', '--json', ...query], env);
    expect((jsonOf(after.stdout)?.entities as unknown[]).length).toBe(0);

    // SIGTERM: exit 0, the socket removed; the watcher then says the agent went away and exits 1.
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    expect(jsonOf(agent.lines.at(-1) ?? '')).toMatchObject({ event: 'stop', signal: 'SIGTERM' });
    expect(existsSync(socket)).toBe(false);
    expect(await watch.exited()).toBe(1);
    expect(watch.stderr()).toContain('went away');
  }, 120_000);
  it('keeps a stopped container\'s tags for --stopped-grace, through a restart, and drops them after', async () => {
    const graceSocket = join(tmp.dir, 'grace.sock');
    const grace = spawnCli(
      ['agent', '--json', '--socket', graceSocket, '--docker-host', `unix://${engine.socketPath}`, '--prune-interval', '200', '--stopped-grace', '3000'],
      env,
    );
    await grace.waitForLine((l) => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'docker' && line.state === 'connected';
    });
    const query = ['--socket', graceSocket];
    const id = await engine.run({ name: 'short-lived' });
    const entity = `container_id://${id}`;
    const tagsOf = async (): Promise<string[]> => {
      const result = await runCli(['tag', entity, '-c', 'high', '--json', ...query], env);
      return (jsonOf(result.stdout)?.tags as string[] | undefined) ?? [];
    };
    await eventually(async () => ((await tagsOf()).includes('container_name:short-lived') ? true : undefined), 'the container\'s tags');

    // A restart keeps them throughout; a stop keeps them for the grace (its last log lines are read after it).
    await engine.docker.getContainer(id).restart({ t: 0 });
    // Taken before the stop: the grace counts from the daemon's FinishedAt, which is after this.
    const stoppedAt = Date.now();
    await engine.docker.getContainer(id).stop({ t: 0 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(await tagsOf()).toContain('container_name:short-lived');
    await eventually(async () => ((await tagsOf()).length === 0 ? true : undefined), 'the tags to go after the grace', 10_000);
    // Not before the grace (3 s) has run out.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(3000);

    grace.child.kill('SIGTERM');
    expect(await grace.exited()).toBe(0);
  }, 60_000);
});
