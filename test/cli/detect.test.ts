import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type AgentConfig, parseAgentConfig } from '../../src/cli/agent-config.js';
import { type Detection, IN_CLUSTER_TOKEN, detectCollectors, dockerTarget, pathsToProbe } from '../../src/cli/detect.js';
import { CliUsageError } from '../../src/cli/errors.js';
import { probePaths } from '../../src/cli/probe-paths.js';
import { tempDir } from './helpers.js';

function configOf(env: Record<string, string>, flags: Record<string, string | string[]> = {}): AgentConfig {
  const config = parseAgentConfig(flags, env, undefined);
  if (config instanceof CliUsageError) throw config;
  return config;
}

function detect(env: Record<string, string>, existing: string[], flags: Record<string, string | string[]> = {}): Record<string, Detection> {
  const config = configOf(env, flags);
  return Object.fromEntries(detectCollectors({ config, env, existing: new Set(existing) }).map((d) => [d.name, d]));
}

const HOME = { HOME: '/home/ada' };

describe('detectCollectors', () => {
  it('finds nothing on a bare host, and says why for each collector', () => {
    const found = detect(HOME, []);
    expect(found.docker).toEqual({ name: 'docker', status: 'not-found', reason: expect.stringContaining('no Docker socket at /var/run/docker.sock') });
    expect(found.docker?.reason).toContain('set DOCKER_HOST or --docker-host');
    expect(found.kubernetes).toEqual({ name: 'kubernetes', status: 'not-found', reason: expect.stringContaining('no kubeconfig at /home/ada/.kube/config') });
    expect(found.ecs).toEqual({ name: 'ecs', status: 'not-found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set' });
  });

  it('finds Docker at the default socket, at DOCKER_HOST, or over TCP without probing', () => {
    expect(detect(HOME, ['/var/run/docker.sock']).docker).toEqual({ name: 'docker', status: 'found', reason: 'socket /var/run/docker.sock', target: { socketPath: '/var/run/docker.sock' } });
    expect(detect({ ...HOME, DOCKER_HOST: 'unix:///run/user/1/docker.sock' }, ['/run/user/1/docker.sock']).docker).toMatchObject({ status: 'found', target: { socketPath: '/run/user/1/docker.sock' } });
    const missing = detect({ ...HOME, DOCKER_HOST: 'unix:///run/user/1/docker.sock' }, ['/var/run/docker.sock']).docker;
    expect(missing).toMatchObject({ status: 'not-found', reason: 'no Docker socket at /run/user/1/docker.sock (unix:///run/user/1/docker.sock)' });
    expect(detect({ ...HOME, DOCKER_HOST: 'tcp://10.0.0.5:2375' }, []).docker).toMatchObject({ status: 'found', target: { host: '10.0.0.5', port: 2375 } });
  });

  it('finds Kubernetes in a cluster or from a kubeconfig, only with a node name', () => {
    const inCluster = { ...HOME, KUBERNETES_SERVICE_HOST: '10.96.0.1', NODE_NAME: 'node-1' };
    expect(detect(inCluster, [IN_CLUSTER_TOKEN]).kubernetes).toEqual({
      name: 'kubernetes',
      status: 'found',
      reason: 'in-cluster service account, node node-1',
      kube: { inCluster: true },
      nodeName: 'node-1',
    });
    // The service host without the token is not a cluster.
    expect(detect(inCluster, []).kubernetes?.status).toBe('not-found');
    expect(detect({ ...HOME, NODE_NAME: 'node-2' }, ['/home/ada/.kube/config']).kubernetes).toMatchObject({ status: 'found', kube: { kubeconfig: '/home/ada/.kube/config' }, nodeName: 'node-2' });
    expect(detect({ ...HOME, KUBECONFIG: '/etc/kube.yaml' }, ['/etc/kube.yaml'], { 'node-name': 'n3' }).kubernetes).toMatchObject({ status: 'found', kube: { kubeconfig: '/etc/kube.yaml' } });
    const noNode = detect(HOME, ['/home/ada/.kube/config']).kubernetes;
    expect(noNode).toEqual({ name: 'kubernetes', status: 'not-found', reason: 'kubeconfig /home/ada/.kube/config found, but no node name: set NODE_NAME or --node-name' });
    expect(detect({}, []).kubernetes?.reason).toContain('no kubeconfig (HOME is not set)');
  });

  it('finds ECS from the task metadata URI', () => {
    expect(detect({ ...HOME, ECS_CONTAINER_METADATA_URI_V4: 'http://169.254.170.2/v4/x' }, []).ecs).toEqual({
      name: 'ecs',
      status: 'found',
      reason: 'task metadata http://169.254.170.2/v4/x',
      metadataUri: 'http://169.254.170.2/v4/x',
    });
  });

  it('reports a disabled collector as disabled, whatever the host has', () => {
    const found = detect({ ...HOME, ECS_CONTAINER_METADATA_URI_V4: 'http://e/v4' }, ['/var/run/docker.sock'], { disable: ['docker', 'ecs'] });
    expect(found.docker).toMatchObject({ status: 'disabled' });
    expect(found.ecs).toMatchObject({ status: 'disabled' });
    expect(found.kubernetes?.status).toBe('not-found');
  });

  it('asks to probe the Docker socket, the kubeconfig and the service account token', () => {
    expect(pathsToProbe(configOf(HOME))).toEqual(['/var/run/docker.sock', '/home/ada/.kube/config', IN_CLUSTER_TOKEN]);
    expect(pathsToProbe(configOf({ DOCKER_HOST: 'tcp://h:1' }))).toEqual([IN_CLUSTER_TOKEN]);
  });

  it('dockerTarget reads unix and tcp hosts', () => {
    expect(dockerTarget('unix:///var/run/docker.sock')).toEqual({ socketPath: '/var/run/docker.sock' });
    expect(dockerTarget('tcp://127.0.0.1:2376/')).toEqual({ host: '127.0.0.1', port: 2376 });
  });
});

describe('probePaths', () => {
  it('keeps the paths that exist', async () => {
    const { dir, remove } = await tempDir();
    try {
      await writeFile(join(dir, 'docker.sock'), '');
      expect(await probePaths([join(dir, 'docker.sock'), join(dir, 'missing'), dir])).toEqual(new Set([join(dir, 'docker.sock'), dir]));
    } finally {
      await remove();
    }
  });
});
