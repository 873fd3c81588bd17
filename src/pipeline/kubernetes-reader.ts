import {
  asyncScheduler,
  concat,
  concatMap,
  defer,
  EMPTY,
  expand,
  from,
  NEVER,
  Observable,
  repeat,
  retry,
  startWith,
  switchMap,
  throwError,
  timeout,
  timer,
} from 'rxjs';
import type { SchedulerLike } from 'rxjs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Entry, EntryKind, KubeObject } from './entry.js';
import { objectName } from './entry.js';
import { InvalidPipelineOptionError, MissingUidError, ReaderError } from './errors.js';
import type { Applied } from './reader-state.js';
import { applyListItem, applyWatchEvent, finishList, newReaderState } from './reader-state.js';
import type { PipelineTelemetry } from './telemetry.js';
import { backoffDelay } from '../util/backoff.js';
import type { Logger } from '../util/logger.js';
import { silentLogger } from '../util/logger.js';

type K8s = typeof import('@kubernetes/client-node');

/** One page of a list, as the typed client returns it. */
interface ListPage {
  readonly items: readonly object[];
  readonly metadata?: { readonly resourceVersion?: string; readonly _continue?: string };
}

interface PageRequest {
  limit: number;
  _continue?: string;
}

/** How to list and watch each kind. */
const KINDS: Readonly<
  Record<EntryKind, { readonly path: string; readonly lister: (k8s: K8s, kc: KubeConfig) => (page: PageRequest) => Promise<ListPage> }>
> = {
  pod: {
    path: '/api/v1/pods',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return (page) => api.listPodForAllNamespaces(page);
    },
  },
  node: {
    path: '/api/v1/nodes',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return (page) => api.listNode(page);
    },
  },
  namespace: {
    path: '/api/v1/namespaces',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return (page) => api.listNamespace(page);
    },
  },
  persistentvolume: {
    path: '/api/v1/persistentvolumes',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return (page) => api.listPersistentVolume(page);
    },
  },
  service: {
    path: '/api/v1/services',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return (page) => api.listServiceForAllNamespaces(page);
    },
  },
  endpoints: {
    path: '/api/v1/endpoints',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.CoreV1Api);
      return (page) => api.listEndpointsForAllNamespaces(page);
    },
  },
  deployment: {
    path: '/apis/apps/v1/deployments',
    lister: (k8s, kc) => {
      const api = kc.makeApiClient(k8s.AppsV1Api);
      return (page) => api.listDeploymentForAllNamespaces(page);
    },
  },
};

/**
 * Options of {@link kubernetesReader}.
 *
 * @example
 * ```ts
 * kubernetesReader(kc, 'node', { resync: 3_600_000, pageSize: 250, backoff: { initial: 500, max: 10_000 } });
 * ```
 */
export interface KubernetesReaderOptions {
  /** Re-send a full dump as `snapshot` entries every this many ms (default 0: never). */
  readonly resync?: number;
  /** Objects per list page (default 500). */
  readonly pageSize?: number;
  /** Reconnect delays: `initial` ms, doubled per failure up to `max` ms (defaults 1000, 30000); reset once data flows. */
  readonly backoff?: { readonly initial?: number; readonly max?: number };
  /**
   * Gives up on a list page that has not arrived after this many ms (default 60000) and retries
   * with backoff: the client does not notice a body cut short by a dropped connection.
   */
  readonly requestTimeout?: number;
  /** Asks the server to end each watch after this many seconds (default 240); the reader resumes. */
  readonly watchTimeoutSeconds?: number;
  /** The scheduler of the resync and backoff timers (default `asyncScheduler`). */
  readonly scheduler?: SchedulerLike;
  /** Where reconnects, 410s and refused objects are logged (default: silent). */
  readonly logger?: Logger;
  /** Counts reader errors, stale events (`stale`) and refused objects (`missing-uid`). */
  readonly telemetry?: PipelineTelemetry;
  /** The `source` of the entries (default `kubernetes`). */
  readonly source?: string;
}

/** The HTTP status of a client-node error (ApiException `code`, Watch `statusCode`). */
function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown; status?: unknown };
  for (const v of [e.statusCode, e.code, e.status]) if (typeof v === 'number' && v >= 100 && v < 600) return v;
  return undefined;
}

/** A list item from the typed client, back in its JSON (wire) form. */
const toWire = (item: object): KubeObject => JSON.parse(JSON.stringify(item)) as KubeObject;

/**
 * Reads one kind of object from the Kubernetes API server with @kubernetes/client-node: a
 * complete list on connect (paginated; every object as `add`), then a watch from the list's
 * resourceVersion (`add` / `update` / `delete`). Every `resync` ms a fresh full list is sent as
 * `snapshot` entries. On 410 Gone it relists: what changed is sent, and whatever the relist no
 * longer shows is sent as a `delete`. On network or server errors it reconnects with exponential
 * backoff, resuming the watch from the last resourceVersion seen (bookmarks included). Events
 * older than what was already seen (a lower resourceVersion or generation) are dropped and
 * counted as `stale`; objects without a uid are refused with a counted, logged MissingUidError.
 *
 * Cold: each subscription opens its own list and watch; share it (`share()`) to feed several
 * consumers from one watch. Never completes; unsubscribing aborts the requests.
 *
 * @example
 * ```ts
 * const kc = new KubeConfig();
 * kc.loadFromDefault();
 * const pods$ = kubernetesReader(kc, 'pod', { resync: 3_600_000, logger: consoleLogger('info') });
 * pods$.pipe(scrubSecrets(), batch({ maxItems: 500, maxTime: 1000 })).subscribe(send);
 * ```
 */
export function kubernetesReader(kubeConfig: KubeConfig, kind: EntryKind, options: KubernetesReaderOptions = {}): Observable<Entry> {
  const resync = options.resync ?? 0;
  const pageSize = options.pageSize ?? 500;
  const initialDelay = options.backoff?.initial ?? 1000;
  const maxDelay = options.backoff?.max ?? 30_000;
  const watchTimeoutSeconds = options.watchTimeoutSeconds ?? 240;
  const requestTimeout = options.requestTimeout ?? 60_000;
  const scheduler = options.scheduler ?? asyncScheduler;
  const logger = options.logger ?? silentLogger;
  const { telemetry } = options;
  const source = options.source ?? 'kubernetes';
  if (!Number.isFinite(resync) || resync < 0) throw new InvalidPipelineOptionError('resync', resync, 'a number of ms >= 0');
  if (!Number.isInteger(pageSize) || pageSize < 1) throw new InvalidPipelineOptionError('pageSize', pageSize, 'an integer >= 1');
  if (!(initialDelay >= 0 && maxDelay >= initialDelay)) {
    throw new InvalidPipelineOptionError('backoff', options.backoff, '0 <= initial <= max');
  }
  const spec = KINDS[kind];

  return defer(() => from(import('@kubernetes/client-node'))).pipe(
    switchMap((k8s) => {
      const state = newReaderState();
      const list = spec.lister(k8s, kubeConfig);
      const watcher = new k8s.Watch(kubeConfig);
      let mode: 'sync' | 'snapshot' = 'sync';

      /** Emits what an applied event or item yields; counts and logs the rest. */
      const outcome = (applied: Applied): Entry[] => {
        if (applied === 'stale') {
          telemetry?.dropped('stale');
          return [];
        }
        if (applied === 'unchanged') return [];
        if (applied instanceof MissingUidError) {
          telemetry?.dropped('missing-uid');
          logger.warn(applied.message, { kind, object: applied.object });
          return [];
        }
        return [applied];
      };

      const list$ = (): Observable<Entry> =>
        defer(() => {
          const seen = new Set<string>();
          const listMode = mode;
          const page$ = (cont: string | undefined): Observable<ListPage> =>
            // a failed page fails the whole list, which is then redone from the start
            defer(() => list(cont === undefined ? { limit: pageSize } : { limit: pageSize, _continue: cont })).pipe(
              timeout({
                first: requestTimeout,
                scheduler,
                with: () =>
                  throwError(() => new ReaderError(kind, 'list', undefined, new Error(`no answer after ${requestTimeout} ms`))),
              }),
            );
          return page$(undefined).pipe(
            expand((page) => (page.metadata?._continue ? page$(page.metadata._continue) : EMPTY)),
            concatMap((page) => {
              const now = scheduler.now();
              const out = page.items.flatMap((item) => outcome(applyListItem(state, kind, toWire(item), listMode, seen, source, now)));
              if (!page.metadata?._continue) {
                out.push(...finishList(state, kind, seen, page.metadata?.resourceVersion ?? '', source, now));
                mode = 'sync';
                logger.debug(`kubernetes reader (${kind}) listed`, { kind, objects: state.known.size, mode: listMode });
              }
              return out;
            }),
          );
        });

      const watch$ = (): Observable<Entry> =>
        new Observable<Entry>((subscriber) => {
          let closed = false;
          let gone = false;
          let failed: number | undefined;
          let events = 0;
          const startedAt = scheduler.now();
          let controller: AbortController | undefined;
          const params: Record<string, string | number | boolean> = {
            allowWatchBookmarks: true,
            timeoutSeconds: watchTimeoutSeconds,
          };
          if (state.resourceVersion !== undefined && state.resourceVersion !== '') params['resourceVersion'] = state.resourceVersion;
          const onEvent = (type: string, raw: unknown): void => {
            if (closed) return;
            const object = (typeof raw === 'object' && raw !== null ? raw : {}) as KubeObject & { code?: unknown };
            switch (type) {
              case 'ADDED':
              case 'MODIFIED':
              case 'DELETED':
                events += 1;
                for (const entry of outcome(applyWatchEvent(state, kind, type, object, source, scheduler.now()))) subscriber.next(entry);
                return;
              case 'BOOKMARK': {
                events += 1;
                const rv = object.metadata?.resourceVersion;
                if (rv !== undefined && rv !== '') state.resourceVersion = rv;
                return;
              }
              case 'ERROR':
                // the server ends the stream after an ERROR event: 410 relists, others back off
                if (object.code === 410) gone = true;
                else failed = typeof object.code === 'number' ? object.code : 500;
                return;
              default:
                logger.warn(`kubernetes reader (${kind}) unknown watch event type ${type}`, { kind, object: objectName(object) });
            }
          };
          const onDone = (err: unknown): void => {
            if (closed) return;
            if (gone) subscriber.error(new ReaderError(kind, 'watch', 410, new Error('resourceVersion too old (410 Gone)')));
            else if (err !== null && err !== undefined) subscriber.error(new ReaderError(kind, 'watch', statusOf(err), err));
            else if (failed !== undefined) subscriber.error(new ReaderError(kind, 'watch', failed, new Error('an ERROR watch event')));
            else if (events === 0 && scheduler.now() - startedAt < 1000) {
              // ended at once with nothing said: back off rather than reconnect in a tight loop
              subscriber.error(new ReaderError(kind, 'watch', undefined, new Error('the server ended the watch at once')));
            } else subscriber.complete();
          };
          watcher.watch(spec.path, params, onEvent, onDone).then(
            (c) => {
              controller = c;
              if (closed) c.abort();
            },
            (err: unknown) => {
              onDone(err ?? new Error('watch failed'));
            },
          );
          return () => {
            closed = true;
            controller?.abort();
          };
        });

      const cycle$ = defer(() => concat(state.resourceVersion === undefined ? list$() : EMPTY, watch$())).pipe(
        // a watch the server ended cleanly resumes from the last resourceVersion
        repeat(),
        retry({
          resetOnSuccess: true,
          delay: (err: unknown, attempt: number) => {
            const status = err instanceof ReaderError ? err.status : statusOf(err);
            const operation = err instanceof ReaderError ? err.operation : 'list';
            if (status === 410) {
              logger.info(`kubernetes reader (${kind}) got 410 Gone: relisting`, { kind, operation });
              state.resourceVersion = undefined;
              return timer(0, scheduler);
            }
            const delay = backoffDelay(attempt, initialDelay, maxDelay);
            const error = err instanceof ReaderError ? err : new ReaderError(kind, 'list', status, err);
            telemetry?.readerError(kind);
            logger.warn(`${error.message}; reconnecting in ${delay} ms`, { kind, attempt, delay, status, error });
            return timer(delay, scheduler);
          },
        }),
      );

      const resync$ = resync > 0 ? timer(resync, resync, scheduler) : NEVER;
      return resync$.pipe(
        startWith(-1),
        switchMap((tick) => {
          if (tick >= 0) {
            mode = 'snapshot';
            state.resourceVersion = undefined;
          }
          return cycle$;
        }),
      );
    }),
  );
}
