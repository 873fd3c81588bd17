/**
 * The collectors' own states (Docker, Kubernetes, ECS) as the status screen shows them. Pure.
 */
import type { DockerConnectionState } from '../collectors/docker/collector.js';
import type { EcsCollectorState } from '../collectors/ecs/collector.js';
import type { KubernetesCollectorState } from '../collectors/kubernetes/collector.js';
import type { CollectorState } from './status.js';

/**
 * A collector's state and the reason shown beside it.
 *
 * @example
 * ```ts
 * const shown: ShownState = { state: 'retrying', reason: 'connect ENOENT /var/run/docker.sock; retry 2 in 1 s' };
 * ```
 */
export interface ShownState {
  readonly state: CollectorState;
  readonly reason: string;
}

/**
 * The Docker collector's state, with `where` (the socket) as the reason while it is healthy.
 *
 * @example
 * ```ts
 * dockerShownState({ status: 'connected', containers: 3 }, 'socket /var/run/docker.sock');
 * // { state: 'connected', reason: 'socket /var/run/docker.sock, 3 containers at connection' }
 * ```
 */
export function dockerShownState(state: DockerConnectionState, where: string): ShownState {
  switch (state.status) {
    case 'idle':
      return { state: 'idle', reason: `${where}, not subscribed` };
    case 'connecting':
      return { state: 'connecting', reason: state.attempt > 0 ? `${where}, attempt ${state.attempt + 1}` : where };
    case 'connected':
      return { state: 'connected', reason: `${where}, ${state.containers} containers at connection` };
    case 'retrying':
      return { state: 'retrying', reason: `${describe(state.reason)}; retry ${state.attempt} in ${seconds(state.delayMs)}` };
  }
}

/**
 * The Kubernetes collector's state, with `where` (in-cluster or the kubeconfig, and the node) as
 * the reason while it is healthy.
 *
 * @example
 * ```ts
 * kubernetesShownState({ status: 'connected', pods: 12 }, 'kubeconfig /root/.kube/config, node n1');
 * // { state: 'connected', reason: 'kubeconfig /root/.kube/config, node n1, 12 pods' }
 * ```
 */
export function kubernetesShownState(state: KubernetesCollectorState, where: string): ShownState {
  switch (state.status) {
    case 'idle':
      return { state: 'idle', reason: `${where}, not subscribed` };
    case 'connecting':
      return { state: 'connecting', reason: where };
    case 'connected':
      return { state: 'connected', reason: `${where}, ${state.pods} pods` };
    case 'retrying': {
      // An error status says it all ("HTTP 503"); the client's exception behind it dumps the headers and body.
      const why = state.reason.status === undefined ? describe(state.reason) : oneLine(state.reason.message);
      return { state: 'retrying', reason: `${why}; retry ${state.attempt} in ${seconds(state.delayMs)}` };
    }
  }
}

/**
 * The ECS collector's state: `ready` with `where` (`fetch on miss from <uri>`) as the reason while
 * the last request succeeded (or none was sent); `retrying` while the last one failed, with what
 * went wrong, how many requests in a row failed and since when (UTC). The collector asks again on
 * the next miss.
 *
 * @example
 * ```ts
 * ecsShownState({ status: 'failing', reason: 'http-status', httpStatus: 500, error: 'answered HTTP 500', since: 0, failures: 2 }, 'fetch on miss from http://169.254.170.2/v4/x');
 * // { state: 'retrying', reason: 'task metadata answered HTTP 500 (http-status); 2 failed requests since 00:00:00 UTC, asking again on the next miss' }
 * ```
 */
export function ecsShownState(state: EcsCollectorState, where: string): ShownState {
  switch (state.status) {
    case 'ready':
      return { state: 'ready', reason: where };
    case 'failing': {
      const count = state.failures === 1 ? '1 failed request' : `${state.failures} failed requests`;
      const since = new Date(state.since).toISOString().slice(11, 19);
      return {
        state: 'retrying',
        reason: `task metadata ${oneLine(state.error)} (${state.reason}); ${count} since ${since} UTC, asking again on the next miss`,
      };
    }
  }
}

/** The error's message and its cause's, on one line (a row of the table, a JSON reason). */
function describe(error: Error): string {
  const cause = error.cause;
  const causeLine = cause instanceof Error ? oneLine(cause.message) : '';
  const detail = causeLine.length > 0 && !error.message.includes(causeLine) ? ` (${causeLine})` : '';
  return `${oneLine(error.message)}${detail}`;
}

/** The first line of `text`, trimmed. */
function oneLine(text: string): string {
  return (text.split('\n', 1)[0] ?? '').trim();
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 100) / 10} s`;
}

/**
 * The shared kvstore's state: `connected` while its cache holds a complete list and the watch runs,
 * `retrying` (with the last error) while it lists again after losing etcd. `where` (the URL, the
 * name, the prefix) is the reason while it is healthy.
 *
 * @example
 * ```ts
 * kvstoreShownState(false, new Error('connect ECONNREFUSED 10.0.0.1:2379'), 'etcd://10.0.0.1:2379 as n1');
 * // { state: 'retrying', reason: 'etcd://10.0.0.1:2379 as n1: listing again after: connect ECONNREFUSED 10.0.0.1:2379' }
 * ```
 */
export function kvstoreShownState(synced: boolean, lastError: Error | undefined, where: string): ShownState {
  if (synced) return { state: 'connected', reason: where };
  return { state: 'retrying', reason: `${where}: listing again${lastError === undefined ? '' : ` after: ${describe(lastError)}`}` };
}
