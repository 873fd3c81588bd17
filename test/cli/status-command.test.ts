/**
 * `tagstream status` and `tagstream list --sources` against the real agent (a child process of
 * `src/cli/main.ts`) running its ECS collector on a real HTTP task metadata endpoint (the EC2
 * document of test/collectors/ecs): what the status screen shows, as text and JSON; each source's
 * tags; `tag`'s exit code without tags; "no agent" once it stopped. Needs nothing installed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EC2_CURL_ID, EC2_PAUSE_ID, taskDocument } from '../collectors/ecs/fixtures.js';
import { type MetadataServer, startMetadataServer } from '../collectors/ecs/metadata-server.js';
import { type CliChild, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const CURL = `container_id://${EC2_CURL_ID}`;
const PAUSE = `container_id://${EC2_PAUSE_ID}`;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('tagstream status and list --sources on a running agent', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  let metadata: MetadataServer;
  let agent: CliChild;
  let socket: string;
  let query: string[];
  let env: Record<string, string>;

  beforeAll(async () => {
    tmp = await tempDir();
    const body = JSON.stringify(taskDocument('ec2-task'));
    metadata = await startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body } : { status: 404, body: '{}' }));
    socket = join(tmp.dir, 'agent.sock');
    const tokenFile = join(tmp.dir, 'token');
    env = { HOME: tmp.dir, ECS_CONTAINER_METADATA_URI_V4: metadata.uri };
    agent = spawnCli(['agent', '--json', '--socket', socket, '--token-file', tokenFile, '--disable', 'docker'], env);
    await agent.waitForLine((l) => jsonOf(l)?.event === 'start');
    query = ['--socket', socket, '--token-file', tokenFile];
  });

  afterAll(async () => {
    killAll();
    await metadata.close();
    await tmp.remove();
  });

  it('status --json: the collectors, the entities by source and prefix, the counters, the server', async () => {
    const before = await runCli(['status', '--json', ...query], env);
    expect(before).toMatchObject({ code: 0, stderr: '' });
    const first = jsonOf(before.stdout);
    expect(first).toMatchObject({
      version: VERSION,
      collectors: [
        { name: 'docker', state: 'disabled', entities: null },
        { name: 'kubernetes', state: 'not found', entities: null },
        { name: 'ecs', state: 'ready', reason: `fetch on miss from ${metadata.uri}`, entities: 0 },
      ],
      entities: 0,
      entitiesBySource: {},
      entitiesByPrefix: {},
      kvstore: null,
      server: { address: `unix:${socket}`, tokenFile: join(tmp.dir, 'token') },
    });

    // A miss makes the agent read the task: both containers are then held, from the ECS source.
    expect((await runCli(['tag', CURL, ...query], env)).code).toBe(0);
    const after = jsonOf((await runCli(['status', '--json', ...query], env)).stdout);
    expect(after).toMatchObject({ entities: 2, entitiesBySource: { ecs: 2 }, entitiesByPrefix: { container_id: 2 } });
    expect(after?.collectors).toContainEqual(expect.objectContaining({ name: 'ecs', state: 'ready', entities: 2 }));
    const counters = after?.counters as Record<string, number>;
    expect(counters.fetches).toBeGreaterThanOrEqual(1);
    expect(counters.queriesFound).toBeGreaterThanOrEqual(1);
    expect(counters.completeness).toMatchObject({ incompleteEntities: expect.any(Number), lookupsIncomplete: 0, delayByPrefix: expect.any(Object) });
    // The server counted the requests answered before this one (the first status, the tag).
    expect((after?.server as Record<string, number>).requests).toBe(2);
    expect(Date.parse(String(after?.time))).toBeGreaterThanOrEqual(Date.parse(String(after?.startedAt)));
  });

  it('status: the status screen as text', async () => {
    const result = await runCli(['status', ...query], env);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const lines = result.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^tagstream agent ${VERSION.replaceAll('.', '\\.')} · serving on unix:${socket.replaceAll('.', '\\.')} · up \\d+s · \\d\\d:\\d\\d:\\d\\d UTC$`));
    expect(lines).toContain('COLLECTOR   STATE      ENTITIES  DETAIL');
    expect(result.stdout).toMatch(new RegExp(`^ecs +ready +2 +fetch on miss from ${metadata.uri.replaceAll('.', '\\.')}$`, 'm'));
    expect(result.stdout).toMatch(/^entities: 2 \(ecs 2\) · updates\/s: \d+\.\d$/m);
    expect(lines).toContain('by prefix: container_id 2');
    expect(result.stdout).toMatch(/^tagger: \d+ updates/m);
    expect(result.stdout).toMatch(/^completeness: .* · \d+ incomplete now · \d+ lookups answered incomplete$/m);
    expect(result.stdout).toMatch(/^server: \d+ requests, 0 unauthorized/m);
    expect(result.stdout).not.toContain('Ctrl-C');
    // Through a pipe, rows are whole (a terminal gets them cut to its width, as the agent's screen).
    const kubernetes = lines.find((l) => l.startsWith('kubernetes '));
    expect(kubernetes?.length).toBeGreaterThan(100);
    expect(kubernetes).toMatch(new RegExp(`no kubeconfig at ${tmp.dir.replaceAll('.', '\\.')}/\\.kube/config$`));
  });

  it('list --sources: each entity, its source with the priority, the tags by cardinality, what is served', async () => {
    const text = await runCli(['list', '--sources', '--prefix', CURL, ...query], env);
    expect(text).toMatchObject({ code: 0, stderr: '' });
    const lines = text.stdout.split('\n');
    expect(lines[0]).toBe(`=== Entity ${CURL} ===`);
    expect(lines[1]).toBe('== Source ecs · priority NodeOrchestrator (1) ==');
    expect(lines[2]).toMatch(/^ {2}low {11}.*ecs_container_name:curl/);
    expect(lines[3]).toMatch(/^ {2}orchestrator {2}task_arn:arn:aws:ecs:/);
    expect(lines).toContain('== Served ==');
    expect(lines.at(-1)).toBe('1 entity');

    const json = jsonOf((await runCli(['list', '--sources', '--json', ...query], env)).stdout);
    const entities = json?.entities as { entity: string; sources: string[]; bySource: Record<string, unknown>[] }[];
    expect(entities.map((e) => e.entity).sort()).toEqual([CURL, PAUSE].sort());
    for (const e of entities) {
      expect(e.sources).toEqual(['ecs']);
      expect(e.bySource).toEqual([expect.objectContaining({ source: 'ecs', priority: 1, priorityName: 'NodeOrchestrator', overridden: [] })]);
    }
    // Without --sources, list is as it was.
    const plain = jsonOf((await runCli(['list', '--json', ...query], env)).stdout);
    expect((plain?.entities as Record<string, unknown>[]).every((e) => !('bySource' in e))).toBe(true);
  });

  it('tag exits 3 when the entity has no tags (1 is a failure, 2 bad usage)', async () => {
    const unknown = `container_id://${'ab'.repeat(32)}`;
    expect(await runCli(['tag', unknown, ...query], env)).toMatchObject({ code: 3, stdout: '', stderr: `no low tags for ${unknown}\n` });
    expect(await runCli(['tag', unknown, '--json', ...query], env)).toMatchObject({ code: 3, stderr: '' });
    expect((await runCli(['tag', CURL, ...query], env)).code).toBe(0);
  });

  it('once the agent stopped: "no agent at <socket>", not a missing token', async () => {
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    for (const command of [['status'], ['list', '--sources'], ['tag', CURL]]) {
      const result = await runCli([...command, '--socket', socket], env);
      expect(result).toEqual({ code: 1, stdout: '', stderr: `tagstream: ${command[0] ?? ''}: no agent at ${socket}: start one with \`tagstream agent\`\n` });
    }
  });
});
