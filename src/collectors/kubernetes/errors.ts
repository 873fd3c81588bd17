import { TaggerError } from '../../tagger/errors.js';

/**
 * Why a list of the node's pods (or of the services) gave no complete list.
 *
 * - `http-status`: the API server answered an error status (`status` says which).
 * - `timeout`: a page did not arrive within `requestTimeout` (a stalled server, a body cut short).
 * - `partial`: the list broke after its first page (an expired `continue` token, a failed page):
 *   what was read is not the whole node and is thrown away.
 * - `unavailable`: the server could not be reached, the answer could not be read, or the
 *   kubeconfig names no usable cluster.
 *
 * @example
 * ```ts
 * const reason: KubernetesListFailure = 'partial';
 * ```
 */
export type KubernetesListFailure = 'http-status' | 'timeout' | 'partial' | 'unavailable';

/**
 * A list of the node's pods that gave no complete list. The collector's stream never fails with
 * it: it is counted, logged, and it is the `reason` of the `retrying` state while the collector
 * backs off; nothing is deleted for it.
 *
 * @example
 * ```ts
 * k8s.state$.subscribe((state) => {
 *   if (state.status === 'retrying' && state.reason.reason === 'partial') console.warn('pod list cut short');
 * });
 * ```
 */
export class KubernetesListError extends TaggerError {
  readonly tag = 'KubernetesList';
  override readonly name = 'KubernetesListError';
  constructor(
    readonly reason: KubernetesListFailure,
    /** What was listed: `pods` or `services`. */
    readonly resource: 'pods' | 'services',
    /** The page that failed, from 1. */
    readonly page: number,
    readonly detail: string,
    /** The HTTP status, when the server answered one. */
    readonly status?: number,
    options?: { readonly cause?: unknown },
  ) {
    super(`kubernetes: listing ${resource} failed at page ${page}: ${detail}`, options);
  }
}

/**
 * A {@link kubernetesCollector} option missing or out of range; thrown by `kubernetesCollector()`
 * itself, at creation. A missing node name (no `nodeName` option and no `NODE_NAME` variable) is
 * one: `option` is `'nodeName'`.
 *
 * @example
 * ```ts
 * try { kubernetesCollector({}); } catch (e) {
 *   if (e instanceof KubernetesCollectorOptionError && e.option === 'nodeName') console.error(e.message);
 * }
 * ```
 */
export class KubernetesCollectorOptionError extends TaggerError {
  readonly tag = 'KubernetesCollectorOption';
  override readonly name = 'KubernetesCollectorOptionError';
  constructor(
    readonly option: string,
    readonly value: unknown,
    readonly expected: string,
  ) {
    super(`invalid kubernetesCollector option ${option}=${String(value)}: expected ${expected}`);
  }
}
