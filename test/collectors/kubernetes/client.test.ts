/**
 * `loadKubeConfig`: the Kubernetes client's configuration built inside the Kubernetes part, from
 * a file or (failing outside a pod) the service account, for callers that import no client library.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { loadKubeConfig } from '../../../src/collectors/kubernetes/index.js';

const dir = mkdtempSync(join(tmpdir(), 'tagstream-kubeconfig-'));

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const KUBECONFIG = `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:6443
contexts:
- name: test
  context:
    cluster: test
    user: tagstream
current-context: test
users:
- name: tagstream
  user:
    token: not-a-secret
`;

describe('loadKubeConfig', () => {
  it('reads a kubeconfig file', async () => {
    const file = join(dir, 'config');
    writeFileSync(file, KUBECONFIG);
    const kubeConfig = await loadKubeConfig({ file });
    expect(kubeConfig.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(kubeConfig.getCurrentUser()?.name).toBe('tagstream');
  });

  it('rejects a file that cannot be read', async () => {
    await expect(loadKubeConfig({ file: join(dir, 'missing') })).rejects.toThrow();
  });

  it('points in-cluster at the service the pod is given', async () => {
    vi.stubEnv('KUBERNETES_SERVICE_HOST', '10.96.0.1');
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    try {
      const kubeConfig = await loadKubeConfig({ inCluster: true });
      expect(kubeConfig.getCurrentCluster()?.server).toBe('https://10.96.0.1:443');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
