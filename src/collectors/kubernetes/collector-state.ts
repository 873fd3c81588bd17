import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { deleteEntityInfo } from '../../tagger/stream-collector.js';
import type { TagInfo } from '../../tagger/types.js';
import { backoffDelay } from '../../util/backoff.js';
import type { KubernetesListError } from './errors.js';
import { EMPTY_POD_INDEX } from './pod-index.js';
import type { PodIndex } from './pod-index.js';
import { diffPodLists } from './pod-list-diff.js';

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
 * A complete list of the node: its pods indexed, and the services (with `listServices`).
 *
 * @example
 * ```ts
 * const list: NodeList = { index: indexPods(pods).index, services: [], servicesKey: '' };
 * ```
 */
export interface NodeList {
  readonly index: PodIndex;
  readonly services: readonly V1Service[];
  /** Identifies the services' state: when it changes, every pod's `kube_service` tags may. */
  readonly servicesKey: string;
}

/**
 * The TagInfos of a pod (the pod, then each started container), or `undefined` when the pod is
 * too malformed to read (the caller reports it; the state machine counts it).
 *
 * @example
 * ```ts
 * const extract: PodTagsReader = (pod, services) => extractPodTags(pod, { services });
 * ```
 */
export type PodTagsReader = (pod: V1Pod, services: readonly V1Service[]) => readonly TagInfo[] | undefined;

/** What one run of the period loop remembers: the last complete list it applied and the TagInfos it gave. */
interface LoopMemory {
  list: NodeList | undefined;
  /** The number of `list` (see `listed`); 0 before the first. */
  number: number;
  /** Pod uid -> the TagInfos last emitted for it. */
  readonly infos: Map<string, readonly TagInfo[]>;
}

/** The counters the state machine keeps, mutable. */
type Counters = { -readonly [K in keyof KubernetesCollectorCounters]: number };

/**
 * The Kubernetes collector's state: the published status, the consecutive failed lists of the
 * loop, the last complete list (by the loop or by a look-up), what the running loop emitted, and
 * the counters. Owned by one collector and updated in place by {@link stepKubernetesCollector};
 * never handed out (`status` and `counters` are read as snapshots).
 *
 * @example
 * ```ts
 * const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: { initial: 1000, max: 30_000 }, extract });
 * ```
 */
export interface KubernetesCollectorMachine {
  readonly source: string;
  readonly backoff: { readonly initial: number; readonly max: number };
  readonly extract: PodTagsReader;
  status: KubernetesCollectorState;
  /** Failed lists of the loop since its last complete one. */
  attempt: number;
  /** The last complete list, by the loop or by a look-up: of those that completed, the last to start. */
  last: NodeList | undefined;
  /** The number of `last` (see `listed`); 0 before the first. */
  lastNumber: number;
  /** The look-up lists (see {@link askLookUpList}). */
  readonly lookUps: LookUpLists;
  /** The running loop's memory; `undefined` while nobody subscribes. */
  loop: LoopMemory | undefined;
  /** Identifies the running loop (one more for each start). */
  generation: number;
  readonly counters: Counters;
}

/**
 * What the Kubernetes collector's state machine is told.
 *
 * - `started`: a first subscriber came; the loop starts afresh (`connecting`).
 * - `listStarted`: a list of the node began (the loop's or a look-up's).
 * - `listed`: a list gave the complete `list`; `forLoop` when it is the loop's (its status, its
 *   backoff), `applyToLoop` (default: `forLoop`) when its changes are emitted by the running loop
 *   — a look-up's list is, so that the stream carries what a look-up found as a periodic list
 *   would. `number` is the list's number (`counters.lists` right after its `listStarted`): a list
 *   that started before the list already applied (or kept as `last`) does not replace it, so a
 *   slow old list never takes back what a newer one showed. Without `number` it counts as newest.
 * - `listFailed`: a list (the loop's or a look-up's) gave no complete list: counted.
 * - `loopFailed`: the loop's list failed for `reason`: it backs off (`retrying`).
 * - `fetchMissed`: a look-up found nothing.
 * - `stopped`: the loop `generation` ended (its last subscriber left): `idle`.
 *
 * @example
 * ```ts
 * const infos = stepKubernetesCollector(state, { type: 'listed', list, forLoop: true });
 * ```
 */
export type KubernetesCollectorInput =
  | { readonly type: 'started' }
  | { readonly type: 'listStarted' }
  | { readonly type: 'listed'; readonly list: NodeList; readonly forLoop: boolean; readonly applyToLoop?: boolean; readonly number?: number }
  | { readonly type: 'listFailed'; readonly partial: boolean }
  | { readonly type: 'loopFailed'; readonly reason: KubernetesListError }
  | { readonly type: 'fetchMissed' }
  | { readonly type: 'stopped'; readonly generation: number };

const NOTHING: readonly TagInfo[] = Object.freeze([]);

/**
 * A fresh state: idle, nothing listed, every counter 0.
 *
 * @example
 * ```ts
 * const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: { initial: 1000, max: 30_000 }, extract: (pod) => extractPodTags(pod) });
 * ```
 */
export function createKubernetesCollectorState(config: {
  readonly source: string;
  readonly backoff: { readonly initial: number; readonly max: number };
  readonly extract: PodTagsReader;
}): KubernetesCollectorMachine {
  return {
    source: config.source,
    backoff: config.backoff,
    extract: config.extract,
    status: { status: 'idle' },
    attempt: 0,
    last: undefined,
    lastNumber: 0,
    lookUps: { inFlight: undefined, pending: false, started: 0 },
    loop: undefined,
    generation: 0,
    counters: { lists: 0, listErrors: 0, partialLists: 0, pods: 0, emitted: 0, deletes: 0, fetchMisses: 0, extractErrors: 0 },
  };
}

/** The pod's TagInfos, frozen; none, counted, for a pod too malformed to read. */
function podTags(state: KubernetesCollectorMachine, pod: V1Pod, services: readonly V1Service[]): readonly TagInfo[] {
  const infos = state.extract(pod, services);
  if (infos !== undefined) return Object.freeze(infos);
  state.counters.extractErrors += 1;
  return NOTHING;
}

/** What a complete list changes for the loop: deletes first, then the TagInfos of changed pods. */
function applyList(state: KubernetesCollectorMachine, loop: LoopMemory, list: NodeList, number: number): TagInfo[] {
  const previous = loop.list;
  const diff = diffPodLists(previous?.index ?? EMPTY_POD_INDEX, list.index, {
    resendAll: previous !== undefined && previous.servicesKey !== list.servicesKey,
  });
  const out: TagInfo[] = diff.deletedEntities.map((entity) => deleteEntityInfo(entity, state.source));
  for (const item of diff.removed) loop.infos.delete(item.uid);
  for (const item of diff.changed) {
    const infos = podTags(state, item.pod, list.services);
    loop.infos.set(item.uid, infos);
    for (const info of infos) out.push(info);
  }
  loop.list = list;
  loop.number = number;
  state.counters.pods = list.index.pods.size;
  state.counters.deletes += diff.deletedEntities.length;
  state.counters.emitted += out.length - diff.deletedEntities.length;
  return out;
}

/**
 * One step of the Kubernetes collector: updates `state` in place and returns the TagInfos to
 * emit, in order (deletes first); none for most inputs. A function of its inputs alone (and of the
 * `extract` it was given); no IO, no clock.
 *
 * - A complete list of the loop is compared with the loop's previous one (`diffPodLists`): a
 *   delete for each pod gone and its containers, and for each container a pod no longer runs; the
 *   TagInfos of each new or changed pod (of every pod when the services changed). It resets the
 *   backoff and the status becomes `connected`.
 * - A failed list of the loop deletes nothing: attempt `n` (failures since the last complete list)
 *   waits `backoffDelay(n, backoff.initial, backoff.max)`, the status `retrying`.
 * - Any complete list becomes `last`, which look-ups answer from (unless a list that started
 *   after it completed first).
 * - A look-up's list (`applyToLoop`) is applied to the loop as the loop's own would be, without
 *   touching its status or backoff.
 *
 * @example
 * ```ts
 * stepKubernetesCollector(state, { type: 'started' });
 * stepKubernetesCollector(state, { type: 'listStarted' });
 * stepKubernetesCollector(state, { type: 'listed', list, forLoop: true }); // the TagInfos of every pod
 * stepKubernetesCollector(state, { type: 'loopFailed', reason }); // []; state.status: retrying, delayMs 1000
 * ```
 */
export function stepKubernetesCollector(state: KubernetesCollectorMachine, input: KubernetesCollectorInput): readonly TagInfo[] {
  switch (input.type) {
    case 'started':
      state.generation += 1;
      state.loop = { list: undefined, number: 0, infos: new Map() };
      state.attempt = 0;
      state.status = { status: 'connecting' };
      return NOTHING;
    case 'listStarted':
      state.counters.lists += 1;
      return NOTHING;
    case 'listed': {
      const number = input.number ?? Number.MAX_SAFE_INTEGER;
      if (number >= state.lastNumber) {
        state.last = input.list;
        state.lastNumber = number;
      }
      const loop = state.loop;
      if (loop === undefined) return NOTHING;
      if (input.forLoop) {
        state.attempt = 0;
        state.status = { status: 'connected', pods: input.list.index.pods.size };
      }
      if (!(input.applyToLoop ?? input.forLoop) || number < loop.number) return NOTHING;
      return applyList(state, loop, input.list, number);
    }
    case 'listFailed':
      state.counters.listErrors += 1;
      if (input.partial) state.counters.partialLists += 1;
      return NOTHING;
    case 'loopFailed': {
      state.attempt += 1;
      const delayMs = backoffDelay(state.attempt, state.backoff.initial, state.backoff.max);
      state.status = { status: 'retrying', attempt: state.attempt, delayMs, reason: input.reason };
      return NOTHING;
    }
    case 'fetchMissed':
      state.counters.fetchMisses += 1;
      return NOTHING;
    case 'stopped':
      if (state.generation === input.generation) state.loop = undefined;
      state.status = { status: 'idle' };
      return NOTHING;
  }
}

/**
 * What the running loop has emitted, pod by pod: what a subscriber joining it receives first.
 *
 * @example
 * ```ts
 * concat(from(loopTagInfos(state)), shared$);
 * ```
 */
export function loopTagInfos(state: KubernetesCollectorMachine): TagInfo[] {
  return state.loop === undefined ? [] : [...state.loop.infos.values()].flat();
}

/**
 * The TagInfos of the pod of `entity` (a pod or one of its containers) in `list`, or `undefined`
 * when the list does not know it: what the loop emitted for it when `list` is the loop's, else read
 * now (an unreadable pod counts in `extractErrors` and answers none).
 *
 * @example
 * ```ts
 * const infos = podTagInfos(state, state.last, containerId(id));
 * ```
 */
export function podTagInfos(state: KubernetesCollectorMachine, list: NodeList, entity: string): readonly TagInfo[] | undefined {
  const uid = list.index.entities.get(entity);
  const item = uid === undefined ? undefined : list.index.pods.get(uid);
  if (uid === undefined || item === undefined) return undefined;
  const loop = state.loop;
  if (loop?.list === list) {
    const infos = loop.infos.get(uid);
    if (infos !== undefined) return infos;
  }
  return podTags(state, item.pod, list.services);
}

/**
 * The delay before the loop lists again after a failed list (0 unless `retrying`).
 *
 * @example
 * ```ts
 * stepKubernetesCollector(state, { type: 'loopFailed', reason });
 * timer(retryDelay(state), scheduler);
 * ```
 */
export function retryDelay(state: KubernetesCollectorMachine): number {
  return state.status.status === 'retrying' ? state.status.delayMs : 0;
}

/**
 * The look-up lists: which is on the wire, and whether asks wait for the next one.
 *
 * @example
 * ```ts
 * const lookUps: LookUpLists = { inFlight: 3, pending: true, started: 3 };
 * ```
 */
export interface LookUpLists {
  /** The number (1, 2, ...) of the look-up list on the wire, if any. */
  inFlight: number | undefined;
  /** True when asks wait for the list after `inFlight` (which starts when `inFlight` ends). */
  pending: boolean;
  /** How many look-up lists were started. */
  started: number;
}

/**
 * Which look-up list answers an ask: `list`, its number; `start` when the caller must start that
 * list now.
 *
 * @example
 * ```ts
 * const ticket: LookUpTicket = { list: 1, start: true };
 * ```
 */
export interface LookUpTicket {
  readonly list: number;
  readonly start: boolean;
}

/**
 * A look-up that the last list cannot answer asks for a list of the node: the coalescing rule.
 *
 * - No look-up list on the wire: a list starts now (`start: true`) and answers the ask.
 * - A look-up list on the wire: its snapshot may predate what is asked for, so the ask waits for
 *   the NEXT list (`inFlight + 1`), which starts when the one on the wire ends
 *   ({@link endLookUpList}); every ask arriving meanwhile waits for that same list.
 *
 * So every ask is answered by a list that started at or after the ask; at most one look-up list is
 * on the wire and one pending, whatever the rate of asks; a burst of asks costs one or two lists,
 * and never more lists than asks.
 *
 * @example
 * ```ts
 * askLookUpList(state); // { list: 1, start: true }: list now
 * askLookUpList(state); // { list: 2, start: false }: list 1 is on the wire, wait for list 2
 * askLookUpList(state); // { list: 2, start: false }
 * endLookUpList(state, 1); // 2: start it now
 * ```
 */
export function askLookUpList(state: KubernetesCollectorMachine): LookUpTicket {
  const lookUps = state.lookUps;
  if (lookUps.inFlight === undefined) {
    lookUps.started += 1;
    lookUps.inFlight = lookUps.started;
    return { list: lookUps.inFlight, start: true };
  }
  lookUps.pending = true;
  return { list: lookUps.inFlight + 1, start: false };
}

/**
 * The look-up list `list` ended (complete or failed): the number of the list to start now, for
 * the asks that waited for it, or `undefined` when none waits. Call it before answering the asks
 * of `list`, so that an ask made while they are answered waits for a list started after it.
 *
 * @example
 * ```ts
 * const next = endLookUpList(state, 1);
 * if (next !== undefined) startList(next);
 * ```
 */
export function endLookUpList(state: KubernetesCollectorMachine, list: number): number | undefined {
  const lookUps = state.lookUps;
  if (lookUps.inFlight !== list) return undefined;
  lookUps.inFlight = undefined;
  if (!lookUps.pending) return undefined;
  lookUps.pending = false;
  lookUps.started += 1;
  lookUps.inFlight = lookUps.started;
  return lookUps.inFlight;
}
