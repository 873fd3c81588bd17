/**
 * Entity ids from outside, end to end against the private Docker engine of test/services:
 * `tagstream agent` as a child process, arbitrary ids sent over its socket (raw HTTP), through the
 * `tag` command and through Python's `get_tags`. The agent must live, a loopback listener (a host
 * the agent must never be sent to) must see nothing, and a short container id as `docker ps` prints
 * it must answer the container's tags. Needs dockerd, busybox-static and root; skipped with a
 * printed reason elsewhere, failed under CI.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { type Server, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get } from '../ipc/helpers.js';
import { requireDockerEngine, skipDockerSuite, startDockerEngine } from '../services/docker.js';
import type { DockerEngine } from '../services/docker.js';
import { type CliChild, eventually, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const PYTHON_DIR = fileURLToPath(new URL('../../src/ipc/python/', import.meta.url));

/** Python's get_tags for each entity (one interpreter), as JSON. */
function pyGetTags(env: Record<string, string>, entities: readonly string[]): Promise<unknown[]> {
  const script = 'import json, sys, tagger\nprint(json.dumps([tagger.get_tags(e, "high") for e in json.loads(sys.stdin.read())]))';
  return new Promise((resolve, reject) => {
    const child = execFile('python3', ['-c', script], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PYTHONPATH: PYTHON_DIR, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      if (error !== null) reject(new Error(`python3 failed: ${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as unknown[]);
    });
    // Lone surrogates cannot cross a pipe as UTF-8; JSON escapes them.
    child.stdin?.end(JSON.stringify(entities).replace(/[\ud800-\udfff]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`));
  });
}

/** The path of `GET /v1/tags/{entity}`, percent-encoding the entity's UTF-8 bytes (any string). */
function tagsTarget(entity: string): string {
  const encoded = [...Buffer.from(entity, 'utf8')].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join('');
  return `/v1/tags/${encoded}?cardinality=high`;
}

/** The tags of a `GET /v1/tags/...` answer. */
function tagsOf(answer: { readonly body: string }): unknown {
  return (JSON.parse(answer.body) as { tags?: unknown }).tags;
}

const skip = skipDockerSuite();

describe.skipIf(skip)('entity ids from outside, against `tagstream agent` on a real Docker engine', () => {
  let engine: DockerEngine;
  let tmp: { dir: string; remove: () => Promise<void> };
  let socket: string;
  let tokenFile: string;
  let token: string;
  let env: Record<string, string>;
  let agent: CliChild;
  let listener: Server;
  let port: number;
  let id: string;
  const reached: string[] = [];

  beforeAll(async () => {
    requireDockerEngine();
    engine = await startDockerEngine();
    tmp = await tempDir();
    socket = join(tmp.dir, 'agent.sock');
    tokenFile = join(tmp.dir, 'token');
    env = { HOME: tmp.dir };
    listener = createServer((connection) => {
      reached.push('connection');
      connection.on('data', (data) => reached.push(data.toString('latin1').split('\r\n')[0] ?? ''));
      connection.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as { port: number }).port;
    id = await engine.run({ name: 'target', labels: { 'com.example.team': 'core' } });
    agent = spawnCli(
      ['agent', '--json', '--socket', socket, '--token-file', tokenFile, '--docker-host', `unix://${engine.socketPath}`, '--label-as-tag', 'com.example.team=team'],
      env,
    );
    await agent.waitForLine((l) => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'docker' && line.state === 'connected';
    });
    token = (await readFile(tokenFile, 'utf8')).trim();
    await eventually(async () => {
      const answer = await get(socket, tagsTarget(`container_id://${id}`), token);
      return answer.body.includes('team:core') ? true : undefined;
    }, 'the container\'s tags');
  }, 120_000);

  afterAll(async () => {
    killAll();
    listener.close();
    await engine.destroy();
    await tmp.remove();
  }, 60_000);

  const hostile = (): string[] => [
    '../x',
    '..',
    './x',
    'a?b=c',
    'x/logs?follow=1&stdout=1&y=',
    `../../127.0.0.1:${port}/x`,
    `..//127.0.0.1:${port}/x`,
    `../../../127.0.0.1:${port}/containers/json`,
  ];

  it('over IPC: every id answers 200 or 400, the agent lives, nothing reaches another host', async () => {
    const ids = [
      ...hostile().map((part) => `container_id://${part}`),
      ...hostile().map((part) => `container_id://${id}/${part}`),
      ...fc.sample(
        fc.oneof(
          fc.string({ maxLength: 60 }).map((s) => `container_id://${s}`),
          fc.string({ unit: 'binary', maxLength: 60 }).map((s) => `container_id://${s}`),
          fc.string({ unit: 'binary', maxLength: 60 }),
          fc.array(fc.constantFrom('..', '.', 'x', `127.0.0.1:${port}`, 'logs?follow=1&stdout=1', ''), { maxLength: 6 }).map((parts) => `container_id://${parts.join('/')}`),
        ),
        { numRuns: 400, seed: 11 },
      ),
    ];
    for (const entity of ids) {
      const answer = await get(socket, tagsTarget(entity), token);
      expect([200, 400]).toContain(answer.status);
      if (answer.status === 200) expect(JSON.parse(answer.body)).toMatchObject({ tags: [] });
      else expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'InvalidEntityId' } });
    }
    // Raw percent-encoding too: not UTF-8, a NUL, a newline.
    for (const target of ['/v1/tags/container_id%3A%2F%2F%ff', '/v1/tags/container_id%3A%2F%2Fa%00b', '/v1/tags/container_id%3A%2F%2Fa%0Ab']) {
      expect((await get(socket, target, token)).status).toBe(400);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reached).toEqual([]);
    expect(agent.child.exitCode).toBeNull();
    expect(tagsOf(await get(socket, tagsTarget(`container_id://${id}`), token))).toContain('team:core');
  }, 120_000);

  it('through `tagstream tag` and Python: refused or not found, never a crash, never a request elsewhere', async () => {
    const query = ['--socket', socket, '--token-file', tokenFile];
    for (const part of [...hostile(), `${id}/../x`]) {
      const result = await runCli(['tag', `container_id://${part}`, '-c', 'high', ...query], env);
      expect(result.code).toBe(3); // no tags (NO_TAGS_EXIT_CODE)
      expect(result.stdout).toBe('');
      expect(result.stderr).toContain('no high tags');
    }
    for (const entity of ['container_id://a\u0001b', `container_id://${'x'.repeat(4096)}`]) {
      const result = await runCli(['tag', entity, ...query], env);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/not an entity id/);
    }
    const pyEnv = { TAGSTREAM_SOCKET: socket, TAGSTREAM_TOKEN_FILE: tokenFile };
    const pyIds = [...hostile().map((part) => `container_id://${part}`), 'container_id://a\u0000b', 'container_id://\ud800', 'no-prefix', `container_id://${'y'.repeat(5000)}`];
    expect(await pyGetTags(pyEnv, pyIds)).toEqual(pyIds.map(() => []));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(reached).toEqual([]);
    expect(agent.child.exitCode).toBeNull();
  }, 120_000);

  it('a short id as `docker ps` prints it answers the container\'s tags through the CLI, IPC and Python', async () => {
    const short = `container_id://${id.slice(0, 12)}`;
    const full = JSON.parse((await get(socket, tagsTarget(`container_id://${id}`), token)).body) as { tags: string[] };
    expect(full.tags).toContain('team:core');

    const ipc = await get(socket, tagsTarget(short), token);
    expect(ipc.status).toBe(200);
    expect(JSON.parse(ipc.body)).toEqual({ entity: short, cardinality: 'high', tags: full.tags });

    const cli = await runCli(['tag', short, '-c', 'high', '--json', '--socket', socket, '--token-file', tokenFile], env);
    expect(cli.code).toBe(0);
    expect(jsonOf(cli.stdout)?.tags).toEqual(full.tags);

    const [python] = await pyGetTags({ TAGSTREAM_SOCKET: socket, TAGSTREAM_TOKEN_FILE: tokenFile }, [short]);
    expect(python).toEqual(full.tags);

    // Eleven digits is not a short id: nothing, as before.
    expect(tagsOf(await get(socket, tagsTarget(`container_id://${id.slice(0, 11)}`), token))).toEqual([]);
  }, 60_000);
});
