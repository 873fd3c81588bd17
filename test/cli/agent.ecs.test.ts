/**
 * End to end, `tagstream agent` for ECS: the agent as a child process (`src/cli/main.ts`) with
 * `ECS_CONTAINER_METADATA_URI_V4` pointing at a real HTTP server that answers the task metadata v4
 * documents of test/collectors/ecs (EC2 and Fargate). The ECS collector fetches on a miss: a query
 * through the agent's unix socket (the real IPC client, `tagstream tag` / `list`) makes the agent
 * read the task, and every container of the task is then served.
 */
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type TaggerClient, createTaggerClient } from '../../src/ipc/client.js';
import { ecsShownState } from '../../src/cli/collector-state.js';
import { silentLogger } from '../../src/util/logger.js';
import { EC2_CURL_ID, EC2_PAUSE_ID, EC2_STOPPED_ID, FARGATE_CURL_ID, taskDocument } from '../collectors/ecs/fixtures.js';
import { type MetadataServer, startMetadataServer } from '../collectors/ecs/metadata-server.js';
import { type CliChild, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const CURL = `container_id://${EC2_CURL_ID}`;
const PAUSE = `container_id://${EC2_PAUSE_ID}`;
const TASK_ARN = 'arn:aws:ecs:us-west-2:111122223333:task/default/158d1c8083dd49d6b527399fd6414f5c';

/** A metadata endpoint answering `document` at `/task`, 404 elsewhere. */
function serving(document: 'ec2-task' | 'fargate-task'): Promise<MetadataServer> {
  const body = JSON.stringify(taskDocument(document));
  return startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body } : { status: 404, body: '{}' }));
}

/** The first `status` line, from now on, satisfying `check`. */
async function nextStatus(agent: CliChild, check: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  const from = agent.lines.length;
  const line = await agent.waitForLine((l) => {
    const parsed = jsonOf(l);
    return parsed?.event === 'status' && agent.lines.indexOf(l, from) >= from && check(parsed);
  });
  return jsonOf(line) ?? {};
}

/** A `collector` line of the ECS row in `state`. */
function isEcsCollectorLine(line: string, state: string): boolean {
  const parsed = jsonOf(line);
  return parsed?.event === 'collector' && parsed.collector === 'ecs' && parsed.state === state;
}

describe('ecsShownState', () => {
  const where = 'fetch on miss from http://169.254.170.2/v4/x';
  it('shows ready with where, whatever the containers', () => {
    expect(ecsShownState({ status: 'ready' }, where)).toEqual({ state: 'ready', reason: where });
    expect(ecsShownState({ status: 'ready', containers: 3 }, where)).toEqual({ state: 'ready', reason: where });
  });
  it('shows failing as retrying with the error, the reason, the count and since when, on one line', () => {
    const since = Date.UTC(2026, 0, 1, 14, 2, 11);
    expect(ecsShownState({ status: 'failing', reason: 'http-status', httpStatus: 503, error: 'answered HTTP 503', since, failures: 1 }, where)).toEqual({
      state: 'retrying',
      reason: 'task metadata answered HTTP 503 (http-status); 1 failed request since 14:02:11 UTC, asking again on the next miss',
    });
    expect(ecsShownState({ status: 'failing', reason: 'unavailable', error: 'could not be read: fetch failed\nsecond line', since, failures: 4 }, where).reason).toBe(
      'task metadata could not be read: fetch failed (unavailable); 4 failed requests since 14:02:11 UTC, asking again on the next miss',
    );
  });
});

describe('tagstream agent against an ECS task metadata endpoint', () => {
  let tmp: { dir: string; remove: () => Promise<void> };
  const servers: MetadataServer[] = [];
  const clients: TaggerClient[] = [];

  beforeAll(async () => {
    tmp = await tempDir();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.stop();
    killAll();
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await tmp.remove();
  });

  /** An agent on its own socket, in an ECS task: the endpoint from the environment, as the ECS agent sets it. */
  async function startAgent(name: string, server: MetadataServer): Promise<{ agent: CliChild; tagger: TaggerClient; query: string[]; env: Record<string, string> }> {
    servers.push(server);
    const socket = join(tmp.dir, `${name}.sock`);
    const tokenFile = join(tmp.dir, `${name}.token`);
    // HOME without a kubeconfig and no NODE_NAME: Kubernetes is not found; Docker off, whatever the host has.
    const env = { HOME: tmp.dir, ECS_CONTAINER_METADATA_URI_V4: server.uri };
    const agent = spawnCli(['agent', '--json', '--socket', socket, '--token-file', tokenFile, '--disable', 'docker', '--status-interval', '300'], env);
    const start = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.event === 'start'));
    expect(start).toMatchObject({ level: 'info', address: `unix:${socket}`, tokenFile });
    expect(start?.collectors).toEqual([
      { name: 'docker', state: 'disabled', reason: 'disabled by configuration (--disable)' },
      expect.objectContaining({ name: 'kubernetes', state: 'not found' }),
      { name: 'ecs', state: 'ready', reason: `fetch on miss from ${server.uri}` },
    ]);
    const tagger = createTaggerClient({ socketPath: socket, tokenFile, logger: silentLogger });
    tagger.start();
    clients.push(tagger);
    return { agent, tagger, query: ['--socket', socket, '--token-file', tokenFile], env };
  }

  it("fetches a container's task on a miss and then serves every container of the task (EC2)", async () => {
    const server = await serving('ec2-task');
    const { agent, tagger, query, env } = await startAgent('ec2', server);
    // Fetch on miss: nothing is asked before a query.
    expect(server.requests).toEqual([]);

    expect(await tagger.tag(CURL, 'orchestrator')).toEqual(
      expect.arrayContaining([
        'ecs_cluster_name:default',
        'cluster_name:default',
        'task_family:curltest',
        'task_name:curltest',
        'task_version:26',
        'ecs_container_name:curl',
        'region:us-west-2',
        'ecs_service:myservice',
        'aws_account:111122223333',
        `task_arn:${TASK_ARN}`,
      ]),
    );
    // As the current Agent: availability zone tags on Fargate only (see docs/collectors.md).
    expect((await tagger.tag(CURL, 'high')).filter((tag) => tag.startsWith('availability'))).toEqual([]);
    expect(await tagger.tag(CURL, 'low')).not.toContain(`task_arn:${TASK_ARN}`);
    expect(server.requests).toEqual(['/v4/0c5d2b8e-2495160603/task']);

    // The task's other container came with the answer: served without another request.
    const pause = await runCli(['tag', PAUSE, '--json', ...query], env);
    expect(pause.code).toBe(0);
    expect(jsonOf(pause.stdout)).toMatchObject({ entity: PAUSE, cardinality: 'low', tags: expect.arrayContaining(['ecs_container_name:~internal~ecs~pause', 'task_family:curltest']) });
    expect(server.requests).toHaveLength(1);
    const listed = await runCli(['list', '--json', ...query], env);
    const entities = (jsonOf(listed.stdout)?.entities as { entity: string; sources: string[] }[]).map((e) => [e.entity, e.sources]);
    expect(entities.sort()).toEqual([[CURL, ['ecs']], [PAUSE, ['ecs']]].sort());
    expect(await firstValueFrom(tagger.entities$(['container_id://']))).toHaveLength(2);

    // The status counts them under ECS, which stays `ready`.
    const status = await nextStatus(agent, (s) => (s.entitiesBySource as Record<string, number> | undefined)?.ecs === 2);
    expect(status.collectors).toContainEqual({ name: 'ecs', state: 'ready', entities: 2 });

    // Not found: a container of no task here, and the task's stopped container; the kept task answers both.
    const unknown = 'container_id://0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef';
    const missing = await runCli(['tag', unknown, '-c', 'high', ...query], env);
    expect(missing).toMatchObject({ code: 3, stdout: '', stderr: `no high tags for ${unknown}\n` });
    expect(await tagger.tag(`container_id://${EC2_STOPPED_ID}`, 'high')).toEqual([]);
    // Not a container: no request at all.
    expect(await tagger.tag('kubernetes_pod_uid://0c5d2b8e', 'high')).toEqual([]);
    expect(server.requests).toHaveLength(1);
    expect((jsonOf((await runCli(['list', '--json', ...query], env)).stdout)?.entities as unknown[]).length).toBe(2);

    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    expect(jsonOf(agent.lines.at(-1) ?? '')).toMatchObject({ event: 'stop', signal: 'SIGTERM' });
  }, 60_000);

  it("serves a Fargate task's container", async () => {
    const { agent, tagger } = await startAgent('fargate', await serving('fargate-task'));
    expect(await tagger.tag(`container_id://${FARGATE_CURL_ID}`, 'orchestrator')).toEqual(
      expect.arrayContaining([
        'ecs_cluster_name:default',
        'task_family:curltest',
        'task_version:3',
        'ecs_container_name:curl',
        'availability_zone:us-west-2a',
        'task_arn:arn:aws:ecs:us-west-2:111122223333:task/default/e9028f8d5d8e4f258373e7b93ce9a3c3',
      ]),
    );
    agent.child.kill('SIGINT');
    expect(await agent.exited()).toBe(0);
  }, 60_000);

  it('answers nothing, logs the failure, shows the row retrying and keeps serving when the endpoint fails; ready again once it recovers', async () => {
    const server = await startMetadataServer(() => ({ status: 500, body: 'internal error' }));
    const { agent, tagger, query, env } = await startAgent('failing', server);
    const failed = await runCli(['tag', CURL, ...query], env);
    expect(failed).toMatchObject({ code: 3, stdout: '', stderr: `no low tags for ${CURL}\n` });
    expect(server.requests).toEqual(['/v4/0c5d2b8e-2495160603/task']);
    const warned = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.message === 'ecs: task metadata request failed'));
    expect(warned).toMatchObject({ level: 'warn', event: 'log', fields: { url: `${server.uri}/task`, reason: 'http-status' } });

    // The row turns `retrying` with the reason on one line, at warn; the body is not in it.
    const retrying = jsonOf(await agent.waitForLine((l) => isEcsCollectorLine(l, 'retrying')));
    expect(retrying).toMatchObject({ level: 'warn', event: 'collector', collector: 'ecs', state: 'retrying' });
    expect(retrying?.reason).toMatch(/^task metadata answered HTTP 500 \(http-status\); 1 failed request since \d\d:\d\d:\d\d UTC, asking again on the next miss$/);
    expect(JSON.stringify(retrying)).not.toContain('internal error');
    const failing = await nextStatus(agent, () => true);
    expect(failing.collectors).toContainEqual({ name: 'ecs', state: 'retrying', entities: 0 });
    // Still serving: the client connects and lists (nothing).
    expect(await firstValueFrom(tagger.entities$())).toEqual([]);

    // The endpoint recovers. The Tagger remembers the failed container for a while: ask for the
    // task's other one, which is fetched at once and brings both.
    const body = JSON.stringify(taskDocument('ec2-task'));
    server.answer(() => ({ status: 200, body }));
    expect(await tagger.tag(PAUSE, 'low')).toContain('ecs_container_name:~internal~ecs~pause');
    expect(server.requests).toHaveLength(2);
    const ready = jsonOf(await agent.waitForLine((l) => isEcsCollectorLine(l, 'ready')));
    expect(ready).toMatchObject({ level: 'info', event: 'collector', collector: 'ecs', state: 'ready', reason: `fetch on miss from ${server.uri}` });
    const recovered = await nextStatus(agent, (s) => (s.entitiesBySource as Record<string, number> | undefined)?.ecs === 2);
    expect(recovered.collectors).toContainEqual({ name: 'ecs', state: 'ready', entities: 2 });
    expect(await tagger.tag(CURL, 'low')).toContain('ecs_container_name:curl');

    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  }, 60_000);

  it('shows a timeout (an endpoint that does not answer) as retrying, before the Tagger gives up on the look-up', async () => {
    const server = await startMetadataServer(() => 'hang');
    const { agent, tagger } = await startAgent('hanging', server);
    expect(await tagger.tag(CURL, 'low')).toEqual([]);
    const retrying = jsonOf(await agent.waitForLine((l) => isEcsCollectorLine(l, 'retrying')));
    expect(retrying).toMatchObject({ level: 'warn', collector: 'ecs' });
    expect(retrying?.reason).toMatch(/^task metadata no answer within \d+ ms \(timeout\); 1 failed request since /);
    await expect.poll(() => server.aborted()).toBe(1);
    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  }, 60_000);
});
