/**
 * `tagstream list --sources` and `tagstream status` against the real agent running two collectors
 * that tag the same container: Docker (the private engine of test/services, priority NodeRuntime)
 * and ECS (a real HTTP task metadata endpoint naming that container, priority NodeOrchestrator).
 * Where both give a tag name (here `region`, which a Docker label gives too), ECS's values win:
 * `list --sources` says which. Needs dockerd,
 * busybox-static and root; skipped with a printed reason elsewhere, failed under CI.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireDockerEngine, skipDockerSuite, startDockerEngine } from '../services/docker.js';
import type { DockerEngine } from '../services/docker.js';
import { taskDocument } from '../collectors/ecs/fixtures.js';
import { type MetadataServer, startMetadataServer } from '../collectors/ecs/metadata-server.js';
import { type CliChild, eventually, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const skip = skipDockerSuite();

interface SourceListing {
  readonly source: string;
  readonly priority: number;
  readonly priorityName: string;
  readonly low: string[];
  readonly high: string[];
  readonly overridden: { tag: string; by: string[] }[];
}

describe.skipIf(skip)('tagstream list --sources with Docker and ECS tagging one container', () => {
  let engine: DockerEngine;
  let metadata: MetadataServer | undefined;
  let tmp: { dir: string; remove: () => Promise<void> };
  let agent: CliChild | undefined;

  beforeAll(async () => {
    requireDockerEngine();
    engine = await startDockerEngine();
    tmp = await tempDir();
  }, 120_000);

  afterAll(async () => {
    killAll();
    await metadata?.close();
    await engine.destroy();
    await tmp.remove();
  }, 60_000);

  it('shows each source with its priority and the tags the higher priority wins', async () => {
    const id = await engine.run({ name: 'payments-api', labels: { 'com.example.region': 'eu-west-1', 'com.example.team': 'payments' } });
    const entity = `container_id://${id}`;
    // The task's curl container is this Docker container.
    const task = taskDocument('ec2-task');
    const curl = task.Containers.find((c) => c.Name === 'curl');
    if (curl === undefined) throw new Error('no curl container in the fixture');
    Object.assign(curl, { DockerId: id });
    const body = JSON.stringify(task);
    metadata = await startMetadataServer((path) => (path.endsWith('/task') ? { status: 200, body } : { status: 404, body: '{}' }));

    const socket = join(tmp.dir, 'agent.sock');
    const query = ['--socket', socket, '--token-file', join(tmp.dir, 'token')];
    const env = { HOME: tmp.dir, ECS_CONTAINER_METADATA_URI_V4: metadata.uri };
    const labels = ['--label-as-tag', 'com.example.region=region', '--label-as-tag', 'com.example.team=team'];
    agent = spawnCli(['agent', '--json', ...query, '--docker-host', `unix://${engine.socketPath}`, ...labels], env);
    await agent.waitForLine((l) => jsonOf(l)?.event === 'start');

    // Both sources hold the container: Docker from its list, ECS from the fetch this query causes.
    await eventually(async () => {
      const result = await runCli(['list', '--sources', '--json', '--prefix', entity, ...query], env);
      const listed = (jsonOf(result.stdout)?.entities as { sources: string[] }[] | undefined) ?? [];
      if (listed[0]?.sources.length !== 2) await runCli(['tag', entity, ...query], env);
      return listed[0]?.sources.length === 2 ? listed : undefined;
    }, 'both sources of the container');

    const json = jsonOf((await runCli(['list', '--sources', '--json', '--prefix', entity, ...query], env)).stdout);
    const [listed] = json?.entities as { entity: string; sources: string[]; tags: { high: string[] }; bySource: SourceListing[] }[];
    expect(listed?.entity).toBe(entity);
    expect(listed?.sources).toEqual(['ecs', 'docker']);
    const [ecs, docker] = listed?.bySource ?? [];
    expect(ecs).toMatchObject({ source: 'ecs', priority: 1, priorityName: 'NodeOrchestrator', overridden: [] });
    expect(ecs?.low).toEqual(expect.arrayContaining(['region:us-west-2', 'ecs_container_name:curl', 'task_family:curltest']));
    expect(docker).toMatchObject({ source: 'docker', priority: 0, priorityName: 'NodeRuntime' });
    expect(docker?.low).toEqual(expect.arrayContaining(['region:eu-west-1', 'team:payments', 'image_name:tiny']));
    expect(docker?.high).toContain('container_name:payments-api');
    // Docker's region loses to ECS's, and only it: the region served is ECS's.
    expect(docker?.overridden).toEqual([{ tag: 'region:eu-west-1', by: ['ecs'] }]);
    expect(listed?.tags.high).toContain('region:us-west-2');
    expect(listed?.tags.high).not.toContain('region:eu-west-1');
    // What Docker alone gives is served.
    expect(listed?.tags.high).toEqual(expect.arrayContaining(['team:payments', 'image_name:tiny', 'container_name:payments-api']));

    const text = await runCli(['list', '--sources', '--prefix', entity, ...query], env);
    expect(text.code).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toBe(`=== Entity ${entity} ===`);
    const ecsAt = lines.indexOf('== Source ecs · priority NodeOrchestrator (1) ==');
    const dockerAt = lines.indexOf('== Source docker · priority NodeRuntime (0) ==');
    expect(ecsAt).toBe(1);
    expect(dockerAt).toBeGreaterThan(ecsAt);
    expect(lines.slice(dockerAt)).toContain('  overridden    region:eu-west-1 (region: ecs)');

    // The status counts the container under both sources.
    const status = jsonOf((await runCli(['status', '--json', ...query], env)).stdout);
    expect(status?.entitiesBySource).toMatchObject({ docker: 1, ecs: expect.any(Number) });
    expect(status?.collectors).toContainEqual(expect.objectContaining({ name: 'docker', state: 'connected', entities: 1 }));

    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  }, 120_000);
});
