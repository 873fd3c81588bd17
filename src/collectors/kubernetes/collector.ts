import {
  AsyncSubject,
  BehaviorSubject,
  Subject,
  EMPTY,
  catchError,
  concat,
  defer,
  distinctUntilChanged,
  expand,
  finalize,
  forkJoin,
  from,
  map,
  merge,
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
import type { Observable } from 'rxjs';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { EntityIdPrefix } from '../../tagger/entity-id.js';
import { SourcePriority } from '../../tagger/types.js';
import type { Collector, TagInfo } from '../../tagger/types.js';
import { isPodUid, isRuntimeContainerId } from '../shared/id-forms.js';
import {
  askLookUpList,
  createKubernetesCollectorState,
  endLookUpList,
  loopTagInfos,
  podTagInfos,
  retryDelay,
  stepKubernetesCollector,
} from './collector-state.js';
import type { KubernetesCollectorCounters, KubernetesCollectorInput, KubernetesCollectorState, NodeList } from './collector-state.js';
import { KubernetesListError } from './errors.js';
import { extractPodTags } from './extract.js';
import type { PodExtractOptions } from './extract.js';
import { loadKubernetesModule, kubernetesApi } from './client.js';
import type { KubernetesApi, ListPage, PageRequest } from './client.js';
import { resolveKubernetesOptions } from './options.js';
import type { KubernetesCollectorOptions } from './options.js';
import { indexPods } from './pod-index.js';

// The collector's types live beside the code that gives them meaning; they are its public API too.
export type { KubernetesCollectorCounters, KubernetesCollectorState } from './collector-state.js';
export type { KubernetesCollectorOptions } from './options.js';

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

const POD_PREFIX = `${EntityIdPrefix.KubernetesPod}://`;
const CONTAINER_PREFIX = `${EntityIdPrefix.Container}://`;
/** The entity kinds a node's pods give: a pod, and each container it runs. */
const COVERS: readonly string[] = Object.freeze([EntityIdPrefix.Container, EntityIdPrefix.KubernetesPod]);

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
 * of its pod (the pod and every container) from the last complete list, or from a list of the node
 * that starts at or after the look-up when the last list does not know it: with no look-up list on
 * the wire one starts now; while one is, the look-up waits for the next, which starts when it ends
 * and serves every look-up that arrived meanwhile (one or two lists for a burst; see
 * `askLookUpList`). What such a list changes is emitted by `tagInfo$` as a periodic list's changes
 * are. Nothing when the node runs no such entity (a container started by hand, in no pod: a
 * definite "not found" after one list) or the list fails (logged, counted). It never errors. An id
 * not in the form the node reports (a pod uid is a UUID, a container id a runtime's token such as
 * 64 hex digits) is a miss without a list. `covers`: `container_id` and `kubernetes_pod_uid`.
 *
 * The rules — what a list changes, the backoff, the counters — are the pure state machine of
 * `collector-state.ts`; this function is its IO.
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
  const config = resolveKubernetesOptions(options);
  const { nodeName, requestTimeout, pageSize, source, scheduler, logger, listServices } = config;
  const fieldSelector = `spec.nodeName=${nodeName}`;
  const extractBase: PodExtractOptions = {
    source,
    logger,
    ...(config.podLabelsAsTags === undefined ? {} : { podLabelsAsTags: config.podLabelsAsTags }),
    ...(config.podAnnotationsAsTags === undefined ? {} : { podAnnotationsAsTags: config.podAnnotationsAsTags }),
  };
  /** The pod's TagInfos; `undefined`, logged, for a pod too malformed to read (the state machine counts it). */
  const extract = (pod: V1Pod, services: readonly V1Service[]): readonly TagInfo[] | undefined => {
    try {
      return extractPodTags(pod, listServices ? { ...extractBase, services } : extractBase);
    } catch (error) {
      logger.warn('kubernetes: skipping a pod whose tags could not be read', {
        podUid: pod.metadata?.uid,
        pod: pod.metadata?.name,
        namespace: pod.metadata?.namespace,
        error,
      });
      return undefined;
    }
  };

  const machine = createKubernetesCollectorState({ source, backoff: config.backoff, extract });
  const state$ = new BehaviorSubject<KubernetesCollectorState>(machine.status);
  /** One step of the state machine; a changed status is published. */
  const step = (input: KubernetesCollectorInput): readonly TagInfo[] => {
    const before = machine.status;
    const out = stepKubernetesCollector(machine, input);
    if (machine.status !== before) state$.next(machine.status);
    return out;
  };

  let api: KubernetesApi | undefined;
  const api$: Observable<KubernetesApi> = defer(() => {
    if (api !== undefined) return of(api);
    return from(loadKubernetesModule()).pipe(
      map((k8s): KubernetesApi => {
        let kc = config.kubeConfig;
        if (kc === undefined) {
          kc = new k8s.KubeConfig();
          kc.loadFromDefault();
        }
        api = kubernetesApi(k8s, kc);
        return api;
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

  /**
   * One complete list of the node (and of the services, with `listServices`), told to the state
   * machine; its TagInfos are the changes the loop emits for it (the loop's own list, `forLoop`,
   * or a look-up's). A failed list is counted and errors.
   */
  const listNode$ = (forLoop: boolean): Observable<{ readonly list: NodeList; readonly infos: readonly TagInfo[] }> =>
    defer(() => {
      step({ type: 'listStarted' });
      const number = machine.counters.lists;
      return api$.pipe(
        mergeMap((client) => forkJoin([listAll$('pods', client.pods), listServices ? listAll$('services', client.services) : of<V1Service[]>([])])),
        map(([items, services]) => {
          const { index, skipped } = indexPods(items);
          if (skipped > 0) logger.warn(`kubernetes: skipped ${skipped} pod(s) without a uid`, { node: nodeName, skipped });
          const list: NodeList = { index, services, servicesKey: listServices ? servicesKeyOf(services) : '' };
          return { list, infos: step({ type: 'listed', list, forLoop, applyToLoop: true, number }) };
        }),
        tap({
          error: (error: unknown) => {
            step({ type: 'listFailed', partial: error instanceof KubernetesListError && error.reason === 'partial' });
          },
        }),
      );
    });

  const loop$: Observable<TagInfo> = defer(() => {
    step({ type: 'started' });
    const generation = machine.generation;
    return listNode$(true).pipe(
      mergeMap(({ infos }) => from(infos)),
      repeat({ delay: () => timer(config.period, scheduler) }),
      retry({
        delay: (error: unknown) => {
          const reason =
            error instanceof KubernetesListError
              ? error
              : new KubernetesListError('unavailable', 'pods', 1, describe(error), undefined, { cause: error });
          // Stepped without publishing, so that the warning comes before the new state, as it always did.
          stepKubernetesCollector(machine, { type: 'loopFailed', reason });
          const { attempt } = machine;
          const delayMs = retryDelay(machine);
          logger.warn(`${reason.message}; nothing deleted, retrying in ${delayMs} ms`, {
            node: nodeName,
            reason: reason.reason,
            status: reason.status,
            attempt,
            delayMs,
            error: reason,
          });
          state$.next(machine.status);
          return timer(delayMs, scheduler);
        },
      }),
      finalize(() => {
        step({ type: 'stopped', generation });
      }),
    );
  });
  /** What look-up lists changed, emitted by the running loop as its own lists' changes are. */
  const lookUpChanges$ = new Subject<TagInfo>();
  const shared$ = merge(loop$, lookUpChanges$).pipe(share());

  const tagInfo$: Observable<TagInfo> = defer(() => concat(from(loopTagInfos(machine)), shared$));

  /** The answer of each look-up list not yet ended, by number: its list, or none when it failed. */
  const lookUpAnswers = new Map<number, AsyncSubject<NodeList | undefined>>();
  const lookUpAnswer = (number: number): AsyncSubject<NodeList | undefined> => {
    let answer = lookUpAnswers.get(number);
    if (answer === undefined) {
      answer = new AsyncSubject();
      lookUpAnswers.set(number, answer);
    }
    return answer;
  };
  /**
   * Starts look-up list `number`. It runs to its end whoever still waits (a page is cut at
   * `requestTimeout`); its changes go to the stream, then — once the next list, if asks wait for
   * one, has started — its answer to the asks that waited for it.
   */
  const startLookUpList = (number: number): void => {
    let result: NodeList | undefined;
    listNode$(false).subscribe({
      next: ({ list, infos }) => {
        result = list;
        for (const info of infos) lookUpChanges$.next(info);
      },
      error: (error: unknown) => {
        logger.warn(`${describe(error)}; the look-up finds nothing`, {
          node: nodeName,
          reason: error instanceof KubernetesListError ? error.reason : 'unavailable',
          error,
        });
        endList();
      },
      complete: () => {
        endList();
      },
    });
    function endList(): void {
      const next = endLookUpList(machine, number);
      if (next !== undefined) startLookUpList(next);
      const answer = lookUpAnswer(number);
      lookUpAnswers.delete(number);
      answer.next(result);
      answer.complete();
    }
  };

  const fetch = (entity: string): Observable<TagInfo> =>
    defer(() => {
      // Only ids in the form the node reports them are looked up: anything else lists nothing.
      const inForm = entity.startsWith(POD_PREFIX)
        ? isPodUid(entity.slice(POD_PREFIX.length))
        : entity.startsWith(CONTAINER_PREFIX) && isRuntimeContainerId(entity.slice(CONTAINER_PREFIX.length));
      if (!inForm) {
        step({ type: 'fetchMissed' });
        return EMPTY;
      }
      const last = machine.last;
      const known = last === undefined ? undefined : podTagInfos(machine, last, entity);
      if (known !== undefined) return from(known);
      // The last list does not know it: a list that starts at or after this ask answers it.
      const ticket = askLookUpList(machine);
      const answer$ = lookUpAnswer(ticket.list);
      if (ticket.start) startLookUpList(ticket.list);
      let found = false;
      return answer$.pipe(
        mergeMap((list) => {
          const infos = list === undefined ? undefined : podTagInfos(machine, list, entity);
          if (infos === undefined) return EMPTY;
          found = true;
          return from(infos);
        }),
        finalize(() => {
          if (!found) step({ type: 'fetchMissed' });
        }),
      );
    });

  return {
    source,
    priority: SourcePriority.NodeOrchestrator,
    mode: 'pull',
    covers: COVERS,
    tagInfo$,
    fetch,
    get counters(): KubernetesCollectorCounters {
      return Object.freeze({ ...machine.counters });
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
