/**
 * The Kubernetes collector's state machine (what a list changes, the backoff, the counters, the
 * status), without IO or RxJS: examples, and properties against a simple model — whatever the
 * sequence of loop lists, look-up lists, failures and restarts, a store fed the emitted TagInfos
 * holds exactly the entities of the readable pods of the loop's last list, the loop's memory is
 * what a late subscriber needs, failures delete nothing and back off by `backoffDelay`, and every
 * counter counts what it says.
 */
import type { V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  askLookUpList,
  createKubernetesCollectorState,
  endLookUpList,
  loopTagInfos,
  podTagInfos,
  retryDelay,
  stepKubernetesCollector,
} from '../../../src/collectors/kubernetes/collector-state.js';
import type { KubernetesCollectorInput, NodeList, PodTagsReader } from '../../../src/collectors/kubernetes/collector-state.js';
import { KubernetesListError } from '../../../src/collectors/kubernetes/errors.js';
import { indexPods } from '../../../src/collectors/kubernetes/pod-index.js';
import { tagInfo } from '../../../src/tagger/stream-collector.js';
import type { TagInfo } from '../../../src/tagger/types.js';
import { backoffDelay } from '../../../src/util/backoff.js';

interface PodSpec {
  readonly uid: string;
  readonly rv: number;
  /** Unreadable: the extract function gives nothing for it. */
  readonly bad: boolean;
}

/** Plain JSON, as the API server sends it. */
const asPod = (json: unknown): V1Pod => json as V1Pod;

/** A pod whose containers are named after its resourceVersion: a new version restarts them. */
function pod({ uid, rv, bad }: PodSpec): V1Pod {
  return asPod({
    metadata: { uid, name: bad ? `bad-${uid}` : uid, namespace: 'default', resourceVersion: String(rv) },
    status: { containerStatuses: [{ name: 'c', image: 'x', imageID: '', ready: true, restartCount: 0, containerID: `docker://${uid}${rv}c` }] },
  });
}

function list(specs: readonly PodSpec[], servicesKey = ''): NodeList {
  return { index: indexPods(specs.map(pod)).index, services: [], servicesKey };
}

/** The fake extract: the pod and its container, tagged with the pod's version; nothing for a bad pod. */
function reader(): { extract: PodTagsReader; unreadable: () => number } {
  let unreadable = 0;
  const extract: PodTagsReader = (p) => {
    if (p.metadata?.name?.startsWith('bad-') === true) {
      unreadable += 1;
      return undefined;
    }
    const uid = p.metadata?.uid ?? '';
    const low = [`rv:${p.metadata?.resourceVersion ?? ''}`];
    const containers = (p.status?.containerStatuses ?? []).map((c) => (c.containerID ?? '').replace('docker://', ''));
    return [tagInfo({ entity: `kubernetes_pod_uid://${uid}`, source: 'kubernetes', low }), ...containers.map((id) => tagInfo({ entity: `container_id://${id}`, source: 'kubernetes', low }))];
  };
  return { extract, unreadable: () => unreadable };
}

const BACKOFF = { initial: 1000, max: 30_000 };
const failure = (reason: 'timeout' | 'partial' = 'timeout'): KubernetesListError => new KubernetesListError(reason, 'pods', reason === 'partial' ? 2 : 1, 'no answer');
const entities = (infos: readonly TagInfo[]): string[] => infos.map((i) => `${i.deleteEntity === true ? '-' : '+'}${i.entity}`);

describe('stepKubernetesCollector', () => {
  it('emits every pod of a first list, then only changes: deletes first, then the changed pods', () => {
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });
    expect(state.status).toEqual({ status: 'idle' });
    stepKubernetesCollector(state, { type: 'started' });
    expect(state.status).toEqual({ status: 'connecting' });
    const first = list([{ uid: 'a', rv: 1, bad: false }, { uid: 'b', rv: 1, bad: false }]);
    expect(entities(stepKubernetesCollector(state, { type: 'listed', list: first, forLoop: true }))).toEqual([
      '+kubernetes_pod_uid://a',
      '+container_id://a1c',
      '+kubernetes_pod_uid://b',
      '+container_id://b1c',
    ]);
    expect(state.status).toEqual({ status: 'connected', pods: 2 });
    expect(stepKubernetesCollector(state, { type: 'listed', list: first, forLoop: true })).toEqual([]);
    const second = list([{ uid: 'a', rv: 2, bad: false }]);
    expect(entities(stepKubernetesCollector(state, { type: 'listed', list: second, forLoop: true }))).toEqual([
      '-container_id://a1c',
      '-kubernetes_pod_uid://b',
      '-container_id://b1c',
      '+kubernetes_pod_uid://a',
      '+container_id://a2c',
    ]);
    expect(state.counters).toMatchObject({ pods: 1, emitted: 6, deletes: 3 });
    expect(entities(loopTagInfos(state))).toEqual(['+kubernetes_pod_uid://a', '+container_id://a2c']);
  });

  it('re-sends every pod when the services change', () => {
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });
    stepKubernetesCollector(state, { type: 'started' });
    const pods = [{ uid: 'a', rv: 1, bad: false }];
    stepKubernetesCollector(state, { type: 'listed', list: list(pods, 's1'), forLoop: true });
    expect(entities(stepKubernetesCollector(state, { type: 'listed', list: list(pods, 's2'), forLoop: true }))).toHaveLength(2);
  });

  it('deletes nothing for a failed list and backs off 1, 2, 4 s until a complete list', () => {
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });
    stepKubernetesCollector(state, { type: 'started' });
    stepKubernetesCollector(state, { type: 'listed', list: list([{ uid: 'a', rv: 1, bad: false }]), forLoop: true });
    const delays = [1, 2, 3].map(() => {
      stepKubernetesCollector(state, { type: 'listFailed', partial: false });
      expect(stepKubernetesCollector(state, { type: 'loopFailed', reason: failure() })).toEqual([]);
      return retryDelay(state);
    });
    expect(delays).toEqual([1000, 2000, 4000]);
    expect(state.status).toMatchObject({ status: 'retrying', attempt: 3, delayMs: 4000 });
    stepKubernetesCollector(state, { type: 'listed', list: list([{ uid: 'a', rv: 1, bad: false }]), forLoop: true });
    expect(state.attempt).toBe(0);
    expect(retryDelay(state)).toBe(0);
    expect(state.counters).toMatchObject({ listErrors: 3, partialLists: 0, emitted: 2, deletes: 0 });
  });

  it('answers look-ups from a list: the loop’s TagInfos for its own list, else read now; unreadable pods counted', () => {
    const { extract, unreadable } = reader();
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract });
    stepKubernetesCollector(state, { type: 'started' });
    const loopList = list([{ uid: 'a', rv: 1, bad: false }]);
    const emitted = stepKubernetesCollector(state, { type: 'listed', list: loopList, forLoop: true });
    // The loop's own list: the very TagInfos it emitted, not read again.
    const answer = podTagInfos(state, loopList, 'container_id://a1c');
    expect(answer).toEqual(emitted);
    expect(podTagInfos(state, loopList, 'kubernetes_pod_uid://a')).toBe(answer);
    const other = list([{ uid: 'b', rv: 1, bad: false }, { uid: 'c', rv: 1, bad: true }]);
    expect(stepKubernetesCollector(state, { type: 'listed', list: other, forLoop: false })).toEqual([]);
    expect(state.last).toBe(other);
    expect(state.status).toEqual({ status: 'connected', pods: 1 });
    expect(entities(podTagInfos(state, other, 'kubernetes_pod_uid://b') ?? [])).toEqual(['+kubernetes_pod_uid://b', '+container_id://b1c']);
    expect(podTagInfos(state, other, 'kubernetes_pod_uid://c')).toEqual([]);
    expect(podTagInfos(state, other, 'kubernetes_pod_uid://zz')).toBeUndefined();
    expect(state.counters.extractErrors).toBe(unreadable());
    expect(unreadable()).toBe(1);
  });

  it('forgets the loop when it stops, but not a newer loop', () => {
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });
    stepKubernetesCollector(state, { type: 'started' });
    const old = state.generation;
    stepKubernetesCollector(state, { type: 'started' });
    stepKubernetesCollector(state, { type: 'listed', list: list([{ uid: 'a', rv: 1, bad: false }]), forLoop: true });
    stepKubernetesCollector(state, { type: 'stopped', generation: old });
    expect(loopTagInfos(state)).toHaveLength(2);
    stepKubernetesCollector(state, { type: 'stopped', generation: state.generation });
    expect(loopTagInfos(state)).toEqual([]);
    expect(state.status).toEqual({ status: 'idle' });
  });
});

// A pod is a function of its uid and resourceVersion, as on an API server: some versions are unreadable.
const podSpec = fc
  .record({ uid: fc.constantFrom('a', 'b', 'c', 'd', 'e'), rv: fc.integer({ min: 1, max: 3 }) })
  .map(({ uid, rv }): PodSpec => ({ uid, rv, bad: rv === 3 && uid !== 'e' }));
const podList = fc
  .record({ pods: fc.uniqueArray(podSpec, { selector: (p) => p.uid, maxLength: 5 }), servicesKey: fc.constantFrom('', 's1') })
  .map(({ pods, servicesKey }) => ({ pods, servicesKey }));

type Step =
  | { readonly type: 'started' }
  | { readonly type: 'stopped' }
  | { readonly type: 'listStarted' }
  | { readonly type: 'listed'; readonly pods: readonly PodSpec[]; readonly servicesKey: string; readonly forLoop: boolean }
  | { readonly type: 'failed'; readonly partial: boolean; readonly forLoop: boolean }
  | { readonly type: 'fetchMissed' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ type: 'started' }),
  fc.constant<Step>({ type: 'stopped' }),
  fc.constant<Step>({ type: 'listStarted' }),
  fc.record({ l: podList, forLoop: fc.boolean() }).map(({ l, forLoop }): Step => ({ type: 'listed', pods: l.pods, servicesKey: l.servicesKey, forLoop })),
  fc.record({ partial: fc.boolean(), forLoop: fc.boolean() }).map(({ partial, forLoop }): Step => ({ type: 'failed', partial, forLoop })),
  fc.constant<Step>({ type: 'fetchMissed' }),
);

describe('stepKubernetesCollector properties', () => {
  it('agrees with a model store on every sequence of lists, failures and restarts', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 60 }), (steps) => {
        const { extract, unreadable } = reader();
        const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract });
        /** The store a subscriber of the current loop keeps: entity -> tags. */
        let store = new Map<string, readonly string[]>();
        let running = false;
        let failures = 0;
        let loopPods: readonly PodSpec[] = [];
        /** Pod uid -> the version of it last emitted by the loop, while the loop's lists show it. */
        const lastReadable = new Map<string, number>();
        const counts = { lists: 0, listErrors: 0, partialLists: 0, emitted: 0, deletes: 0, fetchMisses: 0, pods: 0 };
        const apply = (infos: readonly TagInfo[]): void => {
          for (const info of infos) {
            if (info.deleteEntity === true) {
              counts.deletes += 1;
              store.delete(info.entity);
            } else {
              counts.emitted += 1;
              store.set(info.entity, info.lowCardTags);
            }
          }
        };
        for (const s of steps) {
          let input: KubernetesCollectorInput;
          switch (s.type) {
            case 'started':
              input = { type: 'started' };
              running = true;
              failures = 0;
              store = new Map();
              loopPods = [];
              lastReadable.clear();
              break;
            case 'stopped':
              input = { type: 'stopped', generation: state.generation };
              running = false;
              break;
            case 'listStarted':
              input = { type: 'listStarted' };
              counts.lists += 1;
              break;
            case 'listed':
              input = { type: 'listed', list: list(s.pods, s.servicesKey), forLoop: s.forLoop };
              break;
            case 'failed':
              counts.listErrors += 1;
              if (s.partial) counts.partialLists += 1;
              apply(stepKubernetesCollector(state, { type: 'listFailed', partial: s.partial }));
              if (!s.forLoop) continue;
              input = { type: 'loopFailed', reason: failure(s.partial ? 'partial' : 'timeout') };
              failures += 1;
              break;
            case 'fetchMissed':
              input = { type: 'fetchMissed' };
              counts.fetchMisses += 1;
              break;
          }
          const out = stepKubernetesCollector(state, input);
          if (!running || !(s.type === 'listed' && s.forLoop)) expect(out).toEqual([]);
          apply(out);
          if (s.type === 'listed' && s.forLoop && running) {
            failures = 0;
            for (const uid of lastReadable.keys()) if (!s.pods.some((p) => p.uid === uid)) lastReadable.delete(uid);
            for (const p of s.pods) if (!p.bad) lastReadable.set(p.uid, p.rv);
            loopPods = s.pods;
            counts.pods = s.pods.length;
            expect(state.status).toEqual({ status: 'connected', pods: s.pods.length });
          }
          if (s.type === 'failed') {
            expect(retryDelay(state)).toBe(backoffDelay(failures, BACKOFF.initial, BACKOFF.max));
            expect(state.status).toMatchObject({ status: 'retrying', attempt: failures });
          }
          if (s.type === 'stopped') expect(state.status).toEqual({ status: 'idle' });
          expect(state.attempt).toBe(failures);
          if (running) {
            // The store holds exactly the readable pods of the loop's last list and their containers;
            // a pod that became unreadable keeps the tags of its last readable version (its old
            // containers are deleted: it no longer runs them).
            const readable = loopPods.filter((p) => !p.bad).flatMap((p) => [`kubernetes_pod_uid://${p.uid}`, `container_id://${p.uid}${p.rv}c`]);
            const kept = loopPods.filter((p) => p.bad && lastReadable.has(p.uid)).map((p) => `kubernetes_pod_uid://${p.uid}`);
            expect([...store.keys()].sort()).toEqual([...readable, ...kept].sort());
            for (const p of loopPods) {
              const rv = lastReadable.get(p.uid);
              if (rv !== undefined) expect(store.get(`kubernetes_pod_uid://${p.uid}`)).toEqual([`rv:${rv}`]);
            }
            // A late subscriber gets the readable pods.
            expect(loopTagInfos(state).map((i) => i.entity).sort()).toEqual(readable.sort());
          } else {
            expect(loopTagInfos(state)).toEqual([]);
          }
        }
        expect(state.counters).toEqual({ ...counts, extractErrors: unreadable() });
      }),
      { numRuns: 300 },
    );
  });
});

describe('askLookUpList / endLookUpList: look-ups coalesced into lists that start after them', () => {
  const fresh = (): ReturnType<typeof createKubernetesCollectorState> =>
    createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });

  it('lists at the first ask; asks while it is on the wire wait for the next list, started when it ends', () => {
    const state = fresh();
    expect(askLookUpList(state)).toEqual({ list: 1, start: true });
    expect(askLookUpList(state)).toEqual({ list: 2, start: false });
    expect(askLookUpList(state)).toEqual({ list: 2, start: false });
    expect(state.lookUps).toEqual({ inFlight: 1, pending: true, started: 1 });
    expect(endLookUpList(state, 1)).toBe(2);
    expect(state.lookUps).toEqual({ inFlight: 2, pending: false, started: 2 });
    // An ask while list 2 is on the wire (e.g. made while list 1's asks are answered) waits for list 3.
    expect(askLookUpList(state)).toEqual({ list: 3, start: false });
    expect(endLookUpList(state, 2)).toBe(3);
    expect(endLookUpList(state, 3)).toBeUndefined();
    expect(state.lookUps).toEqual({ inFlight: undefined, pending: false, started: 3 });
    expect(askLookUpList(state)).toEqual({ list: 4, start: true });
  });

  it('ignores the end of a list that is not the one on the wire', () => {
    const state = fresh();
    askLookUpList(state);
    askLookUpList(state);
    expect(endLookUpList(state, 7)).toBeUndefined();
    expect(state.lookUps).toEqual({ inFlight: 1, pending: true, started: 1 });
  });

  it('a burst of 100 asks while one list is on the wire costs two lists', () => {
    const state = fresh();
    const tickets = Array.from({ length: 100 }, () => askLookUpList(state));
    expect(tickets.filter((t) => t.start)).toHaveLength(1);
    expect(new Set(tickets.map((t) => t.list))).toEqual(new Set([1, 2]));
    expect(endLookUpList(state, 1)).toBe(2);
    expect(endLookUpList(state, 2)).toBeUndefined();
    expect(state.lookUps.started).toBe(2);
  });

  it('properties: every ask is answered by a list started at or after it; lists <= asks; one on the wire, one pending', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom('ask', 'end'), { maxLength: 200 }), (events) => {
        const state = fresh();
        let time = 0;
        /** List number -> when it started. */
        const startedAt = new Map<number, number>();
        /** Each ask: when, and the list that answers it. */
        const asks: { at: number; list: number }[] = [];
        const ended = new Set<number>();
        const start = (list: number): void => {
          expect(startedAt.has(list)).toBe(false);
          startedAt.set(list, time);
        };
        const end = (): void => {
          const list = state.lookUps.inFlight;
          if (list === undefined) return;
          ended.add(list);
          const next = endLookUpList(state, list);
          if (next !== undefined) start(next);
        };
        for (const event of events) {
          time += 1;
          if (event === 'ask') {
            const ticket = askLookUpList(state);
            if (ticket.start) start(ticket.list);
            expect(ended.has(ticket.list)).toBe(false);
            asks.push({ at: time, list: ticket.list });
          } else {
            end();
          }
          // At most one list on the wire, and asks wait for at most one more.
          const { inFlight, pending } = state.lookUps;
          if (inFlight === undefined) expect(pending).toBe(false);
          const open = [...startedAt.keys()].filter((l) => !ended.has(l));
          expect(open).toEqual(inFlight === undefined ? [] : [inFlight]);
          expect(new Set(asks.filter((a) => !ended.has(a.list)).map((a) => a.list)).size).toBeLessThanOrEqual(2);
        }
        // Drain: every list asked for starts and ends.
        while (state.lookUps.inFlight !== undefined) {
          time += 1;
          end();
        }
        for (const ask of asks) {
          const at = startedAt.get(ask.list);
          expect(at).toBeDefined();
          expect(at!).toBeGreaterThanOrEqual(ask.at);
          expect(ended.has(ask.list)).toBe(true);
        }
        expect(startedAt.size).toBeLessThanOrEqual(asks.length);
        expect(state.lookUps.started).toBe(startedAt.size);
      }),
      { numRuns: 500 },
    );
  });
});

describe('listed: numbered lists and look-up lists applied to the loop', () => {
  it('a look-up list’s changes are emitted by the running loop, and its status and backoff are untouched', () => {
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });
    stepKubernetesCollector(state, { type: 'started' });
    stepKubernetesCollector(state, { type: 'listed', list: list([{ uid: 'a', rv: 1, bad: false }]), forLoop: true, number: 1 });
    stepKubernetesCollector(state, { type: 'listFailed', partial: false });
    stepKubernetesCollector(state, { type: 'loopFailed', reason: failure() });
    const found = list([{ uid: 'a', rv: 1, bad: false }, { uid: 'b', rv: 1, bad: false }]);
    const out = stepKubernetesCollector(state, { type: 'listed', list: found, forLoop: false, applyToLoop: true, number: 3 });
    expect(entities(out)).toEqual(['+kubernetes_pod_uid://b', '+container_id://b1c']);
    expect(state.status).toMatchObject({ status: 'retrying', attempt: 1 });
    // The loop's next list shows the same pods: nothing again.
    expect(stepKubernetesCollector(state, { type: 'listed', list: list([{ uid: 'a', rv: 1, bad: false }, { uid: 'b', rv: 1, bad: false }]), forLoop: true, number: 4 })).toEqual([]);
    expect(state.status).toEqual({ status: 'connected', pods: 2 });
    // The answer of the look-up is the very TagInfos the loop emitted.
    expect(podTagInfos(state, found, 'container_id://b1c')).toEqual(out);
  });

  it('a list that started before the one applied neither changes the loop nor replaces last', () => {
    const state = createKubernetesCollectorState({ source: 'kubernetes', backoff: BACKOFF, extract: reader().extract });
    stepKubernetesCollector(state, { type: 'started' });
    const newer = list([{ uid: 'a', rv: 1, bad: false }, { uid: 'b', rv: 1, bad: false }]);
    stepKubernetesCollector(state, { type: 'listed', list: newer, forLoop: false, applyToLoop: true, number: 2 });
    // The loop's list 1, slower, ends after: it predates pod b, which must not be deleted.
    expect(stepKubernetesCollector(state, { type: 'listed', list: list([{ uid: 'a', rv: 1, bad: false }]), forLoop: true, number: 1 })).toEqual([]);
    expect(state.last).toBe(newer);
    expect(state.status).toEqual({ status: 'connected', pods: 1 });
    expect(loopTagInfos(state)).toHaveLength(4);
  });
});
