import { asyncScheduler } from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import type { KubeConfig } from '@kubernetes/client-node';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import { numberOption } from '../../util/options.js';
import type { MetadataAsTags } from '../shared/metadata-as-tags.js';
import { KubernetesCollectorOptionError } from './errors.js';

/**
 * Options of {@link kubernetesCollector}. Durations are in milliseconds.
 *
 * @example
 * ```ts
 * const options: KubernetesCollectorOptions = { nodeName: 'ip-10-0-3-17', period: 10_000, podLabelsAsTags: { team: 'team' } };
 * ```
 */
export interface KubernetesCollectorOptions {
  /** Where the API server is (default: a `KubeConfig` loaded with `loadFromDefault()`: `$KUBECONFIG`, `~/.kube/config`, or in-cluster). */
  readonly kubeConfig?: KubeConfig;
  /** The node whose pods are listed (default: `process.env.NODE_NAME`; required). */
  readonly nodeName?: string;
  /** Time between two lists (default 5000). */
  readonly period?: number;
  /** Pod label -> tag name, as for {@link extractPodTags}. */
  readonly podLabelsAsTags?: MetadataAsTags;
  /** Pod annotation -> tag name, as for {@link extractPodTags}. */
  readonly podAnnotationsAsTags?: MetadataAsTags;
  /** Also list the cluster's services each period, for `kube_service` tags (default false). */
  readonly listServices?: boolean;
  /** The longest one list page may take before the list counts as failed (default 10000). */
  readonly requestTimeout?: number;
  /** Pods per list page (default 500). */
  readonly pageSize?: number;
  /** Delays after a failed list: `initial`, doubled per failure up to `max` (defaults 1000, 30000); reset by a complete list. */
  readonly backoff?: { readonly initial?: number; readonly max?: number };
  /** The source written into every TagInfo (default 'kubernetes', as {@link extractPodTags}). */
  readonly source?: string;
  /** The scheduler of the period, the backoff and the timeouts (default `asyncScheduler`). */
  readonly scheduler?: SchedulerLike;
  /** Where failed lists and malformed pods are reported (default: silent). */
  readonly logger?: Logger;
}

/**
 * The options of {@link kubernetesCollector} checked, with every default filled in (the
 * kubeconfig excepted: it is loaded with the client, on first use).
 *
 * @example
 * ```ts
 * const { nodeName, period, backoff } = resolveKubernetesOptions({ nodeName: 'node-1' });
 * // 'node-1', 5000, { initial: 1000, max: 30000 }
 * ```
 */
export interface ResolvedKubernetesOptions {
  readonly kubeConfig: KubeConfig | undefined;
  readonly nodeName: string;
  readonly period: number;
  readonly requestTimeout: number;
  readonly pageSize: number;
  /** Delays after failed lists (see `backoffDelay`). */
  readonly backoff: { readonly initial: number; readonly max: number };
  readonly source: string;
  readonly scheduler: SchedulerLike;
  readonly logger: Logger;
  readonly listServices: boolean;
  readonly podLabelsAsTags: MetadataAsTags | undefined;
  readonly podAnnotationsAsTags: MetadataAsTags | undefined;
}

/** `numberOption` throwing the collector's own error, whose `expected` is `expected`. */
function checked(option: string, value: number | undefined, fallback: number, integer: boolean, expected: string): number {
  return numberOption(option, value, fallback, { integer, error: () => new KubernetesCollectorOptionError(option, value, expected) });
}

/**
 * Checks the options of {@link kubernetesCollector} and fills in the defaults; `env` is where
 * `NODE_NAME` is read when `nodeName` is not given. Throws {@link KubernetesCollectorOptionError}
 * when there is no node name, or `period`, `requestTimeout`, `pageSize`, `backoff` or `source` is
 * out of range.
 *
 * @example
 * ```ts
 * resolveKubernetesOptions({ nodeName: 'n', pageSize: 0 }); // KubernetesCollectorOptionError: option 'pageSize'
 * ```
 */
export function resolveKubernetesOptions(
  options: KubernetesCollectorOptions,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ResolvedKubernetesOptions {
  const givenNodeName = options.nodeName ?? env['NODE_NAME'];
  const nodeName = givenNodeName?.trim() ?? '';
  if (nodeName.length === 0) {
    throw new KubernetesCollectorOptionError('nodeName', givenNodeName, 'the name of the node (set options.nodeName or NODE_NAME)');
  }
  const period = checked('period', options.period, 5000, false, 'a positive number of milliseconds');
  const requestTimeout = checked('requestTimeout', options.requestTimeout, 10_000, false, 'a positive number of milliseconds');
  const pageSize = checked('pageSize', options.pageSize, 500, true, 'an integer >= 1');
  // One error for the pair, as before: its value is the `backoff` option as given.
  const backoffError = (): KubernetesCollectorOptionError => new KubernetesCollectorOptionError('backoff', JSON.stringify(options.backoff), '0 < initial <= max');
  const initial = numberOption('backoff.initial', options.backoff?.initial, 1000, { error: backoffError });
  const max = numberOption('backoff.max', options.backoff?.max, 30_000, { error: backoffError });
  if (max < initial) throw backoffError();
  const source = options.source ?? 'kubernetes';
  if (source.length === 0) throw new KubernetesCollectorOptionError('source', source, 'a non-empty string');
  return {
    kubeConfig: options.kubeConfig,
    nodeName,
    period,
    requestTimeout,
    pageSize,
    backoff: { initial, max },
    source,
    scheduler: options.scheduler ?? asyncScheduler,
    logger: options.logger ?? silentLogger,
    listServices: options.listServices === true,
    podLabelsAsTags: options.podLabelsAsTags,
    podAnnotationsAsTags: options.podAnnotationsAsTags,
  };
}
