/**
 * End to end, `tagstream agent --kvstore etcd://host:port`: a real etcd (test/services/etcd.ts), the
 * private Docker engine (test/services/docker.ts), and two agents as child processes on their own
 * sockets — A with Docker, B with every collector disabled. B serves A's containers through etcd;
 * they go from B when the container is removed (a stopped one keeps its tags for the Docker
 * collector's grace), when A stops (SIGTERM: A deletes its keys) and when an
 * agent dies (SIGKILL: its lease expires); while etcd is down, an agent's kvstore row says so.
 * Needs etcd, dockerd, busybox-static and root; skipped with a printed reason elsewhere, failed
 * under CI. The row for each health of the store (pure) runs everywhere.
 */
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { agentKvstoreState } from '../../src/cli/agent-kvstore.js';
import { type EtcdBackend, etcdBackend } from '../../src/kvstore/etcd.js';
import { KvUnavailableError } from '../../src/kvstore/index.js';
import { underCi } from '../services/availability.js';
import { type DockerEngine, dockerMissingReason, startDockerEngine } from '../services/docker.js';
import { type EtcdServer, etcdAvailable, startEtcd } from '../services/etcd.js';
import { type CliChild, eventually, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const missing = [etcdAvailable() ? undefined : 'etcd is not installed (Debian package etcd-server)', dockerMissingReason()].filter((r): r is string => r !== undefined).join('; ');
const skip = missing.length > 0 && !underCi();
if (skip) console.warn(`skipping the agent kvstore suite: ${missing}`);

const PREFIX = 'tagstream/tags/v1/';

describe('the kvstore row for each health of the store', () => {
  const where = 'etcd://10.0.0.1:2379 as n1, prefix tagstream/tags/v1';
  const refused = new KvUnavailableError('watch', 'tagstream/tags/v1/', { reason: 'connect ECONNREFUSED 10.0.0.1:2379' });
  it.each([
    [{ state: 'synced' } as const, { state: 'connected', reason: where }],
    [{ state: 'disconnected', lastError: refused } as const, { state: 'retrying', reason: `${where}: disconnected, reconnecting after: kvstore watch of "tagstream/tags/v1/" failed: connect ECONNREFUSED 10.0.0.1:2379` }],
    [{ state: 'resyncing' } as const, { state: 'connecting', reason: `${where}: reconnected, writing this host's keys again` }],
    [{ state: 'relisting', lastError: refused } as const, { state: 'retrying', reason: `${where}: listing again after: kvstore watch of "tagstream/tags/v1/" failed: connect ECONNREFUSED 10.0.0.1:2379` }],
    [{ state: 'joining' } as const, { state: 'connecting', reason: `${where}: joining` }],
    [{ state: 'closed' } as const, { state: 'idle', reason: `${where}: closed` }],
  ])('%o', (health, row) => {
    expect(agentKvstoreState(health, where)).toEqual(row);
  });
});

describe.skipIf(skip)('tagstream agent --kvstore against a real etcd and Docker engine', () => {
  // Undefined until beforeAll made them (it fails first when etcd or dockerd is missing, under CI).
  let etcd: EtcdServer | undefined;
  let engine: DockerEngine | undefined;
  let inspector: EtcdBackend | undefined;
  let tmp: { dir: string; remove: () => Promise<void> } | undefined;
  /** What beforeAll made, for the test. */
  let ready: { engine: DockerEngine; inspector: EtcdBackend; dir: string; etcd: EtcdServer };
  let kvstore: string;
  const env = (): Record<string, string> => ({ HOME: ready.dir });

  /** An agent on its own socket, joined to the test's etcd as `name`. */
  function startAgent(name: string, args: readonly string[], leaseTtl: number): { agent: CliChild; query: string[] } {
    const socket = join(ready.dir, `${name}.sock`);
    const tokenFile = join(ready.dir, `${name}.token`);
    const agent = spawnCli(
      [
        'agent', '--json', '--socket', socket, '--token-file', tokenFile, '--prune-interval', '200', '--status-interval', '300',
        '--kvstore', kvstore, '--kvstore-name', name, '--kvstore-lease-ttl', String(leaseTtl), '--kvstore-delete-grace', '100', '--kvstore-join-timeout', '5000',
        ...args,
      ],
      env(),
    );
    return { agent, query: ['--socket', socket, '--token-file', tokenFile] };
  }

  /** The entities an agent lists (`tagstream list --json`). */
  async function listed(query: readonly string[]): Promise<{ entity: string; sources: string[] }[]> {
    const result = await runCli(['list', '--json', ...query], env());
    expect(result.code).toBe(0);
    return jsonOf(result.stdout)?.entities as { entity: string; sources: string[] }[];
  }

  /** The keys under the agents' prefix, read from etcd itself. */
  async function keysInEtcd(): Promise<string[]> {
    const { entries } = await lastValueFrom(ready.inspector.list(PREFIX));
    return entries.map((e) => e.key.slice(PREFIX.length)).sort();
  }

  function statusOf(agent: CliChild, check: (kv: Record<string, unknown>) => boolean): Promise<string> {
    return agent.waitForLine((l) => {
      const line = jsonOf(l);
      const kv = line?.kvstore as Record<string, unknown> | undefined;
      return line?.event === 'status' && kv !== undefined && check(kv);
    });
  }

  beforeAll(async () => {
    if (missing.length > 0) throw new Error(`${missing}: CI must install them (bash test/services/install.sh etcd-server etcd-client docker.io busybox-static)`);
    tmp = await tempDir();
    etcd = await startEtcd();
    engine = await startDockerEngine();
    inspector = etcdBackend({ hosts: etcd.endpoint });
    ready = { engine, inspector, dir: tmp.dir, etcd };
    kvstore = etcd.endpoint.replace(/^http:/, 'etcd:');
  }, 120_000);

  afterAll(async () => {
    killAll();
    await Promise.allSettled([
      inspector === undefined ? undefined : lastValueFrom(inspector.close(), { defaultValue: undefined }),
      engine?.destroy(),
      etcd?.stop(),
    ]);
    await tmp?.remove();
  }, 60_000);

  it('B serves A\'s containers through etcd; they go when the container is removed, when A stops (SIGTERM) and when an agent dies (SIGKILL)', async () => {
    // A: Docker; a long lease, so that its keys going at SIGTERM proves A deleted them.
    const a = startAgent('host-a', ['--docker-host', `unix://${ready.engine.socketPath}`, '--label-as-tag', 'com.example.team=team'], 60_000);
    // B: nothing of its own.
    const b = startAgent('host-b', ['--disable', 'docker,kubernetes,ecs'], 60_000);

    const startB = jsonOf(await b.agent.waitForLine((l) => jsonOf(l)?.event === 'start'));
    expect(startB?.collectors).toContainEqual({ name: 'kvstore', state: 'connected', reason: `${kvstore} as host-b, prefix tagstream/tags/v1` });
    expect(startB).toMatchObject({ level: 'info' }); // not "nothing detected": it serves the other hosts' entities
    expect(startB).not.toHaveProperty('message');
    await a.agent.waitForLine((l) => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'docker' && line.state === 'connected';
    });

    const id = await ready.engine.run({ name: 'payments-api', labels: { 'com.example.team': 'payments' } });
    const entity = `container_id://${id}`;

    // `tagstream tag` against B: A's container, with every cardinality.
    const tags = await eventually(async () => {
      const result = await runCli(['tag', entity, '-c', 'high', '--json', ...b.query], env());
      expect(result.code).toBe(0);
      const list = jsonOf(result.stdout)?.tags as string[] | undefined;
      return list?.includes('team:payments') === true ? list : undefined;
    }, 'B to serve the container\'s tags');
    expect(tags).toEqual(expect.arrayContaining(['team:payments', 'container_name:payments-api', 'image_name:tiny', 'short_image:tiny']));
    const low = await runCli(['tag', entity, ...b.query], env());
    expect(low.stdout.split('\n')).toContain('team:payments');
    expect(low.stdout.split('\n')).not.toContain('container_name:payments-api'); // high cardinality stays high across hosts
    expect(await listed(b.query)).toEqual([expect.objectContaining({ entity, sources: ['kvstore'] })]);
    expect(await keysInEtcd()).toEqual([`host-a/${entity}`]); // A published it; B published nothing back
    // Each agent's status shows the store: B holds A's key, A publishes it.
    await statusOf(b.agent, (kv) => kv.sharedKeys === 1 && kv.localKeys === 0 && kv.name === 'host-b');
    await statusOf(a.agent, (kv) => kv.sharedKeys === 1 && kv.localKeys === 1 && kv.writeErrors === 0);
    const statusB = jsonOf(await b.agent.waitForLine((l) => (jsonOf(l)?.entitiesBySource as Record<string, number> | undefined)?.kvstore === 1));
    expect(statusB?.collectors).toContainEqual({ name: 'kvstore', state: 'connected', entities: 1 });
    // `tagstream status` asks B the same: the kvstore's row and counters, A's entity under source kvstore.
    const asked = jsonOf((await runCli(['status', '--json', ...b.query], env())).stdout);
    expect(asked).toMatchObject({ entitiesBySource: { kvstore: 1 }, entitiesByPrefix: { container_id: 1 }, kvstore: { name: 'host-b', sharedKeys: 1, localKeys: 0 } });
    expect(asked?.collectors).toContainEqual(expect.objectContaining({ name: 'kvstore', state: 'connected', entities: 1 }));
    expect((await runCli(['status', ...b.query], env())).stdout).toMatch(/^kvstore: 1 keys, 0 published as host-b · errors: 0 write/m);

    // The container is removed: gone from A, from etcd, from B.
    await ready.engine.docker.getContainer(id).remove({ force: true });
    await eventually(async () => ((await listed(b.query)).length === 0 ? true : undefined), 'the removed container to leave B', 10_000);
    expect(await keysInEtcd()).toEqual([]);

    // SIGTERM A: it exits 0, having deleted its keys (its lease has 60 s to run), and B empties.
    const second = `container_id://${await ready.engine.run({ name: 'second' })}`;
    await eventually(async () => ((await listed(b.query)).some((e) => e.entity === second) ? true : undefined), 'B to list the second container');
    a.agent.child.kill('SIGTERM');
    expect(await a.agent.exited()).toBe(0);
    expect(jsonOf(a.agent.lines.at(-1) ?? '')).toMatchObject({ event: 'stop', signal: 'SIGTERM' });
    expect(await keysInEtcd()).toEqual([]);
    await eventually(async () => ((await listed(b.query)).length === 0 ? true : undefined), 'A\'s entities to leave B after SIGTERM', 5000);

    // An agent that dies without closing (SIGKILL): its keys stay until its lease (1 s) expires, then B drops them.
    const c = startAgent('host-c', ['--docker-host', `unix://${ready.engine.socketPath}`], 1000);
    await eventually(async () => ((await listed(b.query)).some((e) => e.entity === second) ? true : undefined), 'B to list C\'s container');
    expect(await keysInEtcd()).toEqual([`host-c/${second}`]);
    c.agent.child.kill('SIGKILL');
    await c.agent.exited();
    await eventually(async () => ((await listed(b.query)).length === 0 ? true : undefined), 'C\'s entities to leave B when its lease expires', 10_000);
    expect(await keysInEtcd()).toEqual([]);

    b.agent.child.kill('SIGTERM');
    expect(await b.agent.exited()).toBe(0);
  }, 90_000);

  it('the kvstore row goes retrying while etcd is down (disconnected, with the refused connection) and back to connected after; a container started meanwhile reaches etcd', async () => {
    const rowOf = (l: string): Record<string, unknown> | undefined => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'kvstore' ? line : undefined;
    };
    /** The first line from line `from` on that `check` accepts. */
    const lineFrom = (agent: CliChild, from: number, check: (l: string) => boolean, ms?: number): Promise<string> =>
      agent.waitForLine((l) => agent.lines.indexOf(l) >= from && check(l), ms);
    const kvRowInStatus = (l: string): unknown => (jsonOf(l)?.collectors as { name: string }[] | undefined)?.find((c) => c.name === 'kvstore');
    const a = startAgent('host-e', ['--docker-host', `unix://${ready.engine.socketPath}`], 60_000);
    try {
      await a.agent.waitForLine((l) => {
        const line = jsonOf(l);
        return line?.event === 'collector' && line.collector === 'docker' && line.state === 'connected';
      });
      const downAt = a.agent.lines.length;
      await ready.etcd.halt();
      const down = rowOf(await lineFrom(a.agent, downAt, (l) => rowOf(l)?.state === 'retrying' && /ECONNREFUSED/.test(String(rowOf(l)?.reason))));
      expect(down).toMatchObject({ level: 'warn', state: 'retrying' });
      expect(String(down?.reason)).toMatch(new RegExp(`^${kvstore} as host-e, prefix tagstream/tags/v1: disconnected, reconnecting after: .*connect ECONNREFUSED 127\\.0\\.0\\.1:\\d+`));
      // The status lines say it too.
      const status = await lineFrom(a.agent, downAt, (l) => jsonOf(l)?.event === 'status' && (kvRowInStatus(l) as { state?: string } | undefined)?.state === 'retrying');
      expect(kvRowInStatus(status)).toMatchObject({ name: 'kvstore', state: 'retrying' });

      // A container that starts during the outage: its key cannot be written now.
      const id = await ready.engine.run({ name: 'during-outage' });
      const entity = `container_id://${id}`;
      await eventually(async () => ((await listed(a.query)).some((e) => e.entity === entity) ? true : undefined), 'A to list the container');

      await ready.etcd.start();
      const upAt = a.agent.lines.length;
      const up = rowOf(await lineFrom(a.agent, upAt, (l) => rowOf(l)?.state === 'connected', 30_000));
      expect(up).toMatchObject({ level: 'info', reason: `${kvstore} as host-e, prefix tagstream/tags/v1` });
      // Written soon after etcd is back (the store's periodic synchronization is 5 min away).
      await eventually(async () => ((await keysInEtcd()).includes(`host-e/${entity}`) ? true : undefined), 'the container\'s key in etcd', 15_000);
      await ready.engine.docker.getContainer(id).remove({ force: true });
      await eventually(async () => ((await keysInEtcd()).includes(`host-e/${entity}`) ? undefined : true), 'the key to go with the container', 15_000);
    } finally {
      await ready.etcd.start();
      a.agent.child.kill('SIGTERM');
      await a.agent.exited();
    }
  }, 120_000);
});
