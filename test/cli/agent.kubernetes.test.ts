/**
 * End to end, `tagstream agent` for Kubernetes: the agent as a child process (`src/cli/main.ts`),
 * configured as on a node (`KUBECONFIG`, `NODE_NAME`), reads the test API server of
 * test/services/kube-api-server.ts over real HTTP with the real @kubernetes/client-node; the tags
 * are read back over the agent's unix socket with the real IPC client (`createTaggerClient`) and
 * `tagstream tag` / `list`. Pods are added, changed and deleted on the server; then the server
 * fails (500s) and goes away while the agent keeps serving what it had.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { firstValueFrom } from 'rxjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../src/cli/agent-config.js';
import { runAgent } from '../../src/cli/agent.js';
import { CliUsageError } from '../../src/cli/errors.js';
import { type TaggerClient, createTaggerClient } from '../../src/ipc/client.js';
import { containerId, podUid } from '../../src/tagger/entity-id.js';
import { silentLogger } from '../../src/util/logger.js';
import { type KubeApiServer, type ObjectInput, startKubeApiServer } from '../services/kube-api-server.js';
import { fakeIo } from './fake-io.js';
import { type CliChild, eventually, jsonOf, killAll, runCli, spawnCli, tempDir } from './helpers.js';

const NODE = 'node-a';

/** A running pod of a Deployment, scheduled on `node`, one container started as `containerIdOf`. */
function podOf(name: string, node: string, containerIdOf: string, labels: Readonly<Record<string, string>>): ObjectInput {
  return {
    metadata: {
      name,
      namespace: 'shop',
      labels: { ...labels },
      annotations: { 'example.com/owner': 'alice' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-7d9f8c6b5d', uid: 'rs-uid', controller: true }],
    },
    spec: {
      nodeName: node,
      priorityClassName: 'business-critical',
      containers: [{ name: 'api', image: 'ghcr.io/example/checkout:2.14.0' }],
    },
    status: {
      phase: 'Running',
      qosClass: 'Burstable',
      containerStatuses: [
        { name: 'api', image: 'ghcr.io/example/checkout:2.14.0', imageID: '', ready: true, restartCount: 0, containerID: `containerd://${containerIdOf}` },
      ],
    },
  };
}

/** The `collector` line of the kubernetes row satisfying `check`. */
function kubernetesLine(agent: CliChild, check: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>> {
  return agent
    .waitForLine((l) => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'kubernetes' && check(line);
    }, ms)
    .then((l) => jsonOf(l) ?? {});
}

/** The first `status` line, from now on, satisfying `check`. */
async function nextStatus(agent: CliChild, check: (line: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>> {
  const from = agent.lines.length;
  const line = await agent.waitForLine((l) => {
    const parsed = jsonOf(l);
    return parsed?.event === 'status' && agent.lines.indexOf(l, from) >= from && check(parsed);
  }, ms);
  return jsonOf(line) ?? {};
}

function kubernetesRow(status: Record<string, unknown>): Record<string, unknown> | undefined {
  return (status.collectors as Record<string, unknown>[] | undefined)?.find((c) => c.name === 'kubernetes');
}

describe('tagstream agent against a Kubernetes API server', () => {
  let server: KubeApiServer;
  let tmp: { dir: string; remove: () => Promise<void> };
  let kubeconfig: string;
  const clients: TaggerClient[] = [];
  /** Servers of a single test, closed after it. */
  const closing: KubeApiServer[] = [];

  beforeAll(async () => {
    server = await startKubeApiServer();
    tmp = await tempDir();
    kubeconfig = server.writeKubeconfig(tmp.dir);
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.stop();
    killAll();
    await Promise.all(closing.splice(0).map((s) => s.close()));
  });

  afterAll(async () => {
    await server.close();
    await tmp.remove();
  });

  /** An agent on its own socket, as on a node: the kubeconfig and node name from the environment. */
  function startAgent(
    name: string,
    args: readonly string[],
    config = kubeconfig,
  ): { agent: CliChild; socket: string; tokenFile: string; query: string[]; env: Record<string, string> } {
    const socket = join(tmp.dir, `${name}.sock`);
    const tokenFile = join(tmp.dir, `${name}.token`);
    // HOME without a kubeconfig of its own; Docker and ECS off, so that only Kubernetes runs on any host.
    const env = { HOME: tmp.dir, KUBECONFIG: config, NODE_NAME: NODE };
    const agent = spawnCli(['agent', '--json', '--socket', socket, '--token-file', tokenFile, '--disable', 'docker,ecs', '--status-interval', '300', ...args], env);
    return { agent, socket, tokenFile, query: ['--socket', socket, '--token-file', tokenFile], env };
  }

  function client(socket: string, tokenFile: string): TaggerClient {
    const c = createTaggerClient({ socketPath: socket, tokenFile, logger: silentLogger, initialRetryDelay: 100 });
    c.start();
    clients.push(c);
    return c;
  }

  it('serves the pods of its node, follows a change, drops a deleted pod after the prune interval, and shows the collector', async () => {
    const web = server.create('pod', podOf('checkout-7d9f8c6b5d-x2kqp', NODE, 'c1', { app: 'checkout', team: 'payments', 'tags.datadoghq.com/env': 'prod' }));
    const elsewhere = server.create('pod', podOf('checkout-7d9f8c6b5d-other', 'node-b', 'c9', { app: 'checkout' }));
    const { agent, socket, tokenFile, query, env } = startAgent('tags', [
      '--kubernetes-period', '200', '--prune-interval', '200', '--label-as-tag', 'team=team', '--annotation-as-tag', 'example.com/owner=owner',
    ]);

    // The start line names the kubeconfig and the node; the collector then connects, with the node's one pod.
    const start = jsonOf(await agent.waitForLine((l) => jsonOf(l)?.event === 'start'));
    expect(start).toMatchObject({ level: 'info', address: `unix:${socket}`, tokenFile });
    expect(start?.collectors).toEqual([
      { name: 'docker', state: 'disabled', reason: 'disabled by configuration (--disable)' },
      { name: 'kubernetes', state: 'connecting', reason: `kubeconfig ${kubeconfig}, node ${NODE}` },
      { name: 'ecs', state: 'disabled', reason: 'disabled by configuration (--disable)' },
    ]);
    expect(await kubernetesLine(agent, (l) => l.state === 'connected')).toMatchObject({ level: 'info', reason: `kubeconfig ${kubeconfig}, node ${NODE}, 1 pods` });
    // It lists its node only.
    expect(server.requests.filter((r) => r.kind === 'pod').every((r) => r.query['fieldSelector'] === `spec.nodeName=${NODE}`)).toBe(true);

    const tagger = client(socket, tokenFile);
    const pod = podUid(web.metadata.uid);
    const container = containerId('c1');
    const podTags = await eventually(async () => {
      const tags = await tagger.tag(pod, 'orchestrator');
      return tags.includes('pod_name:checkout-7d9f8c6b5d-x2kqp') ? tags : undefined;
    }, 'the pod\'s tags through the agent');
    expect(podTags).toEqual(
      expect.arrayContaining([
        'kube_namespace:shop',
        'pod_name:checkout-7d9f8c6b5d-x2kqp',
        'pod_phase:running',
        'kube_ownerref_kind:replicaset',
        'kube_replica_set:checkout-7d9f8c6b5d',
        'kube_deployment:checkout',
        'kube_qos:Burstable',
        'kube_priority_class:business-critical',
        'env:prod',
        'team:payments', // --label-as-tag
        'owner:alice', // --annotation-as-tag
      ]),
    );
    // Orchestrator tags stay out of low.
    expect(await tagger.tag(pod, 'low')).not.toContain('pod_name:checkout-7d9f8c6b5d-x2kqp');
    expect(await tagger.tag(container, 'high')).toEqual(
      expect.arrayContaining(['kube_namespace:shop', 'kube_container_name:api', 'image_name:ghcr.io/example/checkout', 'short_image:checkout', 'image_tag:2.14.0', 'container_id:c1', 'team:payments']),
    );
    // The other node's pod is not this agent's.
    expect(await tagger.tag(podUid(elsewhere.metadata.uid), 'high')).toEqual([]);

    // `tagstream list` shows the pod and its container, from source kubernetes.
    const listed = await runCli(['list', '--json', ...query], env);
    expect(listed.code).toBe(0);
    const entities = (jsonOf(listed.stdout)?.entities as { entity: string; sources: string[] }[]).map((e) => [e.entity, e.sources]);
    expect(entities.sort()).toEqual([[container, ['kubernetes']], [pod, ['kubernetes']]].sort());
    // The status line counts them under the collector.
    const counted = await nextStatus(agent, (s) => (s.entitiesBySource as Record<string, number> | undefined)?.kubernetes === 2);
    expect(counted).toMatchObject({ entities: 2 });
    expect(kubernetesRow(counted)).toEqual({ name: 'kubernetes', state: 'connected', entities: 2 });

    // A changed pod (a new label value, a restarted container) changes its tags.
    server.update('pod', podOf('checkout-7d9f8c6b5d-x2kqp', NODE, 'c2', { app: 'checkout', team: 'checkout', 'tags.datadoghq.com/env': 'prod' }));
    const changed = await eventually(async () => {
      const tags = await tagger.tag(pod, 'low');
      return tags.includes('team:checkout') ? tags : undefined;
    }, 'the changed label to reach the client');
    expect(changed).not.toContain('team:payments');
    await eventually(async () => ((await tagger.tag(containerId('c2'), 'high')).includes('container_id:c2') ? true : undefined), 'the restarted container');
    await eventually(async () => ((await tagger.tag(container, 'high')).length === 0 ? true : undefined), 'the old container to go');

    // A deleted pod: the next list sees it gone, and the pod and its container leave the agent at the
    // end of the prune window (200 ms).
    server.remove('pod', web.metadata.uid);
    await eventually(async () => ((await firstValueFrom(tagger.entities$())).length === 0 ? true : undefined), 'the deleted pod to leave the agent', 10_000);
    expect(await tagger.tag(pod, 'high')).toEqual([]);
    const empty = await nextStatus(agent, (s) => s.entities === 0);
    expect(kubernetesRow(empty)).toEqual({ name: 'kubernetes', state: 'connected', entities: 0 });
    expect(await kubernetesLine(agent, (l) => l.reason === `kubeconfig ${kubeconfig}, node ${NODE}, 0 pods`)).toMatchObject({ state: 'connected' });

    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
    expect(jsonOf(agent.lines.at(-1) ?? '')).toMatchObject({ event: 'stop', signal: 'SIGTERM' });
  }, 60_000);

  it('fetches a pod it has not listed yet on a miss (a long period)', async () => {
    const { agent, socket, tokenFile, query, env } = startAgent('fetch', ['--kubernetes-period', '600000']);
    await kubernetesLine(agent, (l) => l.state === 'connected');
    const late = server.create('pod', podOf('late-0', NODE, 'late-c', { app: 'late' }));
    // `tagstream tag` asks the agent, whose tagger lists the node now for the unknown pod.
    const tagged = await runCli(['tag', podUid(late.metadata.uid), '-c', 'orchestrator', '--json', ...query], env);
    expect(tagged.code).toBe(0);
    expect(jsonOf(tagged.stdout)?.tags).toEqual(expect.arrayContaining(['kube_namespace:shop', 'pod_name:late-0']));
    expect(await client(socket, tokenFile).tag(containerId('late-c'), 'high')).toEqual(expect.arrayContaining(['kube_container_name:api', 'container_id:late-c']));
    server.remove('pod', late.metadata.uid);
    agent.child.kill('SIGINT');
    expect(await agent.exited()).toBe(0);
  }, 60_000);

  it('when the API server answers 500s and then goes away, shows it and keeps serving what it had', async () => {
    // A server of its own, since this one goes away.
    const own = await startKubeApiServer();
    closing.push(own);
    const dir = join(tmp.dir, 'failing');
    await mkdir(dir);
    const config = own.writeKubeconfig(dir);
    const web = own.create('pod', podOf('web-0', NODE, 'w1', { app: 'web', team: 'web' }));
    const { agent, socket, tokenFile, query, env } = startAgent('failing', ['--kubernetes-period', '200', '--prune-interval', '200'], config);
    await kubernetesLine(agent, (l) => l.state === 'connected' && l.reason === `kubeconfig ${config}, node ${NODE}, 1 pods`);
    const pod = podUid(web.metadata.uid);
    const tagger = client(socket, tokenFile);
    await eventually(async () => ((await tagger.tag(pod, 'orchestrator')).includes('pod_name:web-0') ? true : undefined), 'the pod\'s tags');

    // Two lists answer 500: the row turns `retrying` with the status (a warn line), nothing is deleted.
    own.failNext(2, 500, 'list');
    const failed = await kubernetesLine(agent, (l) => l.state === 'retrying');
    expect(failed).toMatchObject({ level: 'warn' });
    expect(failed.reason).toBe('kubernetes: listing pods failed at page 1: HTTP 500; retry 1 in 1 s');
    const tagged = await runCli(['tag', pod, '-c', 'orchestrator', '--json', ...query], env);
    expect(jsonOf(tagged.stdout)?.tags).toEqual(expect.arrayContaining(['pod_name:web-0', 'kube_namespace:shop']));
    const during = await nextStatus(agent, (s) => kubernetesRow(s)?.state === 'retrying');
    expect(kubernetesRow(during)).toEqual({ name: 'kubernetes', state: 'retrying', entities: 2 });
    // The backoff (1 s, then 2 s) ends with a complete list: connected again.
    await kubernetesLine(agent, (l) => l.state === 'retrying' && typeof l.reason === 'string' && l.reason.endsWith('retry 2 in 2 s'));
    const recovered = agent.lines.length;
    await agent.waitForLine((l) => {
      const line = jsonOf(l);
      return line?.event === 'collector' && line.collector === 'kubernetes' && line.state === 'connected' && agent.lines.indexOf(l, recovered) >= recovered;
    }, 10_000);

    // The server goes away: `retrying` with the connection's error; the agent still serves the pod.
    await own.close();
    closing.splice(closing.indexOf(own), 1);
    const gone = await kubernetesLine(agent, (l) => l.state === 'retrying' && typeof l.reason === 'string' && !l.reason.includes('HTTP 500'));
    expect(gone.reason).toMatch(/^kubernetes: listing pods failed at page 1: .*ECONNREFUSED.*; retry 1 in 1 s$/);
    const afterGone = await nextStatus(agent, (s) => kubernetesRow(s)?.state === 'retrying');
    expect(afterGone).toMatchObject({ entities: 2, entitiesBySource: { kubernetes: 2 } });
    expect(await tagger.tag(pod, 'orchestrator')).toEqual(expect.arrayContaining(['pod_name:web-0', 'kube_namespace:shop']));
    const fresh = await runCli(['tag', containerId('w1'), '-c', 'high', '--json', ...query], env);
    expect(fresh.code).toBe(0);
    expect(jsonOf(fresh.stdout)?.tags).toEqual(expect.arrayContaining(['kube_container_name:api', 'container_id:w1', 'pod_name:web-0']));

    agent.child.kill('SIGTERM');
    expect(await agent.exited()).toBe(0);
  }, 60_000);

  it('on a terminal, shows a failing API server\'s error on one row of the table', async () => {
    const own = await startKubeApiServer();
    closing.push(own);
    const dir = join(tmp.dir, 'terminal');
    await mkdir(dir);
    const config = own.writeKubeconfig(dir);
    // Three failed lists: `retrying` for 1 + 2 + 4 s, long enough for a redraw (every second) to show it.
    own.failNext(3, 503, 'list');
    const parsed = parseAgentConfig(
      { socket: join(dir, 'agent.sock'), kubeconfig: config, 'node-name': NODE, disable: ['docker', 'ecs'], 'kubernetes-period': '200' },
      { HOME: tmp.dir },
      undefined,
    );
    if (parsed instanceof CliUsageError) throw parsed;
    const io = fakeIo({ HOME: tmp.dir }, { isTTY: true });
    const done = runAgent(parsed, io, '9.9.9');
    const frame = await eventually(async () => {
      await Promise.resolve();
      const last = io.stdout().split('\x1b[H\x1b[2J').at(-1) ?? '';
      return last.includes('retrying') && last.endsWith('Ctrl-C to stop.\n') ? last : undefined;
    }, 'a frame with the retrying row', 10_000);
    io.signal('SIGINT');
    expect(await done).toBe(0);
    const row = frame.split('\n').find((line) => line.startsWith('kubernetes'));
    expect(row).toMatch(/^kubernetes\s+retrying\s+0\s+kubernetes: listing pods failed at page 1: HTTP 503; retry \d in \d s$/);
    // Nothing of the client's exception (its headers, its body) spills into the table.
    expect(frame).not.toContain('Headers');
    expect(frame).not.toContain('HTTP-Code');
  }, 30_000);
});
