import {
  BehaviorSubject,
  EMPTY,
  asyncScheduler,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  expand,
  finalize,
  forkJoin,
  from,
  map,
  mergeMap,
  of,
  reduce,
  repeat,
  retry,
  share,
  tap,
  throwError,
  timeout,
  timer,
} from 'rxjs';
import type { Observable, SchedulerLike } from 'rxjs';
import type { KubeConfig, V1Pod, V1Service } from '@kubernetes/client-node';
import { EntityIdPrefix } from '../../tagger/entity-id.js';
import { isPodUid, isRuntimeContainerId } from '../shared/id-forms.js';
import { noRedirectHttp } from './no-redirect-http.js';
import { deleteEntityInfo } from '../../tagger/stream-collector.js';
import { SourcePriority } from '../../tagger/types.js';
import type { Collector, TagInfo } from '../../tagger/types.js';
import { silentLogger } from '../../util/logger.js';
import type { Logger } from '../../util/logger.js';
import type { MetadataAsTags } from '../shared/metadata-as-tags.js';
import { KubernetesCollectorOptionError, KubernetesListError } from './errors.js';
import { extractPodTags } from './extract.js';
import type { PodExtractOptions } from './extract.js';
import { EMPTY_POD_INDEX, indexPods } from './pod-index.js';
import type { PodIndex } from './pod-index.js';
import { diffPodLists } from './pod-list-diff.js';

type K8s = typeof import('@kubernetes/client-node');

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
 * What the Kubernetes collector has done since it was created.
 *
 * @example
 * ```ts
 * const { lists, listErrors, pods, emitted, deletes }: KubernetesCollectorCounters = k8s.counters;
 * ```
 */
export interface KubernetesCollectorCounters {
  /** Lists of the node started (by the period and by `fetch`). */
  readonly lists: number;
  /** Lists that gave no complete list (error status, timeout, partial, unreachable). */
  readonly listErrors: number;
  /** The failed lists that broke after their first page (`partial`), also counted in `listErrors`. */
  readonly partialLists: number;
  /** Pods of the node in the last complete list. */
  readonly pods: number;
  /** TagInfos with tags emitted by `tagInfo$`. */
  readonly emitted: number;
  /** Deletes (`deleteEntity`) emitted by `tagInfo$`. */
  readonly deletes: number;
  /** `fetch` look-ups that found nothing. */
  readonly fetchMisses: number;
  /** Pods too malformed to read tags from (a container status without an image...); skipped and logged. */
  readonly extractErrors: number;
}

/**
 * The collector's link to the API server: `idle` while nobody subscribes to `tagInfo$`,
 * `connecting` until the first complete list, `connected` after each complete list, `retrying`
 * after a failed one, waiting `delayMs` before attempt `attempt`.
 *
 * @example
 * ```ts
 * k8s.state$.subscribe((state) => {
 *   if (state.status === 'retrying') console.warn(`kubernetes: ${state.reason.message}; retry in ${state.delayMs} ms`);
 * });
 * ```
 */
export type KubernetesCollectorState =
  | { readonly status: 'idle' }
  | { readonly status: 'connecting' }
  | { readonly status: 'connected'; readonly pods: number }
  | { readonly status: 'retrying'; readonly attempt: number; readonly delayMs: number; readonly reason: KubernetesListError };

/**
 * The pull-mode Kubernetes collector: a {@link Collector} with `fetch`, its state and counters.
 *
 * @example
 * ```ts
 * const k8s: KubernetesCollector = kubernetesCollector({ nodeName: process.env.NODE_NAME });
 * createTagger({ collectors: [k8s] }).start();
 * ```
 */
export interface KubernetesCollector extends Collector {
  readonly mode: 'pull';
  readonly tagInfo$: Observable<TagInfo>;
  readonly fetch: (entity: string) => Observable<TagInfo>;
  /** A snapshot of the counters. */
  readonly counters: KubernetesCollectorCounters;
  /** The state now. */
  readonly state: KubernetesCollectorState;
  /** The state now, then each change. */
  readonly state$: Observable<KubernetesCollectorState>;
}

/** One page of a list, as the typed client returns it. */
interface ListPage<T> {
  readonly items: readonly T[];
  readonly metadata?: { readonly _continue?: string };
}

interface PageRequest {
  readonly fieldSelector?: string;
  readonly limit: number;
  readonly _continue?: string;
}

interface Lister {
  readonly pods: (request: PageRequest) => Promise<ListPage<V1Pod>>;
  readonly services: (request: PageRequest) => Promise<ListPage<V1Service>>;
}

/** A complete list of the node. */
interface NodeList {
  readonly index: PodIndex;
  readonly services: readonly V1Service[];
  /** Identifies the services' state: when it changes, every pod's `kube_service` tags may. */
  readonly servicesKey: string;
}

/** What one run of the period loop remembers: the last complete list and the TagInfos it gave. */
interface Session {
  list: NodeList | undefined;
  readonly infos: Map<string, readonly TagInfo[]>;
}

const POD_PREFIX = `${EntityIdPrefix.KubernetesPod}://`;
const CONTAINER_PREFIX = `${EntityIdPrefix.Container}://`;

/** The HTTP status of a client-node error (ApiException `code`). */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { code?: unknown; statusCode?: unknown };
  for (const value of [e.code, e.statusCode]) if (typeof value === 'number' && value >= 100 && value < 600) return value;
  return undefined;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function servicesKeyOf(services: readonly V1Service[]): string {
  return services
    .map((s) => `${s.metadata?.namespace ?? ''}/${s.metadata?.name ?? ''}@${s.metadata?.resourceVersion ?? ''}`)
    .sort()
    .join(',');
}

function positive(option: string, value: number, expected = 'a positive number of milliseconds'): number {
  if (!(Number.isFinite(value) && value > 0)) throw new KubernetesCollectorOptionError(option, value, expected);
  return value;
}

/**
 * The pull-mode Kubernetes collector: every `period` it lists the pods of its node from the API
 * server (`fieldSelector=spec.nodeName=<node>`, paginated), compares the list with the previous
 * one by uid and resourceVersion ({@link diffPodLists}) and emits TagInfos
 * ({@link extractPodTags}) only for the pods that changed, and a delete for each pod that is gone
 * and its containers, and for each container a pod no longer runs (a restart gives it a new id).
 *
 * A list that fails — an error status, a page that does not arrive within `requestTimeout`, a
 * list broken after its first page, an unreachable server — deletes nothing: it is counted,
 * logged at `warn`, the previous list is kept, and the list is retried after a backoff
 * (exponential, capped), then the period resumes. `tagInfo$` never fails.
 *
 * `tagInfo$` is shared: any number of subscribers cause one list per period. A subscriber that
 * joins a running collector first gets the TagInfos of the pods of the last list. When the last
 * subscriber leaves the loop stops and its memory is dropped: the next subscriber starts afresh.
 *
 * `fetch(entity)` answers a `kubernetes_pod_uid://` or `container_id://` entity with the TagInfos
 * of its pod (the pod and every container) from the last complete list, or lists the node now
 * when the last list does not know it (concurrent look-ups share one list); nothing when the
 * node runs no such entity or the list fails (logged, counted). It never errors. An id not in the
 * form the node reports (a pod uid is a UUID, a container id a runtime's token such as 64 hex
 * digits) is a miss without a list.
 *
 * Throws {@link KubernetesCollectorOptionError} when there is no node name or an option is out
 * of range.
 *
 * @example
 * ```ts
 * const k8s = kubernetesCollector({ nodeName: process.env.NODE_NAME, period: 10_000, logger: consoleLogger('info') });
 * const tagger = createTagger({ collectors: [k8s] });
 * tagger.start();
 * await tagger.tag(podUid(uid), 'orchestrator'); // ['kube_namespace:shop', 'pod_name:checkout-…', …]
 * k8s.counters; // { lists: 3, listErrors: 0, partialLists: 0, pods: 12, emitted: 40, deletes: 0, fetchMisses: 0, extractErrors: 0 }
 * ```
 */
export function kubernetesCollector(options: KubernetesCollectorOptions = {}): KubernetesCollector {
  const givenNodeName = options.nodeName ?? process.env['NODE_NAME'];
  const nodeName = givenNodeName?.trim() ?? '';
  if (nodeName.length === 0) {
    throw new KubernetesCollectorOptionError('nodeName', givenNodeName, 'the name of the node (set options.nodeName or NODE_NAME)');
  }
  const period = positive('period', options.period ?? 5000);
  const requestTimeout = positive('requestTimeout', options.requestTimeout ?? 10_000);
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new KubernetesCollectorOptionError('pageSize', pageSize, 'an integer >= 1');
  const initialDelay = options.backoff?.initial ?? 1000;
  const maxDelay = options.backoff?.max ?? 30_000;
  if (!(Number.isFinite(initialDelay) && initialDelay > 0 && Number.isFinite(maxDelay) && maxDelay >= initialDelay)) {
    throw new KubernetesCollectorOptionError('backoff', JSON.stringify(options.backoff), '0 < initial <= max');
  }
  const source = options.source ?? 'kubernetes';
  if (source.length === 0) throw new KubernetesCollectorOptionError('source', source, 'a non-empty string');
  const scheduler = options.scheduler ?? asyncScheduler;
  const logger = options.logger ?? silentLogger;
  const listServices = options.listServices === true;
  const fieldSelector = `spec.nodeName=${nodeName}`;
  const extractBase: PodExtractOptions = {
    source,
    logger,
    ...(options.podLabelsAsTags === undefined ? {} : { podLabelsAsTags: options.podLabelsAsTags }),
    ...(options.podAnnotationsAsTags === undefined ? {} : { podAnnotationsAsTags: options.podAnnotationsAsTags }),
  };
  let extractErrors = 0;
  /** The pod's TagInfos; none, counted and logged, for a pod too malformed to read. */
  const extract = (pod: V1Pod, services: readonly V1Service[]): readonly TagInfo[] => {
    try {
      return Object.freeze(extractPodTags(pod, listServices ? { ...extractBase, services } : extractBase));
    } catch (error) {
      extractErrors += 1;
      logger.warn('kubernetes: skipping a pod whose tags could not be read', {
        podUid: pod.metadata?.uid,
        pod: pod.metadata?.name,
        namespace: pod.metadata?.namespace,
        error,
      });
      return Object.freeze([]);
    }
  };

  let lists = 0;
  let listErrors = 0;
  let partialLists = 0;
  let pods = 0;
  let emitted = 0;
  let deletes = 0;
  let fetchMisses = 0;
  /** The running loop's memory; undefined while nobody subscribes. */
  let session: Session | undefined;
  /** The last complete list, by the loop or by a fetch. */
  let last: NodeList | undefined;
  let lister: Lister | undefined;

  const state$ = new BehaviorSubject<KubernetesCollectorState>({ status: 'idle' });
  const setState = (state: KubernetesCollectorState): void => {
    state$.next(state);
  };

  const lister$: Observable<Lister> = defer(() => {
    if (lister !== undefined) return of(lister);
    return from(import('@kubernetes/client-node')).pipe(
      map((k8s: K8s): Lister => {
        let kc = options.kubeConfig;
        if (kc === undefined) {
          kc = new k8s.KubeConfig();
          kc.loadFromDefault();
        }
        // As makeApiClient, with an HTTP layer that never follows a redirect off the API server.
        const cluster = kc.getCurrentCluster();
        if (cluster === null) throw new Error('the kubeconfig has no current cluster');
        const api = new k8s.CoreV1Api(
          k8s.createConfiguration({
            baseServer: new k8s.ServerConfiguration(cluster.server, {}),
            authMethods: { default: kc },
            httpApi: noRedirectHttp(k8s),
          }),
        );
        lister = {
          pods: (request) => api.listPodForAllNamespaces(request),
          services: (request) => api.listServiceForAllNamespaces(request),
        };
        return lister;
      }),
      catchError((error: unknown) =>
        throwError(() => new KubernetesListError('unavailable', 'pods', 1, `no usable kubeconfig: ${describe(error)}`, undefined, { cause: error })),
      ),
    );
  });

  /** Every item of a paginated list; any failed page fails the whole list. */
  const listAll$ = <T>(resource: 'pods' | 'services', fetchPage: (request: PageRequest) => Promise<ListPage<T>>): Observable<T[]> =>
    defer(() => {
      let pages = 0;
      const page$ = (cont: string | undefined): Observable<ListPage<T>> =>
        defer(() => {
          pages += 1;
          const page = pages;
          const request: PageRequest = {
            ...(resource === 'pods' ? { fieldSelector } : {}),
            limit: pageSize,
            ...(cont === undefined ? {} : { _continue: cont }),
          };
          return from(fetchPage(request)).pipe(
            timeout({
              first: requestTimeout,
              scheduler,
              with: () => throwError(() => new KubernetesListError(page > 1 ? 'partial' : 'timeout', resource, page, `no answer within ${requestTimeout} ms`)),
            }),
            catchError((error: unknown) => {
              if (error instanceof KubernetesListError) return throwError(() => error);
              const status = statusOf(error);
              const reason = page > 1 ? 'partial' : status === undefined ? 'unavailable' : 'http-status';
              const detail = status === undefined ? describe(error) : `HTTP ${status}`;
              return throwError(() => new KubernetesListError(reason, resource, page, detail, status, { cause: error }));
            }),
          );
        });
      return page$(undefined).pipe(
        expand((page) => {
          const cont = page.metadata?._continue;
          return cont === undefined || cont === '' ? EMPTY : page$(cont);
        }),
        reduce<ListPage<T>, T[]>((items, page) => {
          for (const item of page.items) items.push(item);
          return items;
        }, []),
      );
    });

  /** One complete list of the node (and of the services, with `listServices`); counted. */
  const listNode$: Observable<NodeList> = defer(() => {
    lists += 1;
    return lister$.pipe(
      mergeMap((api) =>
        forkJoin([listAll$('pods', api.pods), listServices ? listAll$('services', api.services) : of<V1Service[]>([])]),
      ),
      map(([items, services]): NodeList => {
        const { index, skipped } = indexPods(items);
        if (skipped > 0) logger.warn(`kubernetes: skipped ${skipped} pod(s) without a uid`, { node: nodeName, skipped });
        return { index, services, servicesKey: listServices ? servicesKeyOf(services) : '' };
      }),
      tap({
        next: (list) => {
          last = list;
        },
        error: (error: unknown) => {
          listErrors += 1;
          if (error instanceof KubernetesListError && error.reason === 'partial') partialLists += 1;
        },
      }),
    );
  });

  /** What a complete list changes: deletes first, then the TagInfos of changed pods. */
  const apply = (current: Session, list: NodeList): TagInfo[] => {
    const previous = current.list;
    const diff = diffPodLists(previous?.index ?? EMPTY_POD_INDEX, list.index, {
      resendAll: previous !== undefined && previous.servicesKey !== list.servicesKey,
    });
    const out: TagInfo[] = diff.deletedEntities.map((entity) => deleteEntityInfo(entity, source));
    for (const item of diff.removed) current.infos.delete(item.uid);
    for (const item of diff.changed) {
      const infos = extract(item.pod, list.services);
      current.infos.set(item.uid, infos);
      for (const info of infos) out.push(info);
    }
    current.list = list;
    pods = list.index.pods.size;
    deletes += diff.deletedEntities.length;
    emitted += out.length - diff.deletedEntities.length;
    return out;
  };

  const loop$: Observable<TagInfo> = defer(() => {
    const current: Session = { list: undefined, infos: new Map() };
    session = current;
    let attempt = 0;
    setState({ status: 'connecting' });
    return listNode$.pipe(
      tap((list) => {
        attempt = 0;
        setState({ status: 'connected', pods: list.index.pods.size });
      }),
      mergeMap((list) => from(apply(current, list))),
      repeat({ delay: () => timer(period, scheduler) }),
      retry({
        delay: (error: unknown) => {
          attempt += 1;
          const delayMs = Math.min(maxDelay, initialDelay * 2 ** (attempt - 1));
          const reason =
            error instanceof KubernetesListError
              ? error
              : new KubernetesListError('unavailable', 'pods', 1, describe(error), undefined, { cause: error });
          logger.warn(`${reason.message}; nothing deleted, retrying in ${delayMs} ms`, {
            node: nodeName,
            reason: reason.reason,
            status: reason.status,
            attempt,
            delayMs,
            error: reason,
          });
          setState({ status: 'retrying', attempt, delayMs, reason });
          return timer(delayMs, scheduler);
        },
      }),
      finalize(() => {
        if (session === current) session = undefined;
        setState({ status: 'idle' });
      }),
    );
  });
  const shared$ = loop$.pipe(share());

  const tagInfo$: Observable<TagInfo> = defer(() => {
    const running = session;
    const replay = running === undefined ? [] : [...running.infos.values()].flat();
    return concat(from(replay), shared$);
  });

  /** Lists the node now for a look-up; concurrent look-ups share it. */
  const fetchList$ = listNode$.pipe(
    catchError((error: unknown) => {
      logger.warn(`${describe(error)}; the look-up finds nothing`, {
        node: nodeName,
        reason: error instanceof KubernetesListError ? error.reason : 'unavailable',
        error,
      });
      return EMPTY;
    }),
    share(),
  );

  const answer = (list: NodeList, entity: string): readonly TagInfo[] | undefined => {
    const uid = list.index.entities.get(entity);
    const item = uid === undefined ? undefined : list.index.pods.get(uid);
    if (uid === undefined || item === undefined) return undefined;
    const running = session;
    if (running?.list === list) {
      const infos = running.infos.get(uid);
      if (infos !== undefined) return infos;
    }
    return extract(item.pod, list.services);
  };

  const fetch = (entity: string): Observable<TagInfo> =>
    defer(() => {
      // Only ids in the form the node reports them are looked up: anything else lists nothing.
      const inForm = entity.startsWith(POD_PREFIX)
        ? isPodUid(entity.slice(POD_PREFIX.length))
        : entity.startsWith(CONTAINER_PREFIX) && isRuntimeContainerId(entity.slice(CONTAINER_PREFIX.length));
      if (!inForm) {
        fetchMisses += 1;
        return EMPTY;
      }
      const known = last === undefined ? undefined : answer(last, entity);
      if (known !== undefined) return from(known);
      let found = false;
      return fetchList$.pipe(
        mergeMap((list) => {
          const infos = answer(list, entity);
          if (infos === undefined) return EMPTY;
          found = true;
          return from(infos);
        }),
        finalize(() => {
          if (!found) fetchMisses += 1;
        }),
      );
    });

  return {
    source,
    priority: SourcePriority.NodeOrchestrator,
    mode: 'pull',
    tagInfo$,
    fetch,
    get counters(): KubernetesCollectorCounters {
      return Object.freeze({ lists, listErrors, partialLists, pods, emitted, deletes, fetchMisses, extractErrors });
    },
    get state(): KubernetesCollectorState {
      return state$.getValue();
    },
    state$: state$.pipe(distinctUntilChanged(sameState)),
  };
}

function sameState(a: KubernetesCollectorState, b: KubernetesCollectorState): boolean {
  if (a.status !== b.status) return false;
  if (a.status === 'connected' && b.status === 'connected') return a.pods === b.pods;
  if (a.status === 'retrying' && b.status === 'retrying') return a.attempt === b.attempt && a.reason === b.reason;
  return true;
}
