/**
 * What the host runs: which collectors the agent starts, and why or why not. Pure: the paths that
 * exist are given (see {@link pathsToProbe}; `probe-paths.ts` checks them).
 */
import type { AgentConfig, CollectorName } from './agent-config.js';

/**
 * The service account token a pod holds when it runs in a Kubernetes cluster.
 *
 * @example
 * ```ts
 * const inCluster = (await probePaths([IN_CLUSTER_TOKEN])).has(IN_CLUSTER_TOKEN);
 * ```
 */
export const IN_CLUSTER_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Where the Docker collector connects: a unix socket, or host and port over TCP.
 *
 * @example
 * ```ts
 * const target: DockerTarget = { socketPath: '/var/run/docker.sock' };
 * ```
 */
export type DockerTarget = { readonly socketPath: string } | { readonly host: string; readonly port: number };

/**
 * One collector's detection: `found` with what it needs to start, `not-found` or `disabled` with why.
 *
 * @example
 * ```ts
 * const d: Detection = { name: 'ecs', status: 'not-found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set' };
 * ```
 */
export type Detection =
  | { readonly name: 'docker'; readonly status: 'found'; readonly reason: string; readonly target: DockerTarget }
  | {
      readonly name: 'kubernetes';
      readonly status: 'found';
      readonly reason: string;
      readonly kube: { readonly inCluster: true } | { readonly kubeconfig: string };
      readonly nodeName: string;
    }
  | { readonly name: 'ecs'; readonly status: 'found'; readonly reason: string; readonly metadataUri: string }
  | { readonly name: CollectorName; readonly status: 'not-found' | 'disabled'; readonly reason: string };

/**
 * What {@link detectCollectors} looks at besides the configuration.
 *
 * @example
 * ```ts
 * const input: DetectionInput = { config, env: process.env, existing: new Set(['/var/run/docker.sock']) };
 * ```
 */
export interface DetectionInput {
  readonly config: AgentConfig;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The paths of {@link pathsToProbe} that exist. */
  readonly existing: ReadonlySet<string>;
}

/**
 * The paths whose existence decides detection: the Docker socket (when `dockerHost` is a unix
 * socket), the kubeconfig, and the in-cluster service account token.
 *
 * @example
 * ```ts
 * pathsToProbe(config); // ['/var/run/docker.sock', '/root/.kube/config', '/var/run/secrets/kubernetes.io/serviceaccount/token']
 * ```
 */
export function pathsToProbe(config: AgentConfig): string[] {
  const paths: string[] = [];
  const docker = dockerTarget(config.dockerHost);
  if ('socketPath' in docker) paths.push(docker.socketPath);
  if (config.kubeconfig !== undefined) paths.push(config.kubeconfig);
  paths.push(IN_CLUSTER_TOKEN);
  return paths;
}

/**
 * Decides which collectors to start, in the order docker, kubernetes, ecs:
 * - docker: the socket of `dockerHost` exists (a `tcp://` host is taken as found, unprobed);
 * - kubernetes: in a cluster (`KUBERNETES_SERVICE_HOST` set and the service account token present)
 *   or a kubeconfig file present, and a node name (`NODE_NAME`) given;
 * - ecs: an ECS task metadata URI (`ECS_CONTAINER_METADATA_URI_V4`) given.
 * A collector in `config.disabled` is `disabled` whatever the host has.
 *
 * @example
 * ```ts
 * detectCollectors({ config, env: process.env, existing: new Set(['/var/run/docker.sock']) })
 *   .map((d) => `${d.name}: ${d.status} (${d.reason})`);
 * ```
 */
export function detectCollectors(input: DetectionInput): Detection[] {
  return [detectDocker(input), detectKubernetes(input), detectEcs(input)];
}

/**
 * Where a Docker host URL points: `unix:///path` -> the socket, `tcp://host:port` -> host and port.
 *
 * @example
 * ```ts
 * dockerTarget('tcp://127.0.0.1:2375'); // { host: '127.0.0.1', port: 2375 }
 * ```
 */
export function dockerTarget(dockerHost: string): DockerTarget {
  if (dockerHost.startsWith('unix://')) return { socketPath: dockerHost.slice('unix://'.length) };
  const match = /^tcp:\/\/(.+):(\d+)\/?$/.exec(dockerHost);
  return { host: match?.[1] ?? 'localhost', port: Number(match?.[2] ?? 2375) };
}

function disabledBy(config: AgentConfig, name: CollectorName): Detection | undefined {
  return config.disabled.includes(name) ? { name, status: 'disabled', reason: 'disabled by configuration (--disable)' } : undefined;
}

function detectDocker({ config, existing }: DetectionInput): Detection {
  const disabled = disabledBy(config, 'docker');
  if (disabled !== undefined) return disabled;
  const target = dockerTarget(config.dockerHost);
  const origin = config.dockerHostExplicit ? config.dockerHost : `the default ${config.dockerHost}; set DOCKER_HOST or --docker-host`;
  if (!('socketPath' in target)) return { name: 'docker', status: 'found', reason: `${config.dockerHost} (TCP, not probed)`, target };
  if (existing.has(target.socketPath)) return { name: 'docker', status: 'found', reason: `socket ${target.socketPath}`, target };
  return { name: 'docker', status: 'not-found', reason: `no Docker socket at ${target.socketPath} (${origin})` };
}

function detectKubernetes({ config, env, existing }: DetectionInput): Detection {
  const disabled = disabledBy(config, 'kubernetes');
  if (disabled !== undefined) return disabled;
  const serviceHost = env.KUBERNETES_SERVICE_HOST;
  const inCluster = serviceHost !== undefined && serviceHost.length > 0 && existing.has(IN_CLUSTER_TOKEN);
  const kubeconfig = config.kubeconfig !== undefined && existing.has(config.kubeconfig) ? config.kubeconfig : undefined;
  if (!inCluster && kubeconfig === undefined) {
    const where = config.kubeconfig === undefined ? 'no kubeconfig (HOME is not set)' : `no kubeconfig at ${config.kubeconfig}`;
    return { name: 'kubernetes', status: 'not-found', reason: `not in a cluster (KUBERNETES_SERVICE_HOST unset or no service account token) and ${where}` };
  }
  const how = inCluster ? 'in-cluster service account' : `kubeconfig ${kubeconfig ?? ''}`;
  const nodeName = config.nodeName?.trim() ?? '';
  if (nodeName.length === 0) return { name: 'kubernetes', status: 'not-found', reason: `${how} found, but no node name: set NODE_NAME or --node-name` };
  return {
    name: 'kubernetes',
    status: 'found',
    reason: `${how}, node ${nodeName}`,
    kube: inCluster ? { inCluster: true } : { kubeconfig: kubeconfig ?? '' },
    nodeName,
  };
}

function detectEcs({ config }: DetectionInput): Detection {
  const disabled = disabledBy(config, 'ecs');
  if (disabled !== undefined) return disabled;
  if (config.ecsMetadataUri === undefined) return { name: 'ecs', status: 'not-found', reason: 'ECS_CONTAINER_METADATA_URI_V4 is not set' };
  return { name: 'ecs', status: 'found', reason: `task metadata ${config.ecsMetadataUri}`, metadataUri: config.ecsMetadataUri };
}
