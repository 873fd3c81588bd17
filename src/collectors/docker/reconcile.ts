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
 * The default grace of a stopped container: how long its tags are kept after it stopped (5
 * minutes: time for a log pipeline to read its last lines, or for a restart policy to start it again).
 *
 * @example
 * ```ts
 * const state = createReconcileState('docker', DEFAULT_STOPPED_GRACE);
 * ```
 */
export const DEFAULT_STOPPED_GRACE = 300_000;

/**
 * What the reconciler is told: the event stream opened, a container event, the answer of the
 * list of containers, the answer of one inspect it asked for, or the end of a grace it started.
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
  /**
   * The answer of the list asked for at `connected`: the ids of the running containers, and of
   * those that exist but do not run (`stopped`; omitted: none).
   */
  | { readonly type: 'listed'; readonly ids: readonly string[]; readonly stopped?: readonly string[] }
  /**
   * The answer of the inspect `seq`: the container's TagInfo, or `undefined` when it is gone or
   * stopped for longer than the grace. `graceLeft` is set when it is stopped: how long (ms) its
   * grace has left, counted from when it stopped.
   */
  | {
      readonly type: 'inspected';
      readonly id: string;
      readonly seq: number;
      readonly info: TagInfo | undefined;
      readonly graceLeft?: number | undefined;
    }
  /** The inspect `seq` failed for good (the daemon did not answer, its retries too): what is known of the container stays. */
  | { readonly type: 'inspectFailed'; readonly id: string; readonly seq: number }
  /**
   * A look-up outside the stream (`fetch`) found the container and gave its tags to someone;
   * `graceLeft` is set when it is stopped (see `inspected`).
   */
  | { readonly type: 'fetched'; readonly id: string; readonly graceLeft?: number | undefined }
  /** The grace `seq` asked for by a `grace` output ran out. */
  | { readonly type: 'graceEnded'; readonly id: string; readonly seq: number };

/**
 * Why the reconciler emits a TagInfo: an inspect answered (`tags`); the container was destroyed;
 * its grace ran out after it stopped (`expired`); it is missing from a relist (`vanished`); an
 * inspect found it gone, or stopped for longer than the grace (`gone`). A `die` emits nothing.
 *
 * @example
 * ```ts
 * const reason: EmitReason = 'vanished';
 * ```
 */
export type EmitReason = 'tags' | 'destroyed' | 'expired' | 'vanished' | 'gone';

/**
 * What the reconciler asks for: inspect a container (answer with an `inspected` input carrying
 * the same `seq`), emit a TagInfo downstream, or wait `delayMs` — the grace of a stopped
 * container — then send a `graceEnded` input carrying the same `seq` (one that a `start` or a
 * later grace superseded is dropped, so a timer need not be cancelled).
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
  | { readonly type: 'emit'; readonly info: TagInfo; readonly reason: EmitReason }
  | { readonly type: 'grace'; readonly id: string; readonly seq: number; readonly delayMs: number };

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
  /** How long (ms) a stopped container keeps its tags. */
  readonly grace: number;
  /** Container id -> the TagInfo last emitted for it (running, or stopped within its grace). */
  readonly known: Map<string, TagInfo>;
  /** Container id -> the `seq` of the latest inspect asked for it and not answered yet (retries included). */
  readonly pending: Map<string, number>;
  /**
   * Containers whose tags a `fetch` handed out before the stream knew them: a relist that no
   * longer shows one deletes it too.
   */
  readonly fetched: Set<string>;
  /**
   * Container id -> the `seq` of its current grace: the containers that stopped and have not
   * started again. Each `die` starts one, tagged or not (a fetch may hand its tags out later).
   */
  readonly stopped: Map<string, number>;
  /** The last `seq` given out (inspects and graces). */
  seq: number;
  /**
   * While a list is awaited: the containers an event touched since the stream opened. Those
   * events are at least as recent as the list, so they, not the list, decide for them.
   */
  touched: Set<string> | undefined;
}

/**
 * A fresh reconciler state for `source`, whose stopped containers keep their tags for `grace` ms.
 *
 * @example
 * ```ts
 * const state = createReconcileState('docker', 60_000);
 * reconcile(state, { type: 'connected' });
 * ```
 */
export function createReconcileState(source: string, grace: number = DEFAULT_STOPPED_GRACE): ReconcileState {
  return { source, grace, known: new Map(), pending: new Map(), fetched: new Set(), stopped: new Map(), seq: 0, touched: undefined };
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
  state.stopped.delete(id);
  return { type: 'emit', info: deleteEntityInfo(containerId(id), state.source), reason };
}

/** Starts (or restarts) the grace of a stopped container: it ends `delayMs` from now. */
function startGrace(state: ReconcileState, id: string, delayMs: number): ReconcileOutput {
  state.seq += 1;
  state.stopped.set(id, state.seq);
  return { type: 'grace', id, seq: state.seq, delayMs: Math.max(0, delayMs) };
}

/** True when the tags of `id` may be stored downstream (or soon will be): a delete is due for it when it goes. */
function tagged(state: ReconcileState, id: string): boolean {
  return state.known.has(id) || state.pending.has(id) || state.fetched.has(id);
}

/**
 * One step of the Docker collector's reconciliation: updates `state` in place and says what to
 * do next. A function of its inputs alone; no IO.
 *
 * Docker keeps a container's id across `restart` and stop/start, so a `die` deletes nothing: the
 * container is stopped, and keeps its tags for the grace (`state.grace`); a `start` within it
 * cancels the grace; `destroy`, or the end of the grace, deletes.
 *
 * - `connected`: forget the inspects of the previous connection (an answer to one is dropped).
 *   Graces go on.
 * - `start`: cancel the grace, if any, and inspect the container (a later event for it makes the
 *   answer stale). `rename`: inspect it.
 * - `die`: start the grace (always: tags may also come from a fetch on miss, or from an inspect
 *   still in flight, which is not cancelled — a short-lived container's tags still arrive).
 * - `destroy`: delete the entity when its tags may be stored (known, being inspected, or fetched).
 * - `graceEnded`: when it is the container's current grace, delete the entity if its tags may be
 *   stored.
 * - `listed`: inspect every running container (cancelling its grace), start the grace of every
 *   tagged one listed as stopped that has none, and delete every tagged one that is not listed at
 *   all — except the containers an event touched since the stream opened: their events decide.
 * - `inspected`: emit the TagInfo when the answer is current and changed, and start the grace of
 *   a container found stopped that has none; when it is gone (or stopped for longer than the
 *   grace), delete it if it was tagged.
 * - `inspectFailed`: forget the inspect (the collector sends it once its retries are exhausted);
 *   what was known of the container stays until a later event or relist inspects it again.
 * - `fetched`: remember a container whose tags a look-up handed out, so that a relist that no
 *   longer shows it, a `destroy` or the end of its grace deletes it; a stopped one starts its grace.
 *
 * @example
 * ```ts
 * const state = createReconcileState('docker');
 * reconcile(state, { type: 'connected' });                  // []
 * reconcile(state, { type: 'listed', ids: ['a'] });         // [{ type: 'inspect', id: 'a', seq: 1 }]
 * reconcile(state, { type: 'inspected', id: 'a', seq: 1, info }); // [{ type: 'emit', info, reason: 'tags' }]
 * reconcile(state, { type: 'event', action: 'die', id: 'a' });    // [{ type: 'grace', id: 'a', seq: 2, delayMs: 300000 }]
 * reconcile(state, { type: 'graceEnded', id: 'a', seq: 2 });      // [{ type: 'emit', info: <delete a>, reason: 'expired' }]
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
          state.stopped.delete(input.id);
          return [inspect(state, input.id)];
        case 'rename':
          return [inspect(state, input.id)];
        case 'die':
          return [startGrace(state, input.id, state.grace)];
        case 'destroy':
          if (tagged(state, input.id)) return [remove(state, input.id, 'destroyed')];
          state.stopped.delete(input.id);
          return [];
      }
      break;
    }
    case 'graceEnded':
      if (state.stopped.get(input.id) !== input.seq) return [];
      if (tagged(state, input.id)) return [remove(state, input.id, 'expired')];
      state.stopped.delete(input.id);
      return [];
    case 'listed': {
      const touched = state.touched;
      if (touched === undefined) return [];
      state.touched = undefined;
      const outputs: ReconcileOutput[] = [];
      const listed = new Set(input.ids);
      const stopped = new Set(input.stopped);
      for (const id of new Set([...state.known.keys(), ...state.fetched, ...state.stopped.keys()])) {
        if (listed.has(id) || stopped.has(id) || touched.has(id)) continue;
        if (tagged(state, id)) outputs.push(remove(state, id, 'vanished'));
        else state.stopped.delete(id);
      }
      for (const id of stopped) {
        if (!touched.has(id) && tagged(state, id) && !state.stopped.has(id)) outputs.push(startGrace(state, id, state.grace));
      }
      for (const id of listed) {
        if (touched.has(id)) continue;
        state.stopped.delete(id);
        outputs.push(inspect(state, id));
      }
      return outputs;
    }
    case 'inspected': {
      if (!isCurrentInspect(state, input.id, input.seq)) return [];
      if (input.info === undefined) {
        if (state.known.has(input.id) || state.fetched.has(input.id)) return [remove(state, input.id, 'gone')];
        state.pending.delete(input.id);
        state.stopped.delete(input.id);
        return [];
      }
      state.pending.delete(input.id);
      state.fetched.delete(input.id);
      const before = state.known.get(input.id);
      state.known.set(input.id, input.info);
      const outputs: ReconcileOutput[] =
        before !== undefined && sameTags(before, input.info) ? [] : [{ type: 'emit', info: input.info, reason: 'tags' }];
      if (input.graceLeft !== undefined && !state.stopped.has(input.id)) outputs.push(startGrace(state, input.id, input.graceLeft));
      return outputs;
    }
    case 'inspectFailed':
      if (isCurrentInspect(state, input.id, input.seq)) state.pending.delete(input.id);
      return [];
    case 'fetched':
      // During a relist the list may predate this fetch's inspect: as for an event, the list does
      // not decide for this container (the open event stream reports what happens to it next).
      state.touched?.add(input.id);
      if (!state.known.has(input.id)) state.fetched.add(input.id);
      return input.graceLeft !== undefined && !state.stopped.has(input.id) ? [startGrace(state, input.id, input.graceLeft)] : [];
  }
  return [];
}
