import { sameArray } from '../../util/arrays.js';
import { containerId } from '../../tagger/entity-id.js';
import { deleteEntityInfo } from '../../tagger/stream-collector.js';
import type { TagInfo } from '../../tagger/types.js';

/**
 * The container events the Docker collector follows.
 *
 * @example
 * ```ts
 * const action: ContainerAction = 'rename';
 * ```
 */
export type ContainerAction = 'start' | 'die' | 'destroy' | 'rename';

/**
 * What the reconciler is told: the event stream opened, a container event, the answer of the
 * list of running containers, or the answer of one inspect it asked for.
 *
 * @example
 * ```ts
 * const input: ReconcileInput = { type: 'event', action: 'start', id: '5c53…' };
 * ```
 */
export type ReconcileInput =
  /** The event stream (re)opened; a list has been asked for. */
  | { readonly type: 'connected' }
  | { readonly type: 'event'; readonly action: ContainerAction; readonly id: string }
  /** The ids of the running containers, as the list asked for at `connected` answered. */
  | { readonly type: 'listed'; readonly ids: readonly string[] }
  /** The answer of the inspect `seq`: the container's TagInfo, or `undefined` when it is gone or not running. */
  | { readonly type: 'inspected'; readonly id: string; readonly seq: number; readonly info: TagInfo | undefined }
  /** The inspect `seq` failed for good (the daemon did not answer, its retries too): what is known of the container stays. */
  | { readonly type: 'inspectFailed'; readonly id: string; readonly seq: number }
  /** A look-up outside the stream (`fetch`) found the running container and gave its tags to someone. */
  | { readonly type: 'fetched'; readonly id: string };

/**
 * Why the reconciler emits a TagInfo: an inspect answered (`tags`); the container died or was
 * destroyed; it is missing from a relist (`vanished`); an inspect found it gone or stopped (`gone`).
 *
 * @example
 * ```ts
 * const reason: EmitReason = 'vanished';
 * ```
 */
export type EmitReason = 'tags' | 'died' | 'destroyed' | 'vanished' | 'gone';

/**
 * What the reconciler asks for: inspect a container (answer with an `inspected` input carrying
 * the same `seq`), or emit a TagInfo downstream.
 *
 * @example
 * ```ts
 * for (const output of reconcile(state, input)) {
 *   if (output.type === 'emit') subscriber.next(output.info);
 * }
 * ```
 */
export type ReconcileOutput =
  | { readonly type: 'inspect'; readonly id: string; readonly seq: number }
  | { readonly type: 'emit'; readonly info: TagInfo; readonly reason: EmitReason };

/**
 * The reconciler's state: owned by one collector subscription and updated in place by
 * {@link reconcile}; never handed out.
 *
 * @example
 * ```ts
 * const state: ReconcileState = createReconcileState('docker');
 * ```
 */
export interface ReconcileState {
  readonly source: string;
  /** Container id -> the TagInfo last emitted for it (the containers believed running). */
  readonly known: Map<string, TagInfo>;
  /** Container id -> the `seq` of the latest inspect asked for it and not answered yet (retries included). */
  readonly pending: Map<string, number>;
  /**
   * Containers whose tags a `fetch` handed out before the stream knew them: a relist that no
   * longer shows one deletes it too.
   */
  readonly fetched: Set<string>;
  /** The last `seq` given out. */
  seq: number;
  /**
   * While a list is awaited: the containers an event touched since the stream opened. Those
   * events are at least as recent as the list, so they, not the list, decide for them.
   */
  touched: Set<string> | undefined;
}

/**
 * A fresh reconciler state for `source`.
 *
 * @example
 * ```ts
 * const state = createReconcileState('docker');
 * reconcile(state, { type: 'connected' });
 * ```
 */
export function createReconcileState(source: string): ReconcileState {
  return { source, known: new Map(), pending: new Map(), fetched: new Set(), seq: 0, touched: undefined };
}

/**
 * True while the inspect `seq` of container `id` is the latest asked for it: an answer that is
 * not current is dropped by {@link reconcile}, so an inspect may be skipped when it is not.
 *
 * @example
 * ```ts
 * if (!isCurrentInspect(state, id, seq)) return EMPTY; // a later event superseded it
 * ```
 */
export function isCurrentInspect(state: ReconcileState, id: string, seq: number): boolean {
  return state.pending.get(id) === seq;
}

function sameTags(a: TagInfo, b: TagInfo): boolean {
  return (
    sameArray(a.lowCardTags, b.lowCardTags) &&
    sameArray(a.orchestratorCardTags, b.orchestratorCardTags) &&
    sameArray(a.highCardTags, b.highCardTags)
  );
}

function inspect(state: ReconcileState, id: string): ReconcileOutput {
  state.seq += 1;
  state.pending.set(id, state.seq);
  return { type: 'inspect', id, seq: state.seq };
}

function remove(state: ReconcileState, id: string, reason: EmitReason): ReconcileOutput {
  state.pending.delete(id);
  state.fetched.delete(id);
  state.known.delete(id);
  return { type: 'emit', info: deleteEntityInfo(containerId(id), state.source), reason };
}

/**
 * One step of the Docker collector's reconciliation: updates `state` in place and says what to
 * do next. A function of its inputs alone; no IO.
 *
 * - `connected`: forget the inspects of the previous connection (an answer to one is dropped).
 * - `start` / `rename`: inspect the container (a later event for it makes the answer stale).
 * - `die`: delete the entity (always: tags may also have come from a fetch on miss).
 * - `destroy`: delete the entity when it is known or being inspected (a `die` came first otherwise).
 * - `listed`: inspect every listed container, and delete every known one that is missing —
 *   except the containers an event touched since the stream opened: their events decide.
 * - `inspected`: emit the TagInfo when the answer is current and changed; when the container is
 *   gone or stopped, delete it if it was known.
 * - `inspectFailed`: forget the inspect (the collector sends it once its retries are exhausted);
 *   what was known of the container stays until a later event or relist inspects it again.
 * - `fetched`: remember a container whose tags a look-up handed out, so that a relist that no
 *   longer shows it deletes it (a `die` or `destroy` does too).
 *
 * @example
 * ```ts
 * const state = createReconcileState('docker');
 * reconcile(state, { type: 'connected' });                  // []
 * reconcile(state, { type: 'listed', ids: ['a'] });         // [{ type: 'inspect', id: 'a', seq: 1 }]
 * reconcile(state, { type: 'inspected', id: 'a', seq: 1, info }); // [{ type: 'emit', info, reason: 'tags' }]
 * reconcile(state, { type: 'event', action: 'die', id: 'a' });    // [{ type: 'emit', info: <delete a> , reason: 'died' }]
 * ```
 */
export function reconcile(state: ReconcileState, input: ReconcileInput): ReconcileOutput[] {
  switch (input.type) {
    case 'connected':
      // The inspects of the previous connection are cancelled or stale: the relist asks again.
      state.pending.clear();
      state.touched = new Set();
      return [];
    case 'event': {
      state.touched?.add(input.id);
      switch (input.action) {
        case 'start':
        case 'rename':
          return [inspect(state, input.id)];
        case 'die':
          return [remove(state, input.id, 'died')];
        case 'destroy':
          return state.known.has(input.id) || state.pending.has(input.id) || state.fetched.has(input.id)
            ? [remove(state, input.id, 'destroyed')]
            : [];
      }
      break;
    }
    case 'listed': {
      const touched = state.touched;
      if (touched === undefined) return [];
      state.touched = undefined;
      const outputs: ReconcileOutput[] = [];
      const listed = new Set(input.ids);
      for (const id of [...state.known.keys(), ...state.fetched]) {
        if (!listed.has(id) && !touched.has(id)) outputs.push(remove(state, id, 'vanished'));
      }
      for (const id of listed) {
        if (!touched.has(id)) outputs.push(inspect(state, id));
      }
      return outputs;
    }
    case 'inspected': {
      if (!isCurrentInspect(state, input.id, input.seq)) return [];
      state.pending.delete(input.id);
      state.fetched.delete(input.id);
      if (input.info === undefined) return state.known.has(input.id) ? [remove(state, input.id, 'gone')] : [];
      const before = state.known.get(input.id);
      state.known.set(input.id, input.info);
      return before !== undefined && sameTags(before, input.info) ? [] : [{ type: 'emit', info: input.info, reason: 'tags' }];
    }
    case 'inspectFailed':
      if (isCurrentInspect(state, input.id, input.seq)) state.pending.delete(input.id);
      return [];
    case 'fetched':
      if (!state.known.has(input.id)) state.fetched.add(input.id);
      return [];
  }
  return [];
}
