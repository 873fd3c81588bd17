import type { Entry, EntryKind, KubeObject } from './entry.js';
import { toEntry } from './entry.js';
import { MissingUidError } from './errors.js';

/**
 * What a reader remembers of one live object.
 *
 * @example
 * ```ts
 * state.known.get(uid)?.resourceVersion;
 * ```
 */
export interface KnownObject {
  readonly resourceVersion: string;
  readonly generation: number | undefined;
  /** The last state seen: sent as the object of the `delete` when a relist no longer shows it. */
  readonly object: KubeObject;
}

/**
 * The memory of a reader: the live objects by uid, the uids deleted since the last list (a uid is
 * never reused, so later events for them are stale), and the resourceVersion the watch resumes
 * from (`undefined`: a list is needed first). Owned by one reader and updated in place by the
 * functions below; never handed out.
 *
 * @example
 * ```ts
 * const state: ReaderState = newReaderState();
 * ```
 */
export interface ReaderState {
  readonly known: Map<string, KnownObject>;
  readonly deleted: Map<string, string>;
  resourceVersion: string | undefined;
}

/**
 * A fresh reader state: nothing known, a list needed.
 *
 * @example
 * ```ts
 * const state = newReaderState();
 * state.resourceVersion; // undefined
 * ```
 */
export function newReaderState(): ReaderState {
  return { known: new Map(), deleted: new Map(), resourceVersion: undefined };
}

const NUMERIC = /^\d+$/;

/**
 * Orders two resourceVersions when both are decimal integers (as etcd-backed servers give them):
 * negative, zero or positive; `undefined` when they cannot be compared (opaque values).
 *
 * @example
 * ```ts
 * compareResourceVersions('99', '100'); // < 0
 * compareResourceVersions('abc', '100'); // undefined
 * ```
 */
export function compareResourceVersions(a: string, b: string): number | undefined {
  if (!NUMERIC.test(a) || !NUMERIC.test(b)) return a === b ? 0 : undefined;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

const versionOf = (object: KubeObject): { rv: string; generation: number | undefined } => ({
  rv: object.metadata?.resourceVersion ?? '',
  generation: typeof object.metadata?.generation === 'number' ? object.metadata.generation : undefined,
});

/** Whether an object is older than what is known: a lower resourceVersion, or a lower generation. */
function olderThanKnown(known: KnownObject, rv: string, generation: number | undefined): boolean {
  const byRv = compareResourceVersions(rv, known.resourceVersion);
  if (byRv !== undefined && byRv < 0) return true;
  return generation !== undefined && known.generation !== undefined && generation < known.generation;
}

/**
 * The outcome of one watch event or list item.
 *
 * @example
 * ```ts
 * const out = applyWatchEvent(state, 'pod', 'ADDED', pod, 'kubernetes', Date.now());
 * if (out !== 'stale' && out !== 'unchanged' && !(out instanceof MissingUidError)) emit(out);
 * ```
 */
export type Applied = Entry | MissingUidError | 'stale' | 'unchanged';

/**
 * Applies one watch event to the state and says what to emit: an entry (`add` for an unknown
 * object, `update` for a known one, `delete`), `'stale'` for an event older than what is known
 * (a lower resourceVersion or generation, a repeat of the same resourceVersion, or any event of a
 * deleted uid), or a MissingUidError. Moves the resume point to the event's resourceVersion.
 *
 * @example
 * ```ts
 * applyWatchEvent(state, 'pod', 'MODIFIED', pod, 'kubernetes', Date.now()); // { change: 'update', ... }
 * ```
 */
export function applyWatchEvent(
  state: ReaderState,
  kind: EntryKind,
  type: 'ADDED' | 'MODIFIED' | 'DELETED',
  object: KubeObject,
  source: string,
  now: number,
): Applied {
  const { rv, generation } = versionOf(object);
  const known = state.known.get(object.metadata?.uid ?? '');
  const uid = object.metadata?.uid;
  if (uid !== undefined && uid !== '') {
    if (state.deleted.has(uid)) return 'stale';
    if (known !== undefined && (olderThanKnown(known, rv, generation) || rv === known.resourceVersion)) return 'stale';
  }
  const change = type === 'DELETED' ? 'delete' : known === undefined ? 'add' : 'update';
  const entry = toEntry(kind, change, object, source, now);
  if (entry instanceof MissingUidError) return entry;
  if (rv !== '') state.resourceVersion = rv;
  if (change === 'delete') {
    state.known.delete(entry.uid);
    state.deleted.set(entry.uid, rv);
  } else {
    state.known.set(entry.uid, { resourceVersion: rv, generation, object });
  }
  return entry;
}

/**
 * Applies one item of a list. In `sync` mode (the first list, a relist after 410 Gone) an unknown
 * object is an `add`, a changed one an `update`, an unchanged one `'unchanged'`; in `snapshot` mode
 * (a resync) every object is a `snapshot`. An item older than what is known is `'stale'`. The uid
 * is added to `seen`, for {@link finishList}.
 *
 * @example
 * ```ts
 * const seen = new Set<string>();
 * for (const item of page.items) applyListItem(state, 'pod', item, 'sync', seen, 'kubernetes', now);
 * ```
 */
export function applyListItem(
  state: ReaderState,
  kind: EntryKind,
  object: KubeObject,
  mode: 'sync' | 'snapshot',
  seen: Set<string>,
  source: string,
  now: number,
): Applied {
  const { rv, generation } = versionOf(object);
  const uid = object.metadata?.uid ?? '';
  const known = state.known.get(uid);
  if (known !== undefined && olderThanKnown(known, rv, generation)) {
    seen.add(uid);
    return 'stale';
  }
  const change = mode === 'snapshot' ? 'snapshot' : known === undefined ? 'add' : 'update';
  const entry = toEntry(kind, change, object, source, now);
  if (entry instanceof MissingUidError) return entry;
  seen.add(uid);
  state.known.set(uid, { resourceVersion: rv, generation, object });
  if (mode === 'sync' && known !== undefined && known.resourceVersion === rv) return 'unchanged';
  return entry;
}

/**
 * Ends a complete list: every known object the list did not show is gone, and is returned as a
 * `delete` of its last known state; the watch resumes from the list's resourceVersion.
 *
 * @example
 * ```ts
 * const deletes = finishList(state, 'pod', seen, list.metadata.resourceVersion, 'kubernetes', now);
 * ```
 */
export function finishList(
  state: ReaderState,
  kind: EntryKind,
  seen: ReadonlySet<string>,
  listResourceVersion: string,
  source: string,
  now: number,
): Entry[] {
  const deletes: Entry[] = [];
  for (const [uid, known] of state.known) {
    if (seen.has(uid)) continue;
    state.known.delete(uid);
    deletes.push({ uid, kind, change: 'delete', object: known.object, source, observedAt: now });
  }
  state.deleted.clear();
  state.resourceVersion = listResourceVersion;
  return deletes;
}
