import type { KubeConfig, V1Pod, V1Service } from '@kubernetes/client-node';
import { noRedirectHttp } from './no-redirect-http.js';

/**
 * `@kubernetes/client-node`, loaded on first use: importing `tagstream/kubernetes` does not load
 * the client (nor its dependencies) until a collector lists or a kubeconfig is read.
 */
export type KubernetesModule = typeof import('@kubernetes/client-node');

/**
 * One page of a list, as the typed client returns it.
 *
 * @example
 * ```ts
 * const page: ListPage<V1Pod> = { items: [], metadata: { _continue: 'token' } };
 * ```
 */
export interface ListPage<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly _continue?: string };
}

/**
 * What is asked for one page.
 *
 * @example
 * ```ts
 * const request: PageRequest = { fieldSelector: 'spec.nodeName=node-1', limit: 500 };
 * ```
 */
export interface PageRequest {
  readonly fieldSelector?: string;
  readonly limit: number;
  readonly _continue?: string;
}

/**
 * The two lists the Kubernetes collector reads.
 *
 * @example
 * ```ts
 * const page = await api.pods({ fieldSelector: 'spec.nodeName=node-1', limit: 500 });
 * ```
 */
export interface KubernetesApi {
  readonly pods: (request: PageRequest) => Promise<ListPage<V1Pod>>;
  readonly services: (request: PageRequest) => Promise<ListPage<V1Service>>;
}

/**
 * Where a kubeconfig comes from: the pod's service account (`inCluster`), a file, or — when
 * omitted — `loadFromDefault()` (`$KUBECONFIG`, `~/.kube/config`, or in-cluster).
 *
 * @example
 * ```ts
 * const from: KubeConfigSource = { file: '/etc/tagstream/kubeconfig' };
 * ```
 */
export type KubeConfigSource = { readonly inCluster: true } | { readonly file: string };

/**
 * `@kubernetes/client-node` (Node keeps the module once imported).
 *
 * @example
 * ```ts
 * const k8s = await loadKubernetesModule();
 * ```
 */
export function loadKubernetesModule(): Promise<KubernetesModule> {
  return import('@kubernetes/client-node');
}

/**
 * A `KubeConfig` for {@link kubernetesCollector}'s `kubeConfig` option, loaded from `source` (by
 * default as `loadFromDefault()` does). The client library is loaded here, so that its user needs
 * no import of its own. Rejects when a kubeconfig file cannot be read; in-cluster, the service
 * account's token is read when a request is sent.
 *
 * @example
 * ```ts
 * const kubeConfig = await loadKubeConfig({ inCluster: true });
 * const k8s = kubernetesCollector({ kubeConfig, nodeName: process.env.NODE_NAME });
 * ```
 */
export async function loadKubeConfig(source?: KubeConfigSource): Promise<KubeConfig> {
  const k8s = await loadKubernetesModule();
  const kubeConfig = new k8s.KubeConfig();
  if (source === undefined) kubeConfig.loadFromDefault();
  else if ('inCluster' in source) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromFile(source.file);
  return kubeConfig;
}

/**
 * The lists of the core API over `kubeConfig` (as `makeApiClient`), with an HTTP layer that never
 * follows a redirect off the API server. Throws when the kubeconfig has no current cluster.
 *
 * @example
 * ```ts
 * const api = kubernetesApi(await loadKubernetesModule(), await loadKubeConfig());
 * ```
 */
export function kubernetesApi(k8s: KubernetesModule, kubeConfig: KubeConfig): KubernetesApi {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const api = new k8s.CoreV1Api(
    k8s.createConfiguration({
      baseServer: new k8s.ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      httpApi: noRedirectHttp(k8s),
    }),
  );
  return {
    pods: (request) => api.listPodForAllNamespaces(request),
    services: (request) => api.listServiceForAllNamespaces(request),
  };
}
